"""Pages of the web preview: the list of published ports, the owner's way in, and the preview itself."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods

from courses.http import wants_json
from grader import preview
from labs import hosts, previews, sandboxes
from labs.access import get_sandbox_for_user

# The learner's page runs in an opaque origin (no script of it reaches Drydock's pages, cookies or storage),
# may be framed only by Drydock's own lab page, and tells no other site its link.
PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@login_required
@require_GET
def sandbox_ports(request, pk):
    """The ports the learner's sandbox publishes, each with its preview link (JSON for the page's script)."""
    sandbox = get_sandbox_for_user(request.user, pk)
    ports, problem, throttled = [], "", None
    try:
        ports = [
            {"port": p.port, "container_port": p.container_port, "container": p.container, "url": reverse("labs:preview_open", args=[sandbox.pk, p.port])}
            for p in previews.published(sandbox, engine=hosts.engine_for(sandbox.host))
        ]
    except previews.PreviewRefused as refused:
        problem = str(refused)
        throttled = refused if refused.retry_after else None
    if wants_json(request):
        response = JsonResponse({"ports": ports, "problem": problem}, status=429 if throttled else 200)
    else:
        response = render(request, "labs/ports.html", {"sandbox": sandbox, "ports": ports, "problem": problem}, status=429 if throttled else 200)
    if throttled:
        response["Retry-After"] = str(throttled.retry_after)
    return response


@login_required
@require_GET
def preview_open(request, pk, port):
    """The owner's way into a preview: their own sandbox (else 404), a published port, then the signed link."""
    sandbox = get_sandbox_for_user(request.user, pk)
    try:
        if port not in {p.port for p in previews.published(sandbox, engine=hosts.engine_for(sandbox.host))}:
            raise previews.PreviewRefused(_("Port %(port)s of your sandbox is not published by a running container (docker run -p %(port)s:…).") % {"port": port})
    except previews.PreviewRefused as refused:
        return _refusal(request, refused)
    sandboxes.touch(sandbox)
    return redirect(reverse("labs:preview", args=[previews.link_token(sandbox, port)]))


@never_cache
@xframe_options_sameorigin
@require_http_methods(["GET", "HEAD"])
def preview_page(request, token, rest=""):
    """The learner's server's answer, fetched inside their sandbox; nobody else's, nothing else's."""
    found = previews.sandbox_for_token(token, request.user)
    if found is None:
        raise Http404("no such preview")
    sandbox, port = found
    try:
        answer = previews.fetch(sandbox, port, "/" + rest, request.META.get("QUERY_STRING", ""), engine=hosts.engine_for(sandbox.host))
    except previews.PreviewRefused as refused:
        return _refusal(request, refused)
    return _response(answer, port=port, prefix=reverse("labs:preview", args=[token]))


def _response(answer, *, port, prefix):
    body = answer.body
    content_type = answer.headers.get("content-type") or "application/octet-stream"
    if answer.truncated and content_type.startswith("text/html"):
        note = _("Preview cut at %(size)s: the page is larger than a preview shows.") % {"size": f"{preview.PREVIEW_ANSWER_LIMIT // 1024**2} MiB"}
        body += f'<p style="background:#fff3cd;color:#000;padding:1em">{note}</p>'.encode()
    response = HttpResponse(body, status=answer.status, content_type=content_type)
    for name, value in answer.headers.items():
        if name == "location":
            value = previews.local_location(value, port, prefix)
            if value is None:
                continue
        if name != "content-type":
            response[name.title()] = value
    if answer.truncated:
        response["X-Drydock-Preview"] = "truncated"
    for name, value in PREVIEW_HEADERS.items():
        response[name] = value
    return response


def _refusal(request, refused):
    """Drydock's own page saying why there is no preview, as restricted as a preview."""
    response = HttpResponse(render_to_string("labs/preview_refused.html", {"message": str(refused)}, request=request), status=refused.status)
    for name, value in PREVIEW_HEADERS.items():
        response[name] = value
    if refused.retry_after:
        response["Retry-After"] = str(refused.retry_after)
    return response

