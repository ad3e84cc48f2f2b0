from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, DateField, F, Func, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from classrooms import charts, exports, joining, live_statistics, statistics
from classrooms import matrix as progress_matrix
from classrooms.access import (
    classrooms_for_instructor, get_classroom_for_instructor, get_member_for_instructor,
    get_sandbox_for_instructor, instructor_required, is_instructor, member_ids,
)
from classrooms.forms import ClassroomForm, JoinForm, RenewCodeForm
from classrooms.models import Membership
from courses.models import LessonProgress
from quizzes.models import Attempt
from grader import engine as docker_engine
from labs import hosts, live, sandboxes
from labs.models import Sandbox, SolutionView, Submission

SORTS = ("name", "progress", "-progress")


# --- Learners -------------------------------------------------------------------------------


@login_required
def my_classrooms(request):
    """The "Classrooms" menu: instructors to the classrooms they teach, learners to theirs (and the join form)."""
    return redirect("classrooms:list" if is_instructor(request.user) else "classrooms:join")


@login_required
def join(request):
    """Join with a code typed in; also lists the learner's classrooms (their own, nobody else's)."""
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _join(request, form.cleaned_data["code"])
    mine = Membership.objects.filter(user=request.user).select_related("classroom", "classroom__course")
    taught = classrooms_for_instructor(request.user).filter(is_archived=False) if is_instructor(request.user) else None
    return render(request, "classrooms/join.html", {"form": form, "memberships": mine, "taught": taught})


@login_required
def join_code(request, code):
    """A join link: GET shows what the learner is joining, POST joins (a link alone changes nothing)."""
    if request.method == "POST":
        return _join(request, code)
    try:
        classroom = joining.find_classroom(code)
    except joining.JoinRefused as refused:
        messages.error(request, str(refused))
        return redirect("classrooms:join")
    member = Membership.objects.filter(classroom=classroom, user=request.user).exists()
    return render(request, "classrooms/join_confirm.html", {"classroom": classroom, "member": member})


def _join(request, code):
    try:
        classroom, created = joining.join(user=request.user, code=code)
    except joining.JoinRefused as refused:
        messages.error(request, str(refused))
        return redirect("classrooms:join")
    if created:
        messages.success(request, _("You joined the classroom « %(title)s ».") % {"title": classroom.title})
    else:
        messages.info(request, _("You are already in the classroom « %(title)s ».") % {"title": classroom.title})
    return redirect(classroom.course.get_absolute_url())


# --- Instructors: classrooms and rosters ----------------------------------------------------


@instructor_required
def classroom_list(request):
    form = ClassroomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        classroom = form.save(commit=False)
        classroom.owner = request.user
        classroom.save()
        messages.success(request, _("Classroom created. Give your learners its code: %(code)s") % {"code": classroom.join_code})
        return redirect(classroom)
    classrooms = classrooms_for_instructor(request.user).annotate(member_count=Count("memberships"))
    return render(request, "classrooms/classroom_list.html", {"classrooms": classrooms, "form": form})


@instructor_required
def classroom_detail(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    memberships = classroom.memberships.select_related("user").order_by("user__username")
    join_url = request.build_absolute_uri(classroom.get_join_url())
    return render(request, "classrooms/classroom_detail.html", {
        "classroom": classroom, "memberships": memberships, "join_url": join_url, "tab": "roster",
        "code_expired": classroom.code_expired(timezone.now()), "renew_form": RenewCodeForm(),
    })


@instructor_required
@require_POST
def classroom_renew_code(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    form = RenewCodeForm(request.POST)
    if form.is_valid():
        joining.renew_code(classroom=classroom, expires_at=form.cleaned_data["expires_at"])
        messages.success(request, _("New code: %(code)s. The previous one no longer works.") % {"code": classroom.join_code})
    else:
        messages.error(request, _("Enter a valid date, or leave it empty."))
    return redirect(classroom)


@instructor_required
@require_POST
def member_remove(request, pk, user_pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    learner = get_member_for_instructor(classroom, user_pk)
    joining.remove_member(classroom=classroom, user=learner)
    messages.success(request, _("%(name)s is no longer in this classroom.") % {"name": learner.get_username()})
    return redirect(classroom)


@instructor_required
@require_POST
def classroom_archive(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    archived = request.POST.get("archived", "1") == "1"
    joining.set_archived(classroom=classroom, archived=archived)
    if archived:
        messages.success(request, _("Classroom archived: its code no longer lets anyone join."))
    else:
        messages.success(request, _("Classroom reopened: learners can join it again."))
    return redirect(classroom)


# --- Instructors: progress ------------------------------------------------------------------


@instructor_required
def classroom_matrix(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "name"
    search = request.GET.get("q", "").strip()[:100]
    kinds = [kind for kind in request.GET.getlist("kind") if kind in progress_matrix.KINDS] or list(progress_matrix.KINDS)
    matrix = progress_matrix.build(classroom, kinds=kinds, search=search, sort=sort)
    # 500 learners × 40 activities is 20 000 cells: drawn here as one string per row, the
    # template engine would take most of a second. Cell texts are numbers and marks we made.
    # Reversed once: one reverse() per learner would cost more than the rest of the row.
    learner_url = reverse("classrooms:learner", args=[classroom.pk, 999999999]).replace("999999999", "{}")
    rows = [{"row": row, "url": learner_url.format(row.user.pk), "cells": mark_safe(matrix.cells_html(row))} for row in matrix.rows]
    learners = len(matrix.rows)
    totals = [(activity, progress_matrix.activity_average(activity, learners)) for activity in matrix.activities]
    quiz_scores = [value for row in matrix.rows for key, value in row.values.items() if key.startswith("quiz-")]
    return render(request, "classrooms/matrix.html", {
        "classroom": classroom, "matrix": matrix, "rows": rows, "totals": totals, "tab": "matrix",
        "sort": sort, "search": search, "kinds": kinds, "all_kinds": _kind_choices(),
        "filters": urlencode([("q", search)] * bool(search) + [("kind", kind) for kind in kinds if len(kinds) < len(progress_matrix.KINDS)]),
        "completion_chart": _completion_chart(classroom, matrix),
        "score_chart": _score_chart(quiz_scores),
    })


def _kind_choices():
    return [("lesson", _("Lessons")), ("quiz", _("Quizzes")), ("lab", _("Labs"))]


def _completion_chart(classroom, matrix):
    # Days in UTC, counted by the database: TruncDate's time zone conversion runs in Python on SQLite, row by row.
    per_day = dict(
        LessonProgress.objects.filter(user__in=member_ids(classroom), lesson__course=classroom.course_id, lesson__is_published=True)
        .annotate(day=Func(F("read_at"), function="DATE", output_field=DateField())).values("day").annotate(n=Count("pk")).values_list("day", "n")
    )
    end = timezone.now().date()
    start = min([classroom.created_at.date(), *per_day]) if per_day else classroom.created_at.date()
    start = max(start, end - timedelta(days=180))
    series = charts.completion_series(per_day, start=start, end=end, members=classroom.memberships.count(), lessons=matrix.lesson_count)
    last = series[-1][1] if series else 0
    svg = charts.line_chart(
        series, chart_id="completion", title=_("Lessons read by the classroom over time"),
        description=_("Share of the course's lessons read by the classroom's learners, day by day; today: %(percent)s %%.") % {"percent": round(last)},
    )
    return {"svg": svg, "table": series[-14:]}


def _score_chart(scores):
    buckets = charts.histogram(scores)
    svg = charts.bar_chart(
        buckets, chart_id="scores", title=_("Distribution of quiz scores"),
        description=_("How many best quiz scores (one per learner and quiz) fall in each band of 10 points; %(n)s scores in all.") % {"n": len(scores)},
    )
    return {"svg": svg, "table": buckets}


def _csv_response(text, filename):
    response = HttpResponse(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@instructor_required
def matrix_csv(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    return _csv_response(exports.matrix_csv(classroom), f"{slugify(classroom.title) or 'classe'}-progression.csv")


@instructor_required
def attempts_csv(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    return _csv_response(exports.attempts_csv(classroom), f"{slugify(classroom.title) or 'classe'}-tentatives.csv")


@instructor_required
def learner_detail(request, pk, user_pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    learner = get_member_for_instructor(classroom, user_pk)
    course = classroom.course
    events = []
    for progress in LessonProgress.objects.filter(user=learner, lesson__course=course).select_related("lesson"):
        events.append({"at": progress.read_at, "kind": "lesson", "title": progress.lesson.title})
    for attempt in Attempt.objects.filter(user=learner, quiz__course=course).select_related("quiz"):
        events.append({"at": attempt.submitted_at or attempt.started_at, "kind": "quiz", "title": attempt.quiz.title, "attempt": attempt})
    for check in Submission.objects.filter(user=learner, task__lab__course=course).select_related("task", "task__lab"):
        events.append({"at": check.graded_at or check.created_at, "kind": "check", "title": f"{check.task.lab.title} — {check.task.title}", "check": check})
    for view in SolutionView.objects.filter(user=learner, task__lab__course=course).select_related("task", "task__lab"):
        events.append({"at": view.seen_at, "kind": "solution", "title": f"{view.task.lab.title} — {view.task.title}"})
    events.sort(key=lambda event: event["at"], reverse=True)
    return render(request, "classrooms/learner_detail.html", {
        "classroom": classroom, "learner": learner, "events": events, "tab": "matrix",
        "lab_timelines": live.timelines(learner, course),
    })


# --- Instructors: statistics ----------------------------------------------------------------


@instructor_required
def quiz_statistics(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    quizzes = statistics.quiz_statistics(classroom)
    for entry in quizzes:
        entry.buckets = charts.histogram(entry.scores)
        entry.chart = charts.bar_chart(
            entry.buckets, chart_id=f"quiz-{entry.quiz.pk}",
            title=_("Scores at « %(title)s »") % {"title": entry.quiz.title},
            description=_("How many submitted attempts fall in each band of 10 points; %(n)s attempts in all.") % {"n": entry.attempts},
        )
    return render(request, "classrooms/quiz_statistics.html", {"classroom": classroom, "quizzes": quizzes, "tab": "quizzes"})


@instructor_required
def lab_statistics(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    return render(request, "classrooms/lab_statistics.html", {
        "classroom": classroom, "labs": live_statistics.attach(statistics.lab_statistics(classroom), classroom), "tab": "labs",
    })


# --- Instructors: live sandboxes ------------------------------------------------------------


def _memory(engine, sandbox):
    if sandbox.status != Sandbox.Status.READY:
        return None
    try:
        return engine.memory_usage_bytes(sandbox.container_name)
    except docker_engine.EngineUnavailable:
        return None


@instructor_required
def live_sandboxes(request, pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    live = list(
        # Its learners' playgrounds too: they take room on the host like any lab's sandbox.
        Sandbox.objects.filter(Q(lab__course=classroom.course_id) | Q(playground__isnull=False), status__in=Sandbox.LIVE, owner__in=member_ids(classroom))
        .select_related("owner", "lab", "host").order_by("owner__username", "requested_at")
    )
    # One stats call takes about a second on a real engine: ask for all of them at once, each its host's engine.
    with ThreadPoolExecutor(max_workers=8) as pool:
        memory = list(pool.map(lambda sandbox: _memory(hosts.engine_for(sandbox.host), sandbox), live)) if live else []
    now = timezone.now()
    rows = [{
        "sandbox": sandbox,
        "age": now - sandbox.requested_at,
        "time_left": max(timedelta(0), sandbox.expires_at - now),
        "memory": used,
    } for sandbox, used in zip(live, memory)]
    return render(request, "classrooms/sandboxes.html", {"classroom": classroom, "rows": rows, "tab": "sandboxes"})


@instructor_required
@require_POST
def sandbox_stop(request, pk, sandbox_pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    sandbox = get_sandbox_for_instructor(classroom, sandbox_pk)
    if sandboxes.stop(sandbox):
        messages.success(request, _("The sandbox of %(name)s is stopped.") % {"name": sandbox.owner.get_username()})
    else:
        messages.error(request, _("This sandbox was already stopped."))
    return redirect(reverse("classrooms:sandboxes", args=[classroom.pk]))


@instructor_required
@require_POST
def sandbox_extend(request, pk, sandbox_pk):
    classroom = get_classroom_for_instructor(request.user, pk)
    sandbox = get_sandbox_for_instructor(classroom, sandbox_pk)
    if sandboxes.extend(sandbox):
        messages.success(request, _("Sandbox extended by %(minutes)s minutes.") % {"minutes": settings.SANDBOX_EXTEND_MINUTES})
    else:
        messages.error(request, _("This sandbox cannot be extended any further."))
    return redirect(reverse("classrooms:sandboxes", args=[classroom.pk]))
