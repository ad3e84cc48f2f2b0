"""The playground's page: a free sandbox with its terminal and previews, whose disk is kept between runs."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from courses.http import wants_json
from labs import playgrounds, sandboxes, terminal
from labs.views import playground_stop_consequence, sandbox_state


@login_required
@require_GET
def playground(request):
    ground = playgrounds.playground_for(request.user)
    sandbox = playgrounds.latest_sandbox(ground)
    return render(request, "labs/playground.html", {
        "playground": ground,
        "sandbox": sandbox,
        "state": sandbox_state(sandbox),
        "usage": playgrounds.storage_usage(ground),
        "disk_gb": settings.SANDBOX_DISK_GB,
        "retention_days": settings.PLAYGROUND_RETENTION_DAYS,
        "idle_minutes": settings.SANDBOX_IDLE_MINUTES,
        "terminal_tabs": terminal.tabs_limit(),
        "stop_consequence": playground_stop_consequence(),
    })


@login_required
@require_POST
def playground_start(request):
    ground = playgrounds.playground_for(request.user)
    try:
        sandbox = playgrounds.start(ground)
    except sandboxes.SandboxRefused as refused:
        if wants_json(request):
            return JsonResponse({"error": str(refused)}, status=409)
        messages.error(request, str(refused))
        return redirect("labs:playground")
    if wants_json(request):
        return JsonResponse(sandbox_state(sandbox), status=202)
    return redirect("labs:playground")


@login_required
@require_POST
def playground_fresh(request):
    """Start fresh wipes the learner's images, containers, volumes and files: only once they confirmed it."""
    ground = playgrounds.playground_for(request.user)
    if request.POST.get("confirm") != "yes":
        return render(request, "labs/playground_fresh.html", {"playground": ground})
    playgrounds.start_fresh(ground)
    messages.success(request, _("Your playground was emptied: its next start begins with a fresh disk."))
    return redirect("labs:playground")
