from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _



class Course(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    language = models.CharField(max_length=10)
    description = models.TextField(blank=True)
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("courses:course", args=[self.slug])


class Chapter(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="chapters")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    position = models.PositiveIntegerField()
    is_published = models.BooleanField(default=True)

    class Meta:
        ordering = ["course", "position"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="chapter_slug_unique_in_course")]
        verbose_name = _("chapter")
        verbose_name_plural = _("chapters")

    def __str__(self):
        return self.title


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="lessons")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    minutes = models.PositiveIntegerField()
    position = models.PositiveIntegerField(help_text=_("Reading order within the whole course."))
    source_path = models.CharField(max_length=300, help_text=_("File of the lesson, relative to its pack."))
    body_markdown = models.TextField()
    body_html = models.TextField()
    toc = models.JSONField(default=list, help_text=_("Headings of the lesson: level, anchor, text."))
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "position"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="lesson_slug_unique_in_course")]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("courses:lesson", args=[self.course.slug, self.slug])


class CourseAsset(models.Model):
    """A file of a course pack that lessons link to (figures)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="assets")
    path = models.CharField(max_length=300)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "path"], name="asset_path_unique_in_course")]
        verbose_name = _("course file")
        verbose_name_plural = _("course files")

    def __str__(self):
        return self.path

    def get_absolute_url(self):
        return reverse("courses:asset", args=[self.course.slug, self.path])


class LessonProgress(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson"], name="lesson_read_once_per_user")]
        verbose_name = _("lesson read")
        verbose_name_plural = _("lessons read")

    def __str__(self):
        return f"{self.user} · {self.lesson}"
