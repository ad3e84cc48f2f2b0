"""Taking a quiz: start an attempt, save answers as the learner goes, submit once, grade on the server.

- The draw (which questions, in which order, with which choice order) is made
  once, from a seed stored on the attempt, and written down with a copy of each
  question: a reload shows the same page, and editing the pack later changes
  nothing for attempts already started.
- Saving refuses an answer of the wrong shape with a message and keeps
  everything else; nothing is saved once the attempt is submitted or its time is up.
- Submitting claims the attempt with one conditional UPDATE: submitting twice
  grades once. After the deadline, the attempt is graded as it stood at the
  deadline and flagged late.
"""

import random
import secrets
from datetime import timedelta
from functools import cache, lru_cache

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from quizzes import question_types, signals
from quizzes.access import attempt_slots, learner_attempts, published_questions
from quizzes.models import Attempt, AttemptQuestion, Quiz

# A submission sent as the countdown ends reaches the server a moment later; it is still on time.
GRACE = timedelta(seconds=5)


class AttemptRefused(Exception):
    """A new attempt cannot start; the message says why, for the learner."""


class AttemptClosed(Exception):
    """The attempt takes no more answers (submitted, or its time is up)."""


def draw(questions, *, seed, pool_size=None, shuffle_questions=False, shuffle_choices=False):
    """The questions of one attempt and the display order of each one's choices: [(question, order)].

    Pure and deterministic for a seed; each question's type draws its order
    (matching answers and ordering items are always shuffled).
    """
    rng = random.Random(seed)
    chosen = list(questions)
    if pool_size and pool_size < len(chosen):
        chosen = rng.sample(chosen, pool_size)
        if not shuffle_questions:
            chosen.sort(key=lambda question: question.position)
    elif shuffle_questions:
        rng.shuffle(chosen)
    return [
        (question, question_types.TYPES[question.kind].draw_order(question.spec, rng, shuffle_choices=shuffle_choices))
        for question in chosen
    ]


def start_attempt(*, user, quiz, now=None):
    """The learner's open attempt at the quiz, or a new one; AttemptRefused when none may start."""
    now = now or timezone.now()
    # One read of the learner's attempts (a handful) answers all three: overdue, open, how many used.
    mine = _submit_overdue(learner_attempts(user, quiz), now)
    current = next((a for a in mine if a.status == Attempt.Status.IN_PROGRESS), None)
    if current is not None:
        return current
    used = len(mine)
    if quiz.attempts_left(used) == 0:
        raise AttemptRefused(_("You have used all your attempts at this quiz."))
    if quiz.is_closed(now):
        raise AttemptRefused(_("This quiz is closed: no new attempt can start."))
    questions = published_questions(quiz)
    if not questions:
        raise AttemptRefused(_("This quiz has no questions yet."))
    seed = secrets.randbelow(2**31)
    drawn = draw(
        questions, seed=seed, pool_size=quiz.pool_size,
        shuffle_questions=quiz.shuffle_questions, shuffle_choices=quiz.shuffle_choices,
    )
    deadline = now + timedelta(minutes=quiz.time_limit_minutes) if quiz.time_limit_minutes else None
    if quiz.closes_at is not None and (deadline is None or deadline > quiz.closes_at):
        deadline = quiz.closes_at
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                quiz=quiz, user=user, number=used + 1, seed=seed, started_at=now, deadline=deadline,
            )
            _insert_slots([
                AttemptQuestion(
                    attempt=attempt, question=question, position=position, kind=question.kind,
                    prompt_html=question.prompt_html, explanation_html=question.explanation_html,
                    points=question.points, spec=question.spec, order=order,
                )
                for position, (question, order) in enumerate(drawn, start=1)
            ])
    except IntegrityError:
        # Another request of the same learner started one at the same instant: that one is theirs.
        return Attempt.objects.get(quiz=quiz, user=user, status=Attempt.Status.IN_PROGRESS)
    return attempt


def _insert_slots(slots):
    """The ORM's `bulk_create(slots)` without reading their ids back, by INSERTs written once.

    On PostgreSQL, bulk_create sends each column as one array (UNNEST), and psycopg quotes every double
    quote of every question's HTML into that array in Python: a third of the CPU of a start, which a
    whole class makes within a minute in an exam. Here each value is its own parameter, prepared as
    the ORM prepares it (the field's pre_save and get_db_prep_save), in batches the database allows.
    """
    fields = _slot_insert_fields()
    size = connection.ops.bulk_batch_size(fields, slots) or len(slots)
    with connection.cursor() as cursor:
        for start in range(0, len(slots), size):
            batch = slots[start:start + size]
            cursor.execute(_insert_slots_sql(len(batch)), [
                field.get_db_prep_save(field.pre_save(slot, True), connection) for slot in batch for field in fields
            ])


@cache
def _slot_insert_fields():
    return [field for field in AttemptQuestion._meta.concrete_fields if not field.primary_key and not field.generated]


@lru_cache(maxsize=64)
def _insert_slots_sql(count):
    meta, quote, fields = AttemptQuestion._meta, connection.ops.quote_name, _slot_insert_fields()
    row = f"({', '.join(['%s'] * len(fields))})"
    return f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) VALUES {', '.join([row] * count)}"


def time_is_up(attempt, now=None):
    """Whether the attempt's deadline (plus the grace for the network) has passed."""
    now = now or timezone.now()
    return attempt.deadline is not None and now > attempt.deadline + GRACE


def slot_key(key):
    """A slot id as a request names it: an int when it can be one (ASCII digits, a database's size), else as given."""
    return int(key) if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 18 else key


def save_answers(*, attempt, answers, now=None, slots=None):
    """Save {slot id: raw answer}; return {slot id: message} for the answers refused (the others are saved).

    `slots`: {slot id: slot} of the attempt, when the caller read them already (the form's questions).
    """
    now = now or timezone.now()
    if attempt.status != Attempt.Status.IN_PROGRESS:
        raise AttemptClosed(_("This attempt is already submitted: its answers can no longer change."))
    if time_is_up(attempt, now):
        raise AttemptClosed(_("Time is up: answers can no longer change."))
    if slots is None:
        slots = {slot.pk: slot for slot in attempt.slots.filter(pk__in=[k for k in answers if isinstance(k, int) and 0 < k < 2**63])}
    errors = {}
    for slot_id, raw in answers.items():
        slot = slots.get(slot_id)
        if slot is None:
            errors[slot_id] = _("This question is not part of this attempt.")
            continue
        try:
            answer = question_types.clean(slot.kind, slot.spec, raw)
        except question_types.AnswerRefused as refused:
            errors[slot_id] = str(refused)
            continue
        if answer == slot.answer:
            continue
        # Conditional: an answer racing the submission is not written into a graded attempt. submit() scores
        # every question in the transaction that claims the attempt, so "not scored" is "still open", read
        # on the question's own row: no join, and PostgreSQL re-reads it if it waited for the submission.
        _write_answer(slot.pk, answer, now)
    return errors


def _write_answer(slot_id, answer, now):
    """The ORM's `filter(pk=slot_id, score__isnull=True).update(answer=, answered_at=)`, written once: every autosave runs it."""
    meta = AttemptQuestion._meta
    with connection.cursor() as cursor:
        cursor.execute(_write_answer_sql(), [
            meta.get_field("answer").get_db_prep_save(answer, connection), meta.get_field("answered_at").get_db_prep_save(now, connection), slot_id,
        ])


@cache
def _write_answer_sql():
    meta, quote = AttemptQuestion._meta, connection.ops.quote_name
    return (f"UPDATE {quote(meta.db_table)} SET {quote(meta.get_field('answer').column)} = %s, {quote(meta.get_field('answered_at').column)} = %s "
            f"WHERE {quote(meta.pk.column)} = %s AND {quote(meta.get_field('score').column)} IS NULL")


def submit(*, attempt, now=None):
    """Grade the attempt once and return it as stored; a second call returns it unchanged. Late: graded as at the deadline."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _claim(attempt.pk, now):
            return Attempt.objects.select_related("quiz", "quiz__course").get(pk=attempt.pk)
        cutoff = attempt.deadline + GRACE if attempt.deadline else None
        slots = attempt_slots(attempt)
        for slot in slots:
            counted = slot.answer if cutoff is None or slot.answered_at is None or slot.answered_at <= cutoff else None
            result = question_types.grade(slot.kind, slot.spec, counted)
            slot.score, slot.feedback = result.score, list(result.feedback)
        _write_grades(slots)
        total = sum(slot.points for slot in slots)
        score = round(sum(slot.score * slot.points for slot in slots) / total if total else 0.0, 4)
        is_late = cutoff is not None and now > cutoff
        _write_score(attempt.pk, score, is_late)
    # What the claim and the grading wrote, without reading the row back.
    attempt.status, attempt.submitted_at, attempt.score, attempt.is_late = Attempt.Status.SUBMITTED, now, score, is_late
    signals.attempt_graded.send_robust(sender=Attempt, attempt=attempt)
    return attempt


def _claim(attempt_id, now):
    """Whether this call claimed the open attempt for grading: the ORM's
    `filter(pk=, status=IN_PROGRESS).update(status=SUBMITTED, submitted_at=now) == 1`, written once (a class submits at once)."""
    meta = Attempt._meta
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), [Attempt.Status.SUBMITTED.value, meta.get_field("submitted_at").get_db_prep_save(now, connection),
                                      attempt_id, Attempt.Status.IN_PROGRESS.value])
        return cursor.rowcount == 1


def _write_score(attempt_id, score, is_late):
    """The ORM's `filter(pk=).update(score=, is_late=)`, written once."""
    with connection.cursor() as cursor:
        cursor.execute(_write_score_sql(), [score, is_late, attempt_id])


@cache
def _claim_sql():
    meta, quote = Attempt._meta, connection.ops.quote_name
    status = quote(meta.get_field("status").column)
    return (f"UPDATE {quote(meta.db_table)} SET {status} = %s, {quote(meta.get_field('submitted_at').column)} = %s "
            f"WHERE {quote(meta.pk.column)} = %s AND {status} = %s")


@cache
def _write_score_sql():
    meta, quote = Attempt._meta, connection.ops.quote_name
    return (f"UPDATE {quote(meta.db_table)} SET {quote(meta.get_field('score').column)} = %s, {quote(meta.get_field('is_late').column)} = %s "
            f"WHERE {quote(meta.pk.column)} = %s")


def _write_grades(slots):
    """Store each slot's score and feedback: one statement run for all of them (bulk_update builds a CASE
    per field and per row, six times the work, and a class submits all at once at the end of an exam)."""
    meta, quote = AttemptQuestion._meta, connection.ops.quote_name
    score, feedback = meta.get_field("score"), meta.get_field("feedback")
    sql = (f"UPDATE {quote(meta.db_table)} SET {quote(score.column)} = %s, {quote(feedback.column)} = %s "
           f"WHERE {quote(meta.pk.column)} = %s")
    with connection.cursor() as cursor:
        cursor.executemany(sql, [
            (score.get_db_prep_save(slot.score, connection), feedback.get_db_prep_save(slot.feedback, connection), slot.pk)
            for slot in slots
        ])


def close_overdue(*, user, quiz=None, now=None):
    """Submit the learner's attempts whose time ran out without a submission (graded as at the deadline)."""
    now = now or timezone.now()
    overdue = Attempt.objects.filter(user=user, status=Attempt.Status.IN_PROGRESS, deadline__lt=now - GRACE)
    if quiz is not None:
        overdue = overdue.filter(quiz=quiz)
    for attempt in overdue.order_by("pk"):
        submit(attempt=attempt, now=now)


def _submit_overdue(attempts, now):
    """The learner's attempts at one quiz, oldest first, once those whose time ran out are submitted."""
    return [
        submit(attempt=attempt, now=now) if attempt.status == Attempt.Status.IN_PROGRESS and time_is_up(attempt, now) else attempt
        for attempt in attempts
    ]


def learner_standing(*, user, quiz, now=None):
    """A learner's attempts at a quiz and what they allow: grade, attempts left, open attempt, review.

    An attempt whose time ran out without a submission is submitted first (graded as at the deadline).
    """
    now = now or timezone.now()
    attempts = _submit_overdue(learner_attempts(user, quiz), now)
    submitted = [a for a in attempts if a.status == Attempt.Status.SUBMITTED]
    current = next((a for a in attempts if a.status == Attempt.Status.IN_PROGRESS), None)
    left = quiz.attempts_left(len(attempts))
    finished = current is None and left == 0
    return {
        "attempts": attempts,
        "current": current,
        "attempts_left": left,
        "grade": quiz.final_score([a.score for a in submitted]),
        "can_start": current is None and left != 0 and not quiz.is_closed(now),
        "review_open": quiz.review_is_open(now=now, finished=finished),
    }


def quizzes_with_progress(user, course):
    """The course's published quizzes with `question_count` and, for the learner, `best`, `open_count`, `done_count`."""
    counts = {"pool_count": Count("questions", filter=Q(questions__is_published=True), distinct=True)}
    if user.is_authenticated:
        mine = Q(attempts__user=user)
        counts["best"] = Max("attempts__score", filter=mine & Q(attempts__status=Attempt.Status.SUBMITTED))
        counts["open_count"] = Count("attempts", filter=mine & Q(attempts__status=Attempt.Status.IN_PROGRESS), distinct=True)
        counts["done_count"] = Count("attempts", filter=mine & Q(attempts__status=Attempt.Status.SUBMITTED), distinct=True)
    quizzes = Quiz.objects.filter(course=course, is_published=True, chapter__is_published=True).select_related("course").annotate(**counts)
    quizzes = list(quizzes.order_by("chapter__position", "position"))
    for quiz in quizzes:
        quiz.question_count = quiz.questions_per_attempt(quiz.pool_count)
        quiz.best = getattr(quiz, "best", None)
        quiz.best_percent = None if quiz.best is None else round(quiz.best * 100)
        quiz.open_count = getattr(quiz, "open_count", 0)
        quiz.done_count = getattr(quiz, "done_count", 0)
    return quizzes


def quizzes_on_path(course):
    """The course's published quizzes in outline order, with only what the pager reads of them."""
    quizzes = Quiz.objects.filter(course=course, is_published=True, chapter__is_published=True).select_related("course")
    return list(quizzes.only("slug", "title", "chapter_id", "lesson_id", "course__slug").order_by("chapter__position", "position"))
