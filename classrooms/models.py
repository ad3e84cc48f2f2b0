import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from courses.models import Course

# No 0/O, 1/I/L: a code read aloud in a classroom or copied from a board stays unambiguous.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_join_code():
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw):
    return "".join((raw or "").split()).replace("-", "").upper()[:40]


class Classroom(models.Model):
    """A group of learners following one course, run by one instructor."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="classrooms")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="classrooms_taught")
    title = models.CharField(max_length=200)
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    join_code_expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("After this date the code no longer lets anyone join; empty: it does not expire."),
    )
    is_archived = models.BooleanField(default=False, help_text=_("An archived classroom accepts no new learner."))
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="classrooms")

    class Meta:
        ordering = ["is_archived", "-created_at"]
        permissions = [("teach", _("Can create classrooms and follow their learners"))]
        verbose_name = _("classroom")
        verbose_name_plural = _("classrooms")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("classrooms:detail", args=[self.pk])

    def get_join_url(self):
        return reverse("classrooms:join_code", args=[self.join_code])

    @property
    def accepts_members(self):
        return not self.is_archived

    def code_expired(self, now):
        return self.join_code_expires_at is not None and now >= self.join_code_expires_at


class Membership(models.Model):
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="classroom_memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["classroom", "user__username"]
        constraints = [models.UniqueConstraint(fields=["classroom", "user"], name="one_membership_per_learner_and_classroom")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} · {self.classroom}"
