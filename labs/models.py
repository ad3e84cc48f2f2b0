from django.db import models
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
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lab", "position"]
        constraints = [models.UniqueConstraint(fields=["lab", "slug"], name="task_slug_unique_in_lab")]
        verbose_name = _("lab task")
        verbose_name_plural = _("lab tasks")

    def __str__(self):
        return self.title
