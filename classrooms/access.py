"""Who may see what of a classroom. Anything not allowed is a 404, indistinguishable from missing.

An instructor is a user with the `classrooms.teach` permission (the
"Instructeurs" group has it; grant it in the admin). An instructor sees only the
classrooms they own, and of learners only what those classrooms' course holds.
"""

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404

from classrooms.models import Classroom, Membership
from labs.models import Sandbox

TEACH_PERMISSION = "classrooms.teach"
INSTRUCTORS_GROUP = "Instructeurs"


def is_instructor(user):
    return user.is_authenticated and user.has_perm(TEACH_PERMISSION)


def instructor_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_instructor(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def classrooms_for_instructor(user):
    return Classroom.objects.filter(owner=user).select_related("course")


def get_classroom_for_instructor(user, pk):
    if not is_instructor(user):
        raise PermissionDenied
    return get_object_or_404(classrooms_for_instructor(user), pk=pk)


def member_ids(classroom):
    """A subquery of the classroom's learners' ids: one SQL query however many learners."""
    return Membership.objects.filter(classroom=classroom).values("user_id")


def get_member_for_instructor(classroom, user_pk):
    """A learner of this (already checked) classroom; a learner of another classroom is a 404."""
    return get_object_or_404(get_user_model(), pk=user_pk, classroom_memberships__classroom=classroom)


def get_sandbox_for_instructor(classroom, pk):
    """A sandbox of one of the classroom's learners, for a lab of the classroom's course or their playground."""
    sandboxes = Sandbox.objects.select_related("lab", "owner").filter(
        Q(lab__course=classroom.course_id) | Q(playground__isnull=False), owner__in=member_ids(classroom),
    )
    return get_object_or_404(sandboxes, pk=pk)
