"""Fetch quizzes and attempts only when the user may see them (404 otherwise), and read their rows.

The reads every learner of an exam makes are written once (courses.rows): building them with the
ORM cost more CPU than PostgreSQL answering them (bench/request_cpu.py).
"""

from functools import cache, lru_cache

from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404

from courses.access import user_may_open
from courses.models import Chapter, Course
from courses.rows import Rows
from quizzes.models import Attempt, AttemptQuestion, Question, Quiz


def get_quiz_for_user(user, course_slug, quiz_slug):
    """The quiz with its course and chapter, by one query written once, if the user may open it.

    The course's own rule (courses.access.user_may_open), then the quiz's: published, in a published
    chapter, unless the user is staff. A class opening a quiz at once in an exam reads it twice per
    learner (its page, the start).
    """
    quiz = _quiz_with_course_and_chapter(course_slug, quiz_slug)
    shown = quiz is not None and user_may_open(user, quiz.course) and (user.is_staff or (quiz.is_published and quiz.chapter.is_published))
    if not shown:
        raise Http404("No quiz of a course you may open has this address.")
    return quiz


def get_attempt_for_user(user, pk, *, with_quiz=True):
    """A learner's own attempt; another learner's is indistinguishable from a missing one.

    With its quiz and the quiz's course (`attempt.quiz.course`), read by one query written once: the
    attempt page and the results page, which a whole class opens within a minute in an exam.
    `with_quiz=False` reads the attempt's row alone, for the requests that only save or grade its
    answers (autosave, submit): a class saves thousands of answers a minute during an exam.
    """
    if not with_quiz:
        return get_object_or_404(Attempt.objects.all(), pk=pk, user=user)
    attempt = _attempt_with_quiz(user.pk, pk) if _is_key(pk) else None
    if attempt is None:
        raise Http404("No attempt of this learner has this id.")
    return attempt


def attempt_slots(attempt):
    """The attempt's questions in their order, each with `.attempt` set: `list(attempt.slots.all())`, written once."""
    with connection.cursor() as cursor:
        cursor.execute(_attempt_slots_sql(), [attempt.pk])
        rows = cursor.fetchall()
    slots = [_SLOTS.instance(row) for row in rows]
    for slot in slots:
        _SLOT_ATTEMPT.set_cached_value(slot, attempt)
    return slots


def learner_attempts(user, quiz):
    """The learner's attempts at the quiz, oldest first, each with `.quiz` set: the ORM's
    `filter(quiz=quiz, user=user).order_by("number")`, written once: the quiz page, the start and the
    results page read them, and a class opens each within a minute in an exam."""
    return _read_with_quiz(_learner_attempts_sql(), [quiz.pk, user.pk], _ATTEMPTS, _ATTEMPT_QUIZ, quiz)


def published_questions(quiz):
    """The quiz's published questions in their order: `quiz.questions.filter(is_published=True).order_by("position")`, written once."""
    return _read_with_quiz(_published_questions_sql(), [quiz.pk, True], _QUESTIONS, _QUESTION_QUIZ, quiz)


def _read_with_quiz(sql, params, model_rows, quiz_field, quiz):
    """The rows `sql` reads, made instances by `model_rows`, each with its quiz (`quiz_field`'s cache) already `quiz`."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = [model_rows.instance(row) for row in cursor.fetchall()]
    for item in found:
        quiz_field.set_cached_value(item, quiz)
    return found


def published_question_count(quiz):
    """`quiz.questions.filter(is_published=True).count()`, written once: the quiz page of every learner asks it."""
    with connection.cursor() as cursor:
        cursor.execute(_published_question_count_sql(), [quiz.pk, True])
        return cursor.fetchone()[0]


def get_attempt_slots_for_user(user, pk, slot_ids):
    """A learner's own attempt and those of its questions named in `slot_ids`: (attempt, {slot id: slot}).

    One query when the request names a question of the attempt, as every autosave does: the questions
    with their attempt, found only through the learner's own attempt. Otherwise (no such question, or
    another learner's attempt) as get_attempt_for_user: the attempt alone, or a 404.
    """
    ids = list(dict.fromkeys(key for key in slot_ids if _is_key(key)))
    if ids and _is_key(pk):
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


def _is_key(value):
    """Whether `value` can be a row's id (a positive bigint): any other is no row, and is not sent to the database."""
    return isinstance(value, int) and 0 < value < 2**63


def _quiz_with_course_and_chapter(course_slug, quiz_slug):
    """The quiz of that course with that slug, its course and chapter set as select_related sets them, or None."""
    found = _one_joined_row(_quiz_with_course_and_chapter_sql(), [course_slug, quiz_slug], _QUIZZES, _COURSES, _CHAPTERS)
    if found is None:
        return None
    quiz, course, chapter = found
    _QUIZ_COURSE.set_cached_value(quiz, course)
    _QUIZ_CHAPTER.set_cached_value(quiz, chapter)
    return quiz


def _attempt_with_quiz(user_id, attempt_id):
    """The learner's own attempt with its quiz and course set as select_related sets them, or None."""
    found = _one_joined_row(_attempt_with_quiz_sql(), [attempt_id, user_id], _ATTEMPTS, _QUIZZES, _COURSES)
    if found is None:
        return None
    attempt, quiz, course = found
    _QUIZ_COURSE.set_cached_value(quiz, course)
    _ATTEMPT_QUIZ.set_cached_value(attempt, quiz)
    return attempt


def _one_joined_row(sql, params, *tables):
    """The one row `sql` reads, cut into an instance of each of `tables` (Rows, their columns in that order), or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for table in tables:
        instances.append(table.instance(row[start:start + len(table.fields)]))
        start += len(table.fields)
    return instances


_SLOTS, _ATTEMPTS, _QUIZZES, _COURSES, _CHAPTERS = Rows(AttemptQuestion), Rows(Attempt), Rows(Quiz), Rows(Course), Rows(Chapter)
_QUESTIONS = Rows(Question)
_SLOT_ATTEMPT, _ATTEMPT_QUIZ, _QUESTION_QUIZ = AttemptQuestion._meta.get_field("attempt"), Attempt._meta.get_field("quiz"), Question._meta.get_field("quiz")
_QUIZ_COURSE, _QUIZ_CHAPTER = Quiz._meta.get_field("course"), Quiz._meta.get_field("chapter")


@cache
def _quiz_with_course_and_chapter_sql():
    return (f"SELECT {', '.join(_QUIZZES.columns() + _COURSES.columns() + _CHAPTERS.columns())} FROM {_QUIZZES.table()} "
            f"INNER JOIN {_COURSES.table()} ON {_QUIZZES.column('course')} = {_COURSES.column(Course._meta.pk.name)} "
            f"INNER JOIN {_CHAPTERS.table()} ON {_QUIZZES.column('chapter')} = {_CHAPTERS.column(Chapter._meta.pk.name)} "
            f"WHERE {_COURSES.column('slug')} = %s AND {_QUIZZES.column('slug')} = %s")


@cache
def _attempt_with_quiz_sql():
    attempt_pk = _ATTEMPTS.column(Attempt._meta.pk.name)
    return (f"SELECT {', '.join(_ATTEMPTS.columns() + _QUIZZES.columns() + _COURSES.columns())} FROM {_ATTEMPTS.table()} "
            f"INNER JOIN {_QUIZZES.table()} ON {_ATTEMPTS.column('quiz')} = {_QUIZZES.column(Quiz._meta.pk.name)} "
            f"INNER JOIN {_COURSES.table()} ON {_QUIZZES.column('course')} = {_COURSES.column(Course._meta.pk.name)} "
            f"WHERE {attempt_pk} = %s AND {_ATTEMPTS.column('user')} = %s")


def _published_questions_where():
    return f"WHERE {_QUESTIONS.column('quiz')} = %s AND {_QUESTIONS.column('is_published')} = %s"


@cache
def _published_questions_sql():
    return f"SELECT {', '.join(_QUESTIONS.columns())} FROM {_QUESTIONS.table()} {_published_questions_where()} ORDER BY {_QUESTIONS.column('position')}"


@cache
def _published_question_count_sql():
    return f"SELECT COUNT(*) FROM {_QUESTIONS.table()} {_published_questions_where()}"


@cache
def _learner_attempts_sql():
    return (f"SELECT {', '.join(_ATTEMPTS.columns())} FROM {_ATTEMPTS.table()} "
            f"WHERE {_ATTEMPTS.column('quiz')} = %s AND {_ATTEMPTS.column('user')} = %s ORDER BY {_ATTEMPTS.column('number')}")


@cache
def _attempt_slots_sql():
    return f"SELECT {', '.join(_SLOTS.columns())} FROM {_SLOTS.table()} WHERE {_SLOTS.column('attempt')} = %s ORDER BY {_SLOTS.column('position')}"


@lru_cache(maxsize=64)
def _slots_with_attempt_sql(count):
    attempt_pk = _ATTEMPTS.column(Attempt._meta.pk.name)
    return (f"SELECT {', '.join(_SLOTS.columns() + _ATTEMPTS.columns())} FROM {_SLOTS.table()} INNER JOIN {_ATTEMPTS.table()} "
            f"ON {_SLOTS.column('attempt')} = {attempt_pk} "
            f"WHERE {attempt_pk} = %s AND {_ATTEMPTS.column('user')} = %s "
            f"AND {_SLOTS.column(AttemptQuestion._meta.pk.name)} IN ({', '.join(['%s'] * count)})")
