from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.http import wants_json
from courses.pager import pager_context
from labs import grading, live, sandboxes, solutions, terminal
from labs.access import get_lab_for_user, get_published_task, get_sandbox_for_user, get_submission_for_user
from labs.models import Sandbox, Submission


def sandbox_state(sandbox):
    """What the lab page shows of a sandbox, as JSON-ready data."""
    if sandbox is None:
        return {"status": None}
    now = timezone.now()
    state = {
        "id": sandbox.pk,
        "status": sandbox.status,
        "status_label": sandbox.get_status_display(),
        "live": sandbox.is_live,
        "step": sandbox.step,
        "steps_total": sandbox.steps_total,
        "step_label": sandbox.step_label,
        "failure": sandbox.failure,
        "status_url": reverse("labs:sandbox_status", args=[sandbox.pk]),
    }
    if sandbox.status in (Sandbox.Status.WAITING, Sandbox.Status.REQUESTED, Sandbox.Status.PROVISIONING):
        # Seconds since the click, in this stage's own words: waiting for room, for a worker, or being prepared.
        state["elapsed"] = max(0, int((now - sandbox.requested_at).total_seconds()))
    if sandbox.status == Sandbox.Status.WAITING:
        position, estimate = sandboxes.place_in_queue(sandbox)
        state["position"], state["estimate"] = position, estimate
        if estimate is None:
            state["step_label"] = _("Waiting for room on the host: you are number %(position)s in the queue; it starts by itself.") % {"position": position}
        else:
            state["step_label"] = _(
                "Waiting for room on the host: you are number %(position)s in the queue, about %(minutes)s min; it starts by itself."
            ) % {"position": position, "minutes": max(1, round(estimate / 60))}
    if sandbox.is_live and sandbox.status != Sandbox.Status.WAITING:
        state["expires_in"] = max(0, int((sandbox.expires_at - now).total_seconds()))
        state["idle_in"] = max(0, int((sandbox.idle_deadline - now).total_seconds()))
        state["can_extend"] = sandbox.can_extend
    return state


@login_required
def lab_detail(request, course_slug, lab_slug):
    lab = get_lab_for_user(request.user, course_slug, lab_slug)
    tasks = grading.tasks_with_progress(request.user, lab)
    seen = solutions.seen_by(request.user, lab)
    for task in tasks:
        task.solution_seen_at = seen.get(task.pk)
        task.may_see_solution = solutions.may_see_solution(passed=task.passed, failures=task.failures)
    sandbox = Sandbox.objects.filter(owner=request.user, lab=lab).order_by("-requested_at").first()
    return render(request, "labs/lab_detail.html", {
        "lab": lab,
        "course": lab.course,
        "tasks": tasks,
        "passed": sum(task.passed for task in tasks),
        "sandbox": sandbox,
        "state": sandbox_state(sandbox),
        "idle_minutes": settings.SANDBOX_IDLE_MINUTES,
        "terminal_tabs": terminal.tabs_limit(),
        "running_elsewhere": [] if sandbox and sandbox.is_live else sandboxes.running_elsewhere(user=request.user, lab=lab),
        "timeline": live.timeline(request.user, lab),
        **pager_context(request.user, lab.course, "labs", lab.slug),
    })


@login_required
@require_POST
def sandbox_start(request, course_slug, lab_slug):
    lab = get_lab_for_user(request.user, course_slug, lab_slug)
    replaced = request.POST.get("replace", "")
    try:
        if replaced.isdigit():
            # "Stop it and start here", from the lab page: the other sandbox is fetched as the learner's own.
            sandbox = sandboxes.replace_and_request(user=request.user, lab=lab, replaced=get_sandbox_for_user(request.user, int(replaced)))
        else:
            sandbox = sandboxes.request_sandbox(user=request.user, lab=lab)
    except sandboxes.SandboxRefused as refused:
        if wants_json(request):
            running = [{"id": other.pk, "lab": other.title, "url": other.get_absolute_url()} for other in refused.running]
            return JsonResponse({"error": str(refused), "running": running}, status=409)
        messages.error(request, str(refused))
        return redirect(lab.get_absolute_url())
    if wants_json(request):
        return JsonResponse(sandbox_state(sandbox), status=202)
    return redirect(lab.get_absolute_url())


@login_required
@require_GET
def sandbox_status(request, pk):
    return JsonResponse(sandbox_state(get_sandbox_for_user(request.user, pk)))


def _sandbox_action(request, pk, action, done_message, refused_message):
    sandbox = get_sandbox_for_user(request.user, pk)
    result = action(sandbox)
    sandbox = result if isinstance(result, Sandbox) else Sandbox.objects.get(pk=sandbox.pk)
    if wants_json(request):
        return JsonResponse({**sandbox_state(sandbox), "done": bool(result)}, status=200 if result else 409)
    if result:
        messages.success(request, done_message)
    else:
        messages.error(request, refused_message)
    return redirect(sandbox.get_absolute_url())


def _confirm_page(request, pk, *, title, question, consequence, button, button_class, playground_consequence=None):
    """Without JavaScript, Stop and Reset first show this page; its form posts to the same URL (with JavaScript
    the lab page asks in a dialog). Nothing happens on GET. A playground's sandbox keeps its disk when it stops
    (`playground_consequence` says so); it has no Reset: it starts fresh from its own page, where this leads."""
    sandbox = get_sandbox_for_user(request.user, pk)
    if sandbox.playground_id:
        if playground_consequence is None:
            return redirect("labs:playground")
        consequence = playground_consequence
    return render(request, "labs/sandbox_confirm.html", {
        "sandbox": sandbox, "lab": sandbox.lab, "course": sandbox.lab.course if sandbox.lab_id else None, "title": title,
        "question": question, "consequence": consequence, "button": button, "button_class": button_class,
    })


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_stop(request, pk):
    if request.method == "GET":
        return _confirm_page(
            request, pk, title=_("Stop the sandbox?"), question=_("Stop this sandbox now?"),
            consequence=_("Its containers, images and files are deleted. Tasks already done stay done."),
            playground_consequence=playground_stop_consequence(),
            button=_("Stop the sandbox"), button_class="danger",
        )
    return _sandbox_action(request, pk, sandboxes.stop, _("Sandbox stopped."), _("This sandbox was already stopped."))


def playground_stop_consequence():
    """What stopping the playground does, on its confirmation page and in its dialog (templates/labs/playground.html)."""
    return _("What runs in it stops. Your images, containers, volumes and files in /root are kept %(days)s days.") % {
        "days": settings.PLAYGROUND_RETENTION_DAYS,
    }


@login_required
@require_POST
def sandbox_extend(request, pk):
    return _sandbox_action(
        request, pk, sandboxes.extend, _("Sandbox extended by %(minutes)s minutes.") % {"minutes": settings.SANDBOX_EXTEND_MINUTES},
        _("This sandbox cannot be extended any further."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_reset(request, pk):
    if request.method == "GET":
        return _confirm_page(
            request, pk, title=_("Reset the sandbox?"), question=_("Replace this sandbox with a fresh one?"),
            consequence=_("Everything in it is wiped: your containers, the images you pulled or built, your files. Tasks already done stay done."),
            button=_("Reset the sandbox"), button_class="danger",
        )
    def reset(sandbox):
        try:
            return sandboxes.reset(sandbox)
        except sandboxes.SandboxRefused:
            return None

    return _sandbox_action(request, pk, reset, _("A fresh sandbox is on its way."), _("No new sandbox could be started now."))


@login_required
@require_POST
def sandbox_heartbeat(request, pk):
    sandbox = get_sandbox_for_user(request.user, pk)
    sandboxes.touch(sandbox)
    return JsonResponse(sandbox_state(Sandbox.objects.get(pk=sandbox.pk)))


def submission_state(submission):
    return {
        "id": submission.pk,
        "task": submission.task.slug,
        "status": submission.status,
        "done": submission.status in Submission.DONE,
        "passed": submission.status == Submission.Status.PASSED,
        "message": submission.message,
        "url": reverse("labs:submission", args=[submission.pk]),
    }


@login_required
@require_POST
def task_check(request, course_slug, lab_slug, task_slug):
    lab = get_lab_for_user(request.user, course_slug, lab_slug)
    task = get_published_task(lab, task_slug)
    sandbox = Sandbox.objects.filter(owner=request.user, lab=lab, status__in=Sandbox.LIVE).first()
    try:
        submission = grading.submit(user=request.user, task=task, sandbox=sandbox, answer=request.POST.get("answer", ""))
    except grading.SubmissionRefused as refused:
        if wants_json(request):
            response = JsonResponse({"error": str(refused)}, status=refused.status_code)
            if isinstance(refused, grading.TooManyChecks):
                response["Retry-After"] = str(refused.retry_after)
            return response
        messages.error(request, str(refused))
        return redirect(f"{lab.get_absolute_url()}#tache-{task.slug}")
    if wants_json(request):
        return JsonResponse(submission_state(submission), status=202)
    return redirect(f"{lab.get_absolute_url()}#tache-{task.slug}")


@login_required
@require_POST
def task_solution(request, course_slug, lab_slug, task_slug):
    """Open a task's solution for the learner (after the hint, or once passed), recording that they saw it."""
    lab = get_lab_for_user(request.user, course_slug, lab_slug)
    task = get_published_task(lab, task_slug)
    try:
        view = solutions.reveal(user=request.user, task=task)
    except solutions.SolutionRefused as refused:
        if wants_json(request):
            return JsonResponse({"error": str(refused)}, status=refused.status_code)
        messages.error(request, str(refused))
        return redirect(f"{lab.get_absolute_url()}#tache-{task.slug}")
    if wants_json(request):
        return JsonResponse({"task": task.slug, "solution_html": task.solution_html, "seen_at": view.seen_at.isoformat()})
    # Without JavaScript: the lab page shows the solutions the learner opened, this one among them.
    return redirect(f"{lab.get_absolute_url()}#solution-{task.slug}")


@login_required
@require_GET
def submission_status(request, pk):
    return JsonResponse(submission_state(get_submission_for_user(request.user, pk)))
