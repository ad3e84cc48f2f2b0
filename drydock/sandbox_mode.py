"""How sandboxes are isolated on this server, for the start page and /healthz.

"isolated": the engine uses user namespaces (root in a sandbox is nobody on
the host); "trusted": it does not, and SANDBOX_WITHOUT_USER_NAMESPACES says
this single-user machine accepts it; "refused": it does not, so no sandbox
starts; "unavailable": the engine does not answer.
"""

from functools import cached_property
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from grader import engine

CACHE_KEY = "drydock:sandbox-mode"
CACHE_SECONDS = 30


def current_mode():
    mode = cache.get(CACHE_KEY)
    if mode is None:
        try:
            info = engine.default().engine_info()
        except engine.EngineUnavailable:
            mode = "unavailable"
        else:
            mode = "isolated" if info.user_namespaces else ("trusted" if settings.SANDBOX_WITHOUT_USER_NAMESPACES else "refused")
        cache.set(CACHE_KEY, mode, CACHE_SECONDS)
    return mode


def describe(mode):
    return {
        "isolated": _("Sandboxes are isolated: root in a sandbox is an unprivileged user of this server (user namespaces)."),
        "trusted": _("Sandboxes are NOT isolated from this server (no user namespaces, accepted for a trusted single-user machine)."),
        "refused": _("Sandboxes are off: this server's Docker engine does not use user namespaces."),
        "unavailable": _("Sandboxes are unavailable: the Docker engine does not answer."),
    }[mode]


def problems():
    """What keeps sandboxes from being isolated now (engine, host rules, bridge ports); empty when all holds."""
    registry = urlsplit(settings.SANDBOX_REGISTRY_MIRROR).hostname
    return engine.default().isolation_problems(
        bridge=settings.SANDBOX_BRIDGE, registry=registry,
        allow_without_user_namespaces=settings.SANDBOX_WITHOUT_USER_NAMESPACES,
    )


class _Mode:
    """Asked of the engine only when a page shows it."""

    @cached_property
    def kind(self):
        return current_mode()

    @cached_property
    def message(self):
        return describe(self.kind)


def sandbox_mode(request):
    """Context processor: `sandbox_mode.kind` and `sandbox_mode.message` for the pages that show them."""
    return {"sandbox_mode": _Mode()}
