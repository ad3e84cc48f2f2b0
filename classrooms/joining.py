"""Learners joining and leaving classrooms."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import Classroom, Membership, new_join_code, normalize_code


class JoinRefused(Exception):
    """The learner cannot join; the message says why, for their eyes."""


def find_classroom(code):
    """The classroom of a join code; JoinRefused when the code is wrong or the classroom is archived."""
    code = normalize_code(code)
    if not code:
        raise JoinRefused(_("Enter the code your instructor gave you."))
    classroom = Classroom.objects.select_related("course", "owner").filter(join_code=code).first()
    if classroom is None:
        raise JoinRefused(_("No classroom has the code « %(code)s ». Check it with your instructor.") % {"code": code})
    if not classroom.accepts_members:
        raise JoinRefused(_("The classroom « %(title)s » is archived: it accepts no new learners.") % {"title": classroom.title})
    if classroom.code_expired(timezone.now()):
        raise JoinRefused(_("The code « %(code)s » has expired. Ask your instructor for a new one.") % {"code": code})
    return classroom


def join(*, user, code):
    """Add the learner to the code's classroom: (classroom, joined now?). Joining twice changes nothing."""
    classroom = find_classroom(code)
    try:
        with transaction.atomic():
            _membership, created = Membership.objects.get_or_create(classroom=classroom, user=user)
    except IntegrityError:
        # Two clicks raced: the other one made the membership.
        created = False
    return classroom, created


def remove_member(*, classroom, user):
    """Take the learner out of the classroom; their own progress is theirs and stays."""
    return Membership.objects.filter(classroom=classroom, user=user).delete()[0] > 0


def set_archived(*, classroom, archived):
    Classroom.objects.filter(pk=classroom.pk).update(is_archived=archived)
    classroom.is_archived = archived


def renew_code(*, classroom, expires_at=None):
    """A new join code (the old one stops working at once), valid until `expires_at` (None: no end)."""
    classroom.join_code, classroom.join_code_expires_at = new_join_code(), expires_at
    classroom.save(update_fields=["join_code", "join_code_expires_at"])
    return classroom
