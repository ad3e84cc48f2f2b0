from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from quizzes.models import Attempt, AttemptQuestion, Question, Quiz


class QuestionInline(admin.TabularInline):
    model = Question
    fields = ("position", "slug", "kind", "points", "source", "is_published")
    readonly_fields = ("slug", "kind", "source")
    extra = 0
    show_change_link = True
    ordering = ("position",)


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "chapter", "max_attempts", "grading", "time_limit_minutes", "pool_size", "is_published")
    list_filter = ("course", "is_published", "grading")
    search_fields = ("title", "slug")
    readonly_fields = ("source_path", "intro_html", "updated_at")
    fieldsets = (
        (None, {"fields": ("course", "chapter", "lesson", "slug", "title", "summary", "position", "is_published", "source_path")}),
        (_("Taking the quiz"), {"fields": ("max_attempts", "grading", "time_limit_minutes", "pool_size", "shuffle_questions", "shuffle_choices", "closes_at")}),
        (_("Review"), {"fields": ("review_when", "review_correct_answers", "review_feedback", "review_explanations")}),
    )
    inlines = [QuestionInline]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("slug", "quiz", "kind", "position", "points", "source", "is_published")
    list_filter = ("quiz__course", "quiz", "kind", "source", "is_published")
    search_fields = ("slug", "prompt_html")
    readonly_fields = ("updated_at",)


class AttemptQuestionInline(admin.TabularInline):
    model = AttemptQuestion
    fields = ("position", "question", "kind", "answer", "answered_at", "score")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ("quiz", "user", "number", "status", "started_at", "submitted_at", "score", "is_late")
    list_filter = ("quiz__course", "quiz", "status", "is_late")
    search_fields = ("user__username", "quiz__title")
    raw_id_fields = ("user",)
    readonly_fields = ("quiz", "user", "number", "seed", "status", "started_at", "deadline", "submitted_at", "is_late", "score")
    inlines = [AttemptQuestionInline]
