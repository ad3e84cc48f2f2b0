"""Web previews of a sandbox's published ports, for its owner.

The browser never talks to the sandbox: a preview view asks the engine, which
runs curl inside the sandbox container against its own loopback (grader/preview.py),
bounded in bytes and seconds. Only a port a running nested container publishes is
fetched; no header of the browser's (cookies included) is passed on, and only a few
of the answer's come back.

A preview is served under /apercu/<link>/ with `Content-Security-Policy: sandbox`:
the learner's page runs in an opaque origin and cannot script Drydock's pages or
read its cookies. Such a page's own requests (its CSS, its images) carry no cookie
either, so the link itself says whose preview it is: a signed (sandbox, port,
owner) that lapses after PREVIEW_LINK_MINUTES and with its sandbox. A signed-in
user who is not the owner gets a 404 even with the link.

Each preview request costs the engine an inspect, and a page an exec of curl too: a
sandbox's owner gets PREVIEW_REQUESTS_PER_MINUTE of them in any minute, over all their
sandboxes (each has one owner, so each sandbox is bound by it too), then a 429.
"""

import re

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _

from grader import engine as docker_engine
from grader import preview
from labs import throttle
from labs.models import Sandbox

SALT = "drydock.preview"


class PreviewRefused(Exception):
    """No preview: the message says why, for the owner's eyes; `status` is the HTTP status to answer with."""

    def __init__(self, message, status=404, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def _count_request(sandbox):
    """One more request that reaches the sandbox's engine; PreviewRefused (429) past its owner's limit."""
    limit = settings.PREVIEW_REQUESTS_PER_MINUTE
    retry_after = throttle.take(f"drydock:preview-requests:{sandbox.owner_id}", limit=limit)
    if retry_after:
        raise PreviewRefused(
            _("Too many preview requests: %(limit)s a minute at most. Wait %(seconds)s s, then try again.") % {"limit": limit, "seconds": retry_after},
            status=429, retry_after=retry_after,
        )


def link_token(sandbox, port):
    return signing.dumps([sandbox.pk, port, sandbox.owner_id], salt=SALT, compress=False)


def sandbox_for_token(token, user):
    """(sandbox, port) a link names, if it is sound, recent and its sandbox runs; None otherwise (answered as a 404)."""
    try:
        pk, port, owner = signing.loads(token, salt=SALT, max_age=settings.PREVIEW_LINK_MINUTES * 60)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (pk, port, owner)):
        return None
    if user.is_authenticated and user.pk != owner:
        return None
    sandbox = Sandbox.objects.filter(pk=pk, owner_id=owner, status=Sandbox.Status.READY).first()
    return (sandbox, port) if sandbox else None


def published(sandbox, *, engine):
    """The ports the sandbox's running containers publish; PreviewRefused when its daemon does not answer.
    Every preview request starts here (a page's fetch too), so here it is counted."""
    if sandbox.status != Sandbox.Status.READY:
        raise PreviewRefused(_not_ready(), status=409)
    _count_request(sandbox)
    try:
        return engine.published_ports(sandbox.container_name, str(settings.SANDBOX_SOCKET_ROOT / sandbox.container_name))
    except docker_engine.EngineUnavailable as exc:
        raise PreviewRefused(_("Your sandbox's Docker daemon did not answer. Try again in a moment."), status=503) from exc


def fetch(sandbox, port, path, query, *, engine):
    """The PreviewAnswer of the sandbox's own published `port`; PreviewRefused for a port not published or nothing answering."""
    if port not in {p.port for p in published(sandbox, engine=engine)}:
        raise PreviewRefused(_("Port %(port)s of your sandbox is not published by a running container (docker run -p %(port)s:…).") % {"port": port})
    try:
        answer = engine.fetch_preview(sandbox.container_name, port, path, query)
    except docker_engine.EngineUnavailable as exc:
        raise PreviewRefused(_("Your sandbox did not answer. Try again in a moment."), status=503) from exc
    if answer is None:
        raise PreviewRefused(
            _("Nothing answered on port %(port)s of your sandbox within %(seconds)s s: is the server in the container listening?")
            % {"port": port, "seconds": preview.PREVIEW_SECONDS}, status=502,
        )
    return answer


def local_location(location, port, prefix):
    """A redirect of the learner's server, made to stay in the preview: its own paths under `prefix`; None for elsewhere."""
    match = re.match(rf"https?://(?:127\.0\.0\.1|localhost)(?::{port})?(/.*)?$", location, re.IGNORECASE)
    if match:
        return prefix + (match.group(1) or "/").lstrip("/")
    if location.startswith("/") and not location.startswith("//"):
        return prefix + location.lstrip("/")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//", location):
        return None  # another host: not followed, not offered
    return location  # relative to the page: stays under the prefix by itself


def _not_ready():
    return _("Your sandbox is not ready: start it, then open the preview again.")

