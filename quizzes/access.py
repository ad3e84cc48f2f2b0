"""Fetch quizzes and attempts only when the user may see them (404 otherwise)."""

from django.db import connection
from django.shortcuts import get_object_or_404

from courses.access import get_course_for_user
from quizzes.models import Attempt, AttemptQuestion, Quiz


def get_quiz_for_user(user, course_slug, quiz_slug):
    course = get_course_for_user(user, course_slug)
    quizzes = Quiz.objects.select_related("course", "chapter").filter(course=course)
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
    ORM (a join, two models' columns) cost twice the query itself (bench/request_cpu.py). Values
    go through the fields' and the backend's converters, as the ORM's would.
    """
    slot_fields, attempt_fields = AttemptQuestion._meta.concrete_fields, Attempt._meta.concrete_fields
    quote = connection.ops.quote_name
    slot_table, attempt_table = quote(AttemptQuestion._meta.db_table), quote(Attempt._meta.db_table)
    columns = [f"{slot_table}.{quote(f.column)}" for f in slot_fields] + [f"{attempt_table}.{quote(f.column)}" for f in attempt_fields]
    sql = (f"SELECT {', '.join(columns)} FROM {slot_table} INNER JOIN {attempt_table} "
           f"ON {slot_table}.{quote(AttemptQuestion._meta.get_field('attempt').column)} = {attempt_table}.{quote(Attempt._meta.pk.column)} "
           f"WHERE {attempt_table}.{quote(Attempt._meta.pk.column)} = %s AND {attempt_table}.{quote(Attempt._meta.get_field('user').column)} = %s "
           f"AND {slot_table}.{quote(AttemptQuestion._meta.pk.column)} IN ({', '.join(['%s'] * len(slot_ids))})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [attempt_id, user_id, *slot_ids])
        rows = cursor.fetchall()
    if not rows:
        return {}
    converters = [_converters(field, model) for model, fields in ((AttemptQuestion, slot_fields), (Attempt, attempt_fields)) for field in fields]
    width, slots, attempt = len(slot_fields), {}, None
    for row in rows:
        values = [value if not convert else _convert(value, *convert) for value, convert in zip(row, converters)]
        if attempt is None:
            attempt = Attempt.from_db(connection.alias, [f.attname for f in attempt_fields], values[width:])
        slot = AttemptQuestion.from_db(connection.alias, [f.attname for f in slot_fields], values[:width])
        slot.attempt = attempt
        slots[slot.pk] = slot
    return slots


def _converters(field, model):
    column = field.get_col(model._meta.db_table)
    found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    return (found, column) if found else None


def _convert(value, converters, column):
    for convert in converters:
        value = convert(value, column, connection)
    return value
