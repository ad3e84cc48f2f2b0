"""Fetch lab objects only for users allowed to see them; anything else is a 404."""

from django.shortcuts import get_object_or_404

from courses.access import get_course_for_user
from labs.models import Lab, LabTask, Sandbox, Submission


def get_lab_for_user(user, course_slug, lab_slug):
    course = get_course_for_user(user, course_slug)
    labs = Lab.objects.select_related("course", "chapter").filter(course=course)
    if not user.is_staff:
        labs = labs.filter(is_published=True, chapter__is_published=True)
    return get_object_or_404(labs, slug=lab_slug)


def _own_sandboxes(user):
    return Sandbox.objects.select_related("lab", "lab__course", "host").filter(owner=user)


def get_sandbox_for_user(user, pk):
    """A learner's own sandbox; another learner's is indistinguishable from a missing one."""
    return get_object_or_404(_own_sandboxes(user), pk=pk)


def find_sandbox_for_user(user, pk):
    """The same sandbox or None, for callers that refuse without a 404 (the terminal closes its websocket)."""
    return _own_sandboxes(user).filter(pk=pk).first()


def get_published_task(lab, task_slug):
    """A published task of a lab the caller already fetched for the user (get_lab_for_user)."""
    return get_object_or_404(LabTask, lab=lab, slug=task_slug, is_published=True)


def get_submission_for_user(user, pk):
    return get_object_or_404(Submission.objects.select_related("task"), pk=pk, user=user)
