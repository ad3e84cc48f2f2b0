"""Fetch quizzes and attempts only when the user may see them (404 otherwise)."""

from functools import lru_cache

from django.db import connection
from django.shortcuts import get_object_or_404

from courses.access import courses_for_user
from courses.rows import Rows
from quizzes.models import Attempt, AttemptQuestion, Quiz


def get_quiz_for_user(user, course_slug, quiz_slug):
    """The quiz with its course and chapter, by one query: the course's own rule (courses.access) in its WHERE.

    A class opening a quiz at once in an exam reads it twice per learner (its page, the start).
    """
    quizzes = Quiz.objects.select_related("course", "chapter").filter(course__in=courses_for_user(user).filter(slug=course_slug))
    if not user.is_staff:
        quizzes = quizzes.filter(is_published=True, chapter__is_published=True)
    return get_object_or_404(quizzes, slug=quiz_slug)


def get_attempt_for_user(user, pk, *, with_quiz=True):
    """A learner's own attempt; another learner's is indistinguishable from a missing one.

    `with_quiz=False` reads the attempt's row alone, for the requests that only save or grade its
    answers (autosave, submit): a class saves thousands of answers a minute during an exam.
    """
    attempts = Attempt.objects.select_related("quiz", "quiz__course") if with_quiz else Attempt.objects.all()
    return get_object_or_404(attempts, pk=pk, user=user)


def get_attempt_slots_for_user(user, pk, slot_ids):
    """A learner's own attempt and those of its questions named in `slot_ids`: (attempt, {slot id: slot}).

    One query when the request names a question of the attempt, as every autosave does: the questions
    with their attempt, found only through the learner's own attempt. Otherwise (no such question, or
    another learner's attempt) as get_attempt_for_user: the attempt alone, or a 404.
    """
    ids = list(dict.fromkeys(key for key in slot_ids if isinstance(key, int) and 0 < key < 2**63))
    if ids and isinstance(pk, int) and 0 < pk < 2**63:
        slots = _slots_with_attempt(user.pk, pk, ids)
        if slots:
            return next(iter(slots.values())).attempt, slots
    return get_attempt_for_user(user, pk, with_quiz=False), {}


def _slots_with_attempt(user_id, attempt_id, slot_ids):
    """{slot id: slot, its .attempt set} of the learner's own attempt: the ORM's query, written once.

    Every autosave runs it, a class thousands of times a minute in an exam: building it with the
    ORM (a join, two models' columns) cost twice the query itself (bench/request_cpu.py).
    """
    with connection.cursor() as cursor:
        cursor.execute(_slots_with_attempt_sql(len(slot_ids)), [attempt_id, user_id, *slot_ids])
        rows = cursor.fetchall()
    width, slots, attempt = len(_SLOTS.fields), {}, None
    for row in rows:
        if attempt is None:
            attempt = _ATTEMPTS.instance(row[width:])
        slot = _SLOTS.instance(row[:width])
        slot.attempt = attempt
        slots[slot.pk] = slot
    return slots


_SLOTS, _ATTEMPTS = Rows(AttemptQuestion), Rows(Attempt)


@lru_cache(maxsize=64)
def _slots_with_attempt_sql(count):
    attempt_pk = _ATTEMPTS.column(Attempt._meta.pk.name)
    return (f"SELECT {', '.join(_SLOTS.columns() + _ATTEMPTS.columns())} FROM {_SLOTS.table()} INNER JOIN {_ATTEMPTS.table()} "
            f"ON {_SLOTS.column('attempt')} = {attempt_pk} "
            f"WHERE {attempt_pk} = %s AND {_ATTEMPTS.column('user')} = %s "
            f"AND {_SLOTS.column(AttemptQuestion._meta.pk.name)} IN ({', '.join(['%s'] * count)})")
