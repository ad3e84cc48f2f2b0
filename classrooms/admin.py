from django.contrib import admin

from classrooms.models import Classroom, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "owner", "join_code", "is_archived", "created_at")
    list_filter = ("is_archived", "course")
    search_fields = ("title", "join_code", "owner__username")
    raw_id_fields = ("owner",)
    inlines = [MembershipInline]
