from django.contrib import admin

from courses.models import Chapter, Course, CourseAsset, Lesson, LessonProgress


class ChapterInline(admin.TabularInline):
    model = Chapter
    fields = ("position", "slug", "title", "is_published")
    extra = 0
    show_change_link = True


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "language", "is_published", "updated_at")
    list_filter = ("language", "is_published")
    search_fields = ("title", "slug")
    inlines = [ChapterInline]


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "position", "is_published")
    list_filter = ("course", "is_published")


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "chapter", "position", "minutes", "is_published")
    list_filter = ("course", "chapter", "is_published")
    search_fields = ("title", "slug", "body_markdown")
    readonly_fields = ("source_path", "body_html", "toc", "updated_at")


@admin.register(CourseAsset)
class CourseAssetAdmin(admin.ModelAdmin):
    list_display = ("path", "course", "content_type")
    exclude = ("content",)
    readonly_fields = ("sha256",)


@admin.register(LessonProgress)
class LessonProgressAdmin(admin.ModelAdmin):
    list_display = ("user", "lesson", "read_at")
    list_filter = ("lesson__course",)
    search_fields = ("user__username", "lesson__title")
    raw_id_fields = ("user", "lesson")
