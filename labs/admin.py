"""Labs are edited in their pack (load_course), so the admin shows them without letting them drift from it;
sandboxes, checks and playgrounds are records of what happened: read-only, searchable. A playground's disk is
started fresh by its learner and deleted by the reaper, never from here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from labs.models import DockerHost, Lab, LabTask, Playground, Sandbox, SolutionView, Submission


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record: it can be looked at, never added or changed by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LabTaskInline(admin.TabularInline):
    model = LabTask
    fields = ("position", "slug", "title", "check_name", "is_published")
    readonly_fields = ("slug", "title", "check_name")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "chapter", "position", "minutes", "is_published")
    list_filter = ("course", "chapter", "is_published")
    search_fields = ("title", "slug")
    # Only publication is decided here; the rest comes from the pack.
    fields = ("title", "slug", "course", "chapter", "position", "minutes", "summary", "source_path", "setup", "is_published", "updated_at")
    readonly_fields = ("title", "slug", "course", "chapter", "position", "minutes", "summary", "source_path", "setup", "updated_at")
    inlines = [LabTaskInline]

    def has_add_permission(self, request):
        return False


class IsPlaygroundFilter(admin.SimpleListFilter):
    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("lab", _("lab")), ("playground", _("playground"))]

    def queryset(self, request, queryset):
        if self.value() == "lab":
            return queryset.filter(playground__isnull=True)
        if self.value() == "playground":
            return queryset.filter(playground__isnull=False)
        return queryset


@admin.register(Sandbox)
class SandboxAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "owner", "lab", "playground", "host", "status", "requested_at", "ready_at", "ended_at", "expires_at")
    list_filter = ("status", IsPlaygroundFilter, "host", "lab")
    search_fields = ("owner__username", "lab__title", "failure", "failure_detail")
    date_hierarchy = "requested_at"
    list_select_related = ("owner", "lab", "playground", "host")


class PlaygroundSandboxInline(admin.TabularInline):
    """The sandboxes that ran on the playground's disks, newest first."""

    model = Sandbox
    fields = ("status", "requested_at", "ready_at", "ended_at", "failure", "failure_detail")
    readonly_fields = fields
    ordering = ("-requested_at",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("sandboxes run on it")


@admin.register(Playground)
class PlaygroundAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "owner", "generation", "has_storage", "last_used_at", "storage_expires_at", "created_at")
    list_filter = ("has_storage",)
    search_fields = ("owner__username", "owner__email")
    date_hierarchy = "last_used_at"
    list_select_related = ("owner",)
    fields = ("owner", "generation", "has_storage", "created_at", "last_used_at", "storage_expires_at", "disk_path")
    readonly_fields = fields
    inlines = [PlaygroundSandboxInline]

    @admin.display(description=_("storage kept until"))
    def storage_expires_at(self, playground):
        return playground.storage_expires_at

    @admin.display(description=_("disk on the host"))
    def disk_path(self, playground):
        return playground.disk_path


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ("task", "user", "status", "automatic", "created_at", "graded_at")
    list_filter = ("status", "automatic", "task__lab")
    search_fields = ("user__username", "task__title", "message", "answer")
    date_hierarchy = "created_at"
    list_select_related = ("task", "user", "sandbox")


@admin.register(SolutionView)
class SolutionViewAdmin(ReadOnlyAdmin):
    list_display = ("task", "user", "seen_at")
    list_filter = ("task__lab",)
    search_fields = ("user__username", "task__title")
    date_hierarchy = "seen_at"
    list_select_related = ("task", "user")


@admin.register(DockerHost)
class DockerHostAdmin(admin.ModelAdmin):
    """Hosts are added and drained here or with manage.py docker_hosts; heartbeats are their workers' to write."""

    list_display = ("name", "state", "engine_url", "capacity", "last_heartbeat", "memory_available_mb")
    list_filter = ("state",)
    fields = ("name", "engine_url", "capacity", "state", "last_heartbeat", "memory_available_mb", "state_changed_at", "created_at")
    readonly_fields = ("last_heartbeat", "memory_available_mb", "state_changed_at", "created_at")

    def has_delete_permission(self, request, obj=None):
        # Its sandboxes' rows name it (PROTECT): a host is drained, not deleted.
        return False
