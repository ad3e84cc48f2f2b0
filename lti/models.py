"""LTI 1.3: the platforms (Moodle, Canvas…) that launch Drydock, the tool's keys, launches and the score outbox."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Platform(models.Model):
    """An LMS registered by an admin: what it told us (issuer, client id, its URLs) when Drydock was added to it."""

    name = models.CharField(max_length=200)
    issuer = models.URLField(max_length=255, help_text=_("The platform's issuer (iss), e.g. https://moodle.example.org"))
    client_id = models.CharField(max_length=255, help_text=_("The client id the platform gave this tool."))
    auth_login_url = models.URLField(max_length=500, help_text=_("Authentication request URL (OIDC authorization endpoint)."))
    token_url = models.URLField(max_length=500, help_text=_("Access token URL (OAuth 2 token endpoint)."))
    keyset_url = models.URLField(max_length=500, help_text=_("The platform's public keyset URL (JWKS)."))
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_unique_client")]
        verbose_name = _("LTI platform")
        verbose_name_plural = _("LTI platforms")

    def __str__(self):
        return f"{self.name} ({self.issuer})"


class Deployment(models.Model):
    """One deployment id of the tool on a platform (Moodle: one per tool; Canvas: one per install)."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["platform", "deployment_id"]
        constraints = [models.UniqueConstraint(fields=["platform", "deployment_id"], name="lti_deployment_unique")]
        verbose_name = _("LTI deployment")
        verbose_name_plural = _("LTI deployments")

    def __str__(self):
        return self.deployment_id


class ToolKey(models.Model):
    """One RSA key pair of the tool. The newest unretired one signs; retired ones stay in the JWKS for a while."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("tool key")
        verbose_name_plural = _("tool keys")

    def __str__(self):
        return self.kid


class LoginState(models.Model):
    """An OIDC login initiation: the state and nonce sent to the platform, used once by the launch that follows."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="login_states")
    state = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64, unique=True)
    login_hint = models.CharField(max_length=1000)
    lti_message_hint = models.CharField(max_length=2000, blank=True)
    target_link_uri = models.CharField(max_length=1000, blank=True)
    deployment_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return self.state


class LtiUser(models.Model):
    """A platform's user (its `sub`) linked to a Drydock account: matched by (platform, sub), never by email."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="users")
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_accounts")
    name = models.CharField(max_length=300, blank=True)
    email = models.EmailField(blank=True, help_text=_("As the platform last sent it; never used to find the account."))
    created_at = models.DateTimeField(auto_now_add=True)
    last_launch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "sub"], name="lti_user_unique_sub")]
        verbose_name = _("LTI account")
        verbose_name_plural = _("LTI accounts")

    def __str__(self):
        return f"{self.sub} @ {self.platform.name} → {self.user}"


class Context(models.Model):
    """A course of the LMS; its roster (NRPS) can fill a Drydock classroom."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="contexts")
    context_id = models.CharField(max_length=255)
    title = models.CharField(max_length=300, blank=True)
    memberships_url = models.URLField(max_length=1000, blank=True)
    classroom = models.OneToOneField("classrooms.Classroom", on_delete=models.SET_NULL, null=True, blank=True, related_name="lti_context")
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "context_id"], name="lti_context_unique")]
        verbose_name = _("LMS course")
        verbose_name_plural = _("LMS courses")

    def __str__(self):
        return self.title or self.context_id


class ResourceLink(models.Model):
    """An activity of the LMS pointing at a Drydock target, with the line item its scores go to."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="resource_links")
    context = models.ForeignKey(Context, on_delete=models.SET_NULL, null=True, blank=True, related_name="resource_links")
    resource_link_id = models.CharField(max_length=255)
    title = models.CharField(max_length=300, blank=True)
    # What it opens: "lab:<course>/<lab>", "quiz:…", "chapter:…", "lesson:…", "course:<course>" (lti/targets.py).
    target = models.CharField(max_length=300)
    lineitem_url = models.URLField(max_length=1000, blank=True)
    ags_scopes = models.JSONField(default=list)
    score_maximum = models.FloatField(default=100)
    users = models.ManyToManyField(LtiUser, through="Launch", related_name="resource_links")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deployment", "resource_link_id"], name="lti_resource_link_unique")]
        verbose_name = _("LMS activity")
        verbose_name_plural = _("LMS activities")

    def __str__(self):
        return self.title or self.resource_link_id

    @property
    def posts_scores(self):
        return bool(self.lineitem_url) and "https://purl.imsglobal.org/spec/lti-ags/scope/score" in self.ags_scopes


class Launch(models.Model):
    """A user launched a resource link (first and latest time), with the role they had."""

    resource_link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE, related_name="launches")
    lti_user = models.ForeignKey(LtiUser, on_delete=models.CASCADE, related_name="launches")
    is_instructor = models.BooleanField(default=False)
    first_at = models.DateTimeField(auto_now_add=True)
    last_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resource_link", "lti_user"], name="lti_launch_unique")]

    def __str__(self):
        return f"{self.lti_user} · {self.resource_link}"


class DeepLinkingRequest(models.Model):
    """A deep-linking launch waiting for the instructor to pick what to add; answered once."""

    token = models.CharField(max_length=64, unique=True)
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="deep_linking_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_deep_linking_requests")
    return_url = models.URLField(max_length=1000)
    data = models.CharField(max_length=2000, blank=True)
    accept_multiple = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.token


class Score(models.Model):
    """The outbox: one row per score to post to a line item, kept until the platform acknowledges it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENT = "sent", _("sent")
        SUPERSEDED = "superseded", _("replaced by a newer score")
        FAILED = "failed", _("refused by the platform")

    resource_link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE, related_name="scores")
    lti_user = models.ForeignKey(LtiUser, on_delete=models.CASCADE, related_name="scores")
    score_given = models.FloatField()
    score_maximum = models.FloatField()
    activity_progress = models.CharField(max_length=20)
    grading_progress = models.CharField(max_length=20, default="FullyGraded")
    # When the grade was made: every retry sends this same timestamp, so a platform never counts a retry twice.
    timestamp = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker posting it holds it until then (a conditional UPDATE claims it).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        verbose_name = _("score to post")
        verbose_name_plural = _("scores to post")

    def __str__(self):
        return f"{self.lti_user} · {self.resource_link} · {self.score_given}/{self.score_maximum} ({self.status})"
