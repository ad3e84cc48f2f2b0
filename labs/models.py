import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from courses.models import Chapter, Course


class Lab(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="labs")
    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="labs")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    minutes = models.PositiveIntegerField()
    position = models.PositiveIntegerField(help_text=_("Order within its chapter."))
    source_path = models.CharField(max_length=300)
    instructions_markdown = models.TextField()
    instructions_html = models.TextField()
    # Steps run in a fresh sandbox before it is ready: [{"label": ..., "run": "shell"}, {"label": ..., "copy": ..., "to": ...}]
    setup = models.JSONField(default=list)
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "chapter__position", "position"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="lab_slug_unique_in_course")]
        verbose_name = _("lab")
        verbose_name_plural = _("labs")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("labs:lab", args=[self.course.slug, self.slug])


class LabFile(models.Model):
    """A folder of the pack copied into the sandbox by a setup step, kept as a tar archive."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="files")
    source = models.CharField(max_length=300, help_text=_("Folder in the pack."))
    archive = models.BinaryField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lab", "source"], name="lab_file_unique_source")]

    def __str__(self):
        return self.source


class LabTask(models.Model):
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="tasks")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    position = models.PositiveIntegerField()
    prompt_html = models.TextField()
    check_name = models.CharField(max_length=60)
    check_params = models.JSONField(default=dict)
    answer_label = models.CharField(max_length=200, blank=True, help_text=_("Label of the answer field; empty when the task takes no answer."))
    hint_html = models.TextField(blank=True)
    # The intended commands, offered once the hint shows (or the task passed); who opened it is recorded (SolutionView).
    solution_html = models.TextField(blank=True)
    # A pass is provisional: judged again on later events, when the lab is finished and when its sandbox ends
    # (labs/holding.py); a pass that no longer holds is undone by a REGRESSED Submission.
    must_hold = models.BooleanField(default=False)
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lab", "position"]
        constraints = [models.UniqueConstraint(fields=["lab", "slug"], name="task_slug_unique_in_lab")]
        verbose_name = _("lab task")
        verbose_name_plural = _("lab tasks")

    def __str__(self):
        return self.title


class SolutionView(models.Model):
    """A learner opened a task's solution: when first, shown to the instructor (one row per learner and task)."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="solution_views")
    task = models.ForeignKey(LabTask, on_delete=models.CASCADE, related_name="solution_views")
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "task"], name="one_solution_view_per_user_and_task")]
        verbose_name = _("solution seen")
        verbose_name_plural = _("solutions seen")

    def __str__(self):
        return f"{self.user_id} saw {self.task}"


def new_disk_key():
    return secrets.token_hex(8)


class Playground(models.Model):
    """A learner's free sandbox, without tasks, whose disk (Docker's storage and /root) outlives each sandbox run on it.

    The disk is an image file named after the playground and its generation: "start fresh" moves to the next
    generation, so the new sandbox never waits for the old disk, which the reaper deletes once nothing holds it.
    """

    owner = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="playground")
    generation = models.PositiveIntegerField(default=1)
    # In the disk's name: a database restored from a backup, or a test database numbering rows from 1 again,
    # never finds a disk that belonged to another learner.
    disk_key = models.CharField(max_length=32, default=new_disk_key, editable=False)
    # A sandbox was started on this generation's disk: there may be something of the learner's on it.
    has_storage = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Its last start or the end of its last sandbox: the retention counts from there.
    last_used_at = models.DateTimeField()

    class Meta:
        verbose_name = _("playground")
        verbose_name_plural = _("playgrounds")

    def __str__(self):
        return f"playground {self.pk} ({self.owner_id})"

    def get_absolute_url(self):
        return reverse("labs:playground")

    @property
    def disk_path(self):
        """Where this generation's disk is kept on the host."""
        return str(settings.PLAYGROUND_DISK_ROOT / f"{settings.SANDBOX_NAME_PREFIX}-playground-{self.pk}-{self.generation}-{self.disk_key}.img")

    @property
    def storage_expires_at(self):
        """When the reaper deletes the disk unless the learner uses it again (None without one)."""
        if not self.has_storage:
            return None
        return self.last_used_at + timedelta(days=settings.PLAYGROUND_RETENTION_DAYS)


DEFAULT_HOST_NAME = "local"


class DockerHost(models.Model):
    """A machine that runs sandboxes: its Docker engine, how many it takes, and whether it takes more.

    Its worker consumes its own queues (`grade.<name>`, `provision.<name>`, `housekeeping.<name>`,
    drydock/queues.py), talks to its engine and records a heartbeat; a host whose heartbeat stops
    is marked down and its sandboxes failed (labs/hosts.py). A single-machine install has one, "local",
    made by a migration (and again on demand), on settings.DOCKER_HOST.
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        DRAINING = "draining", _("draining")
        DOWN = "down", _("down")

    # In its queues' names: a slug without dots.
    name = models.SlugField(max_length=40, unique=True)
    # Empty: settings.DOCKER_HOST (the engine bin/drydock runs).
    engine_url = models.CharField(max_length=500, blank=True)
    # For an engine on tcp://: the folder of its CA and of the client's certificate and key (ca.pem, cert.pem,
    # key.pem, as Docker's DOCKER_CERT_PATH), at the same path on every machine that speaks to it (its workers,
    # the web's for the terminal and previews). Empty: no TLS (settings.DOCKER_CERT_PATH for the default host).
    tls_dir = models.CharField(max_length=500, blank=True)
    # Most sandboxes on it at once; empty: SANDBOX_MAX_PER_HOST.
    capacity = models.PositiveIntegerField(null=True, blank=True)
    # Its sandboxes' network, that network's bridge and the registry they pull through, when they are not the
    # settings' (a second engine on one machine needs its own bridge name: DESIGN.md); empty: SANDBOX_NETWORK,
    # SANDBOX_BRIDGE, SANDBOX_REGISTRY_MIRROR.
    network = models.CharField(max_length=100, blank=True)
    bridge = models.CharField(max_length=15, blank=True)
    registry_mirror = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    # Set by its worker (labs.host_heartbeat); NULL: it never beat, so it is never marked down for silence.
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    # MemAvailable of the host as its worker last read it (an engine on another machine: admission counts on this).
    memory_available_mb = models.PositiveIntegerField(null=True, blank=True)
    # The kernel its worker runs on (its boot id), as the worker last reported it: hosts that report the same one
    # share one machine's memory, counted once by admission (labs/hosts.py). Empty: not reported yet.
    machine_id = models.CharField(max_length=64, blank=True)
    # What keeps its sandboxes from being isolated (the engine's user namespaces, the host rules and the ports of
    # its sandboxes' bridge), as its worker checked them with a heartbeat. checked_at: when the last check began
    # (claimed, so beats meanwhile do not start another); reported_at: when its report was written (NULL: none yet).
    # A report says what held when it was written, never while a check still runs.
    isolation_problems = models.JSONField(default=list, blank=True)
    isolation_checked_at = models.DateTimeField(null=True, blank=True)
    isolation_reported_at = models.DateTimeField(null=True, blank=True)
    # Touched by each placement on it: the UPDATE that takes the row's lock before its sandboxes are counted.
    last_placement_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Docker host")
        verbose_name_plural = _("Docker hosts")

    def __str__(self):
        return f"{self.name} ({self.state})"

    @property
    def engine(self):
        """The URL of its Docker engine."""
        return self.engine_url or settings.DOCKER_HOST

    @property
    def sandbox_network(self):
        return self.network or settings.SANDBOX_NETWORK

    @property
    def sandbox_bridge(self):
        return self.bridge or settings.SANDBOX_BRIDGE

    @property
    def sandbox_registry_mirror(self):
        return self.registry_mirror or settings.SANDBOX_REGISTRY_MIRROR

    @property
    def ceiling(self):
        return self.capacity or settings.SANDBOX_MAX_PER_HOST

    @property
    def is_on_this_machine(self):
        """An engine on a unix socket runs where this process does: its /proc/meminfo is the host's."""
        return self.engine.startswith("unix://")


class Sandbox(models.Model):
    """One learner's disposable Docker host for one lab (or their playground); its row is the state of record."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting for room")
        REQUESTED = "requested", _("requested")
        PROVISIONING = "provisioning", _("provisioning")
        READY = "ready", _("ready")
        STOPPED = "stopped", _("stopped")
        EXPIRED = "expired", _("expired")
        FAILED = "failed", _("failed")

    # The learner's sandbox, whether it is on the host yet or waits in the admission queue.
    LIVE = (Status.WAITING, Status.REQUESTED, Status.PROVISIONING, Status.READY)
    # What takes (or is about to take) room on the host.
    ON_HOST = (Status.REQUESTED, Status.PROVISIONING, Status.READY)

    # No owner: a warm sandbox in the pool, waiting to be claimed. No lab: a blank one (its lab has no
    # set-up steps, so any such lab can claim it). The claim sets both, in one conditional UPDATE.
    owner = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="sandboxes", null=True, blank=True)
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="sandboxes", null=True, blank=True)
    # A playground's sandbox: lab NULL and an owner from the start (never pooled), on the playground's kept disk,
    # whose path is frozen here when the row is made (a "start fresh" meanwhile does not move it).
    playground = models.ForeignKey(Playground, on_delete=models.CASCADE, related_name="sandboxes", null=True, blank=True)
    # Where it runs: chosen when it leaves the admission queue (labs/hosts.py place); NULL while it waits
    # (and on rows older than hosts, which ran on the default one).
    host = models.ForeignKey(DockerHost, on_delete=models.PROTECT, related_name="sandboxes", null=True, blank=True)
    persistent_disk = models.CharField(max_length=500, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When it left the admission queue (a sandbox admitted at once has it equal to requested_at, near enough).
    admitted_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    # Progress through provisioning, shown as a bar: step n of total, and what it is doing.
    step = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=1)
    step_label = models.CharField(max_length=200, blank=True)
    # Why it failed, in the learner's words (shown on the lab page and in the terminal), and in the engine's own
    # (for operators: the admin and the logs). The engine's words may name its address, TLS folder, host paths:
    # never shown to a learner.
    failure = models.TextField(blank=True)
    failure_detail = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    provisioning_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    extensions = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "lab"], condition=models.Q(status__in=["waiting", "requested", "provisioning", "ready"]),
                name="one_live_sandbox_per_learner_and_lab",
            ),
            models.UniqueConstraint(
                fields=["playground"], condition=models.Q(status__in=["waiting", "requested", "provisioning", "ready"], playground__isnull=False),
                name="one_live_sandbox_per_playground",
            ),
        ]
        indexes = [models.Index(fields=["status", "owner", "lab"], name="sandbox_pool_lookup")]
        verbose_name = _("sandbox")
        verbose_name_plural = _("sandboxes")

    def __str__(self):
        return f"{self.container_name} ({self.status})"

    def get_absolute_url(self):
        """The page it is used from: its lab's, or the playground's."""
        if self.playground_id:
            return reverse("labs:playground")
        return self.lab.get_absolute_url()

    @property
    def container_name(self):
        return f"{settings.SANDBOX_NAME_PREFIX}-{self.pk}"

    @property
    def title(self):
        """What it is for, in the learner's words: its lab's title, or the playground."""
        if self.playground_id:
            return _("Playground")
        return self.lab.title if self.lab_id else _("Warm pool")

    @property
    def is_pooled(self):
        """Warm, in the pool: nobody has claimed it yet."""
        return self.owner_id is None

    @property
    def is_live(self):
        return self.status in self.LIVE

    @property
    def max_expiry(self):
        """The ceiling of extensions: the maximum lifetime, counted from the request."""
        return self.requested_at + timedelta(minutes=settings.SANDBOX_MAX_LIFETIME_MINUTES)

    @property
    def can_extend(self):
        return self.status == self.Status.READY and self.expires_at < self.max_expiry

    @property
    def idle_deadline(self):
        """When the reaper expires it unless the learner does something first."""
        return self.last_activity_at + timedelta(minutes=settings.SANDBOX_IDLE_MINUTES)


class SubmissionQuerySet(models.QuerySet):
    def holding(self):
        """Passes that still hold: PASSED, and no REGRESSED row of the same learner and task came after them."""
        undone = Submission.objects.filter(user=OuterRef("user_id"), task=OuterRef("task_id"), status=Submission.Status.REGRESSED, pk__gt=OuterRef("pk"))
        return self.filter(~Exists(undone), status=Submission.Status.PASSED)


class Submission(models.Model):
    """One press of Check on a task: queued, graded by a worker, with the verdict it got.

    Also what the live watcher recorded (`automatic`): a pass, or, for a task that must still hold at the end,
    the moment its pass stopped holding (REGRESSED: the earlier pass is kept as it was, this row undoes it).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        GRADING = "grading", _("grading")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")
        ERROR = "error", _("error")
        REGRESSED = "regressed", _("no longer holds")

    DONE = (Status.PASSED, Status.FAILED, Status.ERROR, Status.REGRESSED)

    sandbox = models.ForeignKey(Sandbox, on_delete=models.SET_NULL, null=True, related_name="submissions")
    task = models.ForeignKey(LabTask, on_delete=models.CASCADE, related_name="submissions")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="lab_submissions")
    answer = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Recorded by the live watcher (labs/live.py) when the daemon's state passed the task, without a click.
    automatic = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    expected = models.TextField(blank=True)
    found = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    graded_at = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "task", "status"])]
        constraints = [
            # Ten clicks on Check while one waits for a worker are one grading job.
            models.UniqueConstraint(
                fields=["user", "task", "sandbox"], condition=models.Q(status="queued"), name="one_queued_check_per_task_and_sandbox",
            )
        ]
        verbose_name = _("check")
        verbose_name_plural = _("checks")

    def __str__(self):
        return f"{self.task} · {self.user} · {self.status}"


class SandboxEvent(models.Model):
    """One line of a sandbox's activity timeline: an event of its nested daemon, or a task the watcher saw pass.

    Compact on purpose (labs/live.py keeps at most LIVE_EVENTS_PER_SANDBOX rows a sandbox and prunes rows
    older than LIVE_EVENTS_RETENTION_DAYS).
    """

    class Kind(models.TextChoices):
        DAEMON = "daemon", _("daemon event")
        PASSED = "passed", _("task passed")
        REGRESSED = "regressed", _("task no longer holds")

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.DAEMON)
    type = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=32, blank=True)
    object = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    task = models.ForeignKey(LabTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # A pass: when the burst of events that led to it began (what came before it were other tries).
    since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["sandbox", "at"], name="sandbox_event_timeline")]

    def __str__(self):
        return f"{self.sandbox_id} {self.at:%H:%M:%S} {self.type} {self.action} {self.object}"
