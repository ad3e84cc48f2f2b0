"""Quiz pages: a quiz's page, an open attempt (a plain form, autosaved by quiz.js), its results."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from courses.http import wants_json
from courses.pager import pager_context
from quizzes import attempts, question_types
from quizzes.access import attempt_slots, get_attempt_for_user, get_attempt_slots_for_user, get_quiz_for_user, published_question_count
from quizzes.models import Attempt

MAX_JSON_BYTES = 64 * 1024


class _BadRequest(Exception):
    pass


def _clock(attempt):
    return {
        "status": attempt.status,
        "seconds_left": attempt.seconds_left(timezone.now()),
        "results_url": reverse("quizzes:attempt_results", args=[attempt.pk]),
    }


@login_required
def quiz_detail(request, course_slug, quiz_slug):
    quiz = get_quiz_for_user(request.user, course_slug, quiz_slug)
    standing = attempts.learner_standing(user=request.user, quiz=quiz)  # submits an attempt whose time ran out
    return render(request, "quizzes/quiz_detail.html", {
        "quiz": quiz,
        "course": quiz.course,
        "question_count": quiz.questions_per_attempt(published_question_count(quiz)),
        **standing,
        **pager_context(request.user, quiz.course, "quizzes", quiz.slug),
    })


@login_required
@require_POST
def quiz_start(request, course_slug, quiz_slug):
    quiz = get_quiz_for_user(request.user, course_slug, quiz_slug)
    try:
        attempt = attempts.start_attempt(user=request.user, quiz=quiz)
    except attempts.AttemptRefused as refused:
        messages.error(request, str(refused))
        return redirect(quiz.get_absolute_url())
    return redirect(attempt.get_absolute_url())


def _render_attempt(request, attempt, *, errors=None, status=200):
    errors = errors or {}
    seconds_left = attempt.seconds_left(timezone.now())
    slots = attempt_slots(attempt)
    language = attempt.quiz.course.language
    for slot in slots:
        slot.fields_html = question_types.fields_html(slot.display(), language=language)
        slot.error = errors.get(slot.pk, "")
    return render(request, "quizzes/attempt.html", {
        "attempt": attempt,
        "quiz": attempt.quiz,
        "course": attempt.quiz.course,
        "slots": slots,
        "seconds_left": seconds_left,
        "clock": None if seconds_left is None else f"{seconds_left // 60}:{seconds_left % 60:02d}",
        "errors": errors,
    }, status=status)


@login_required
@never_cache
def attempt_detail(request, pk):
    attempt = get_attempt_for_user(request.user, pk)
    if attempt.status == Attempt.Status.IN_PROGRESS and attempts.time_is_up(attempt):
        attempt = attempts.submit(attempt=attempt)
        messages.info(request, _("Time is up: your attempt was submitted with the answers saved in time."))
    if attempt.status == Attempt.Status.SUBMITTED:
        return redirect(attempt.get_absolute_url())
    return _render_attempt(request, attempt)


def _answers_from(request, pk):
    """(attempt, {slot id: raw answer}, {slot id: slot}) from a JSON body ({"answers": {id: answer}}) or a form.

    A form names its questions in `slot` fields (all of them, or the one quiz.js autosaves); only those
    are read, once, with the attempt, for both parsing and saving. A request that is not of the
    learner's own attempt is a 404 before its body is judged.
    """
    try:
        keys, raw = _slot_keys(request)
    except _BadRequest:
        get_attempt_for_user(request.user, pk, with_quiz=False)
        raise
    attempt, slots = get_attempt_slots_for_user(request.user, pk, keys)
    if raw is not None:
        return attempt, raw, slots
    answers = {}
    for slot_id, key in zip(request.POST.getlist("slot"), keys):
        slot = slots.get(key) if isinstance(key, int) else None
        if slot is None:
            answers[slot_id] = None  # reported as a question not part of the attempt
            continue
        answers[slot.pk] = question_types.answer_from_form(slot.kind, slot.spec, request.POST, slot.field_name)
    return attempt, answers, slots


def _slot_keys(request):
    """([slot keys] the request answers, {slot key: raw answer} for JSON or None for a form), read before any query."""
    if request.content_type == "application/json":
        if len(request.body) > MAX_JSON_BYTES:
            raise _BadRequest(_("This request is too large."))
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            raise _BadRequest(_("This request is not valid JSON.")) from None
        if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
            raise _BadRequest(_("Missing field: answers."))
        answers = {attempts.slot_key(key): value for key, value in data["answers"].items()}
        return list(answers), answers
    ids = request.POST.getlist("slot")
    if not ids:
        raise _BadRequest(_("Missing field: slot."))
    return [attempts.slot_key(i) for i in ids], None


@login_required
@require_POST
def attempt_save(request, pk):
    try:
        attempt, answers, slots = _answers_from(request, pk)
        errors = attempts.save_answers(attempt=attempt, answers=answers, slots=slots)
    except _BadRequest as bad:
        if wants_json(request):
            return JsonResponse({"error": str(bad)}, status=400)
        messages.error(request, str(bad))
        return redirect("quizzes:attempt", pk=pk)
    except attempts.AttemptClosed as closed:
        if wants_json(request):
            return JsonResponse({"error": str(closed), **_clock(attempt)}, status=409)
        messages.error(request, str(closed))
        return redirect("quizzes:attempt", pk=attempt.pk)
    if wants_json(request):
        return JsonResponse({"saved": not errors, "errors": {str(k): v for k, v in errors.items()}, **_clock(attempt)}, status=400 if errors else 200)
    if errors:
        return _render_attempt(request, attempt, errors=errors, status=400)
    messages.success(request, _("Your answers are saved."))
    return redirect(attempt.get_absolute_url())


@login_required
@require_POST
def attempt_submit(request, pk):
    if "slot" in request.POST:
        attempt, answers, slots = _answers_from(request, pk)
        try:
            errors = attempts.save_answers(attempt=attempt, answers=answers, slots=slots) if attempt.status == Attempt.Status.IN_PROGRESS else {}
        except attempts.AttemptClosed:
            errors = {}  # time is up: graded with the answers saved in time
        if errors:
            return _render_attempt(request, attempt, errors=errors, status=400)
    else:
        attempt = get_attempt_for_user(request.user, pk, with_quiz=False)
    attempt = attempts.submit(attempt=attempt)
    if attempt.is_late:
        messages.warning(request, _("Submitted after the time limit: only the answers saved in time count."))
    return redirect(attempt.get_absolute_url())


@login_required
def attempt_results(request, pk):
    attempt = get_attempt_for_user(request.user, pk)
    if attempt.status != Attempt.Status.SUBMITTED:
        return redirect(attempt.get_absolute_url())
    quiz = attempt.quiz
    standing = attempts.learner_standing(user=request.user, quiz=quiz)
    slots = attempt_slots(attempt)
    review = standing["review_open"]
    if review:
        for slot in slots:
            slot.view = slot.display(review=True)
    return render(request, "quizzes/results.html", {
        "attempt": attempt,
        "quiz": quiz,
        "course": quiz.course,
        "slots": slots,
        "review": review,
        "points": sum(slot.score * slot.points for slot in slots),
        "max_points": sum(slot.points for slot in slots),
        **{key: standing[key] for key in ("grade", "attempts_left", "can_start", "current")},
    })


@login_required
@never_cache
@require_GET
def attempt_clock(request, pk):
    """The time left, for the countdown to stay in step with the server."""
    return JsonResponse(_clock(get_attempt_for_user(request.user, pk, with_quiz=False)))
