from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from lti import queue
from lti.models import Context, Deployment, LtiUser, Platform, ResourceLink, Score, ToolKey


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 1
    fields = ["deployment_id"]


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "issuer", "client_id", "is_active", "deployment_ids"]
    list_filter = ["is_active"]
    search_fields = ["name", "issuer", "client_id"]
    inlines = [DeploymentInline]
    fieldsets = [
        (None, {"fields": ["name", "is_active"], "description": format_html(
            '{} <a href="{}">{}</a>', _("The URLs to paste into the platform are on"), "/lti/configuration/", _("the LTI set-up page"),
        )}),
        (_("What the platform gave"), {"fields": ["issuer", "client_id", "auth_login_url", "token_url", "keyset_url"]}),
    ]

    @admin.display(description=_("deployment ids"))
    def deployment_ids(self, platform):
        return ", ".join(d.deployment_id for d in platform.deployments.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deployments")


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin):
    """Read only: keys are made and rotated by `manage.py lti_keys --rotate`; the private half is never shown."""

    list_display = ["kid", "created_at", "retired_at"]
    fields = ["kid", "public_jwk", "created_at", "retired_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LtiUser)
class LtiUserAdmin(admin.ModelAdmin):
    list_display = ["sub", "platform", "user", "name", "last_launch_at"]
    list_filter = ["platform"]
    search_fields = ["sub", "user__username", "name"]
    raw_id_fields = ["user"]
    readonly_fields = ["platform", "sub", "created_at", "last_launch_at"]


@admin.register(Context)
class ContextAdmin(admin.ModelAdmin):
    list_display = ["title", "context_id", "platform", "classroom", "synced_at"]
    list_filter = ["platform"]
    readonly_fields = ["platform", "context_id", "memberships_url", "synced_at"]


@admin.register(ResourceLink)
class ResourceLinkAdmin(admin.ModelAdmin):
    list_display = ["title", "target", "deployment", "context", "score_maximum", "has_line_item"]
    search_fields = ["title", "target", "resource_link_id"]
    readonly_fields = ["deployment", "resource_link_id", "lineitem_url", "ags_scopes"]

    @admin.display(boolean=True, description=_("line item"))
    def has_line_item(self, link):
        return link.posts_scores


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["lti_user", "resource_link", "score_given", "score_maximum", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Score._meta.fields]
    actions = ["send_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send the selected pending scores now"))
    def send_now(self, request, queryset):
        pending = list(queryset.filter(status=Score.Status.PENDING).values_list("pk", flat=True))
        queryset.filter(pk__in=pending).update(next_attempt_at=timezone.now(), claimed_until=None)
        for pk in pending:
            queue.after_commit(queue.POST_SCORE, pk)
        self.message_user(request, _("%(count)s scores queued.") % {"count": len(pending)})


