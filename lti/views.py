"""LTI 1.3 endpoints: JWKS, OIDC login initiation, launch, deep linking picker, roster sync, set-up page for admins."""

import logging

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import Course
from lti import deep_linking, keys, launch, middleware, roster, targets
from lti.models import Context, DeepLinkingRequest, Launch, Platform

log = logging.getLogger(__name__)
SESSION_FRAME_ANCESTORS = middleware.SESSION_FRAME_ANCESTORS
DEEP_LINKING_LIFETIME = launch.LOGIN_LIFETIME * 6


def _base_url(request):
    return request.build_absolute_uri("/").rstrip("/")


def tool_urls(request):
    """The URLs a platform's admin pastes when adding Drydock."""
    return {
        "tool_url": request.build_absolute_uri(reverse("lti:launch")),
        "login_url": request.build_absolute_uri(reverse("lti:login")),
        "redirect_url": request.build_absolute_uri(reverse("lti:launch")),
        "deep_linking_url": request.build_absolute_uri(reverse("lti:launch")),
        "jwks_url": request.build_absolute_uri(reverse("lti:jwks")),
        "canvas_config_url": request.build_absolute_uri(reverse("lti:canvas_config")),
        "domain": request.get_host(),
    }


def _refused(request, exc):
    launch.refused(exc, request_info=f"from {request.META.get('REMOTE_ADDR', '?')}")
    return render(request, "lti/refused.html", {"message": exc.message, "reason": exc.reason}, status=exc.status)


@require_GET
def jwks(request):
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = "public, max-age=3600"
    return response


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def login_initiation(request):
    params = request.POST if request.method == "POST" else request.GET
    try:
        login_state, url = launch.begin_login(params, redirect_uri=request.build_absolute_uri(reverse("lti:launch")))
    except launch.LaunchRefused as exc:
        return _refused(request, exc)
    response = redirect(url)
    # In the LMS's frame the launch comes back cross-site: only SameSite=None (which browsers take only with Secure) returns it.
    secure = request.is_secure()
    response.set_cookie(
        launch.state_cookie_name(login_state.state), login_state.state, max_age=int(launch.LOGIN_LIFETIME.total_seconds()),
        httponly=True, secure=secure, samesite="None" if secure else "Lax", path=reverse("lti:launch"),
    )
    return response


@csrf_exempt
@xframe_options_exempt
@require_POST
def launch_view(request):
    state = request.POST.get("state", "")
    try:
        message = launch.validate(
            id_token=request.POST.get("id_token", ""), state=state,
            state_cookie=request.COOKIES.get(launch.state_cookie_name(state)) if state else None, host=request.get_host(),
        )
        outcome = launch.complete(message)
    except launch.CookieBlocked as blocked:
        log.info("lti: launch for state %s came without its cookie: offering a new tab", blocked.login_state.state)
        return render(request, "lti/new_tab.html", {
            "login_url": reverse("lti:login") + "?" + launch.login_parameters(blocked.login_state),
        })
    except launch.LaunchRefused as exc:
        return _refused(request, exc)
    login(request, outcome.user, backend="django.contrib.auth.backends.ModelBackend")
    ancestors = {launch.origin(message.platform.issuer), launch.origin(message.platform.auth_login_url)} - {""}
    request.session[SESSION_FRAME_ANCESTORS] = sorted(ancestors)
    log.info("lti: %s launched by %s (%s) from %s", message.message_type, outcome.user.username, message.claims["sub"], message.platform.name)
    if outcome.deep_linking is not None:
        response = redirect("lti:deep_linking", token=outcome.deep_linking.token)
    else:
        if outcome.is_instructor and outcome.context is not None and outcome.context.memberships_url:
            messages.info(request, _("Instructor: you can bring this course's roster into a Drydock classroom from %(url)s.")
                          % {"url": request.build_absolute_uri(reverse("lti:roster", args=[outcome.context.pk]))})
        response = redirect(message.target.url if message.target else reverse("courses:home"))
    response.delete_cookie(launch.state_cookie_name(state), path=reverse("lti:launch"))
    return response


def _deep_linking_request_for(user, token):
    request_row = get_object_or_404(
        DeepLinkingRequest.objects.select_related("deployment__platform"), token=token, user=user,
        created_at__gte=timezone.now() - DEEP_LINKING_LIFETIME,
    )
    return request_row


@login_required
@require_http_methods(["GET", "POST"])
def deep_linking_pick(request, token):
    request_row = _deep_linking_request_for(request.user, token)
    error = None
    if request.method == "POST":
        try:
            score_maximum = float(request.POST.get("score_maximum") or deep_linking.DEFAULT_SCORE_MAXIMUM)
        except ValueError:
            score_maximum = -1
        try:
            signed = deep_linking.answer(request_row, request.POST.getlist("target"), base_url=_base_url(request), score_maximum=score_maximum)
        except deep_linking.PickRefused as exc:
            error = str(exc)
        else:
            log.info("lti: deep linking answered for %s by %s: %s", request_row.deployment.platform.name, request.user.username,
                     request.POST.getlist("target"))
            return render(request, "lti/deep_linking_return.html", {"return_url": request_row.return_url, "jwt": signed})
    return render(request, "lti/deep_linking.html", {
        "request_row": request_row, "catalogue": targets.catalogue(), "error": error,
        "score_maximum": request.POST.get("score_maximum", deep_linking.DEFAULT_SCORE_MAXIMUM),
    }, status=400 if error else 200)


def get_context_for_instructor(user, pk):
    """An LMS course the user launched an activity of as an instructor; any other is a 404."""
    taught = Launch.objects.filter(lti_user__user=user, is_instructor=True).values("resource_link__context")
    return get_object_or_404(Context.objects.select_related("platform", "classroom").filter(pk__in=taught), pk=pk)


def _courses_of(context):
    keys_ = context.resource_links.values_list("target", flat=True)
    slugs = {key.partition(":")[2].partition("/")[0] for key in keys_ if key}
    return list(Course.objects.filter(slug__in=slugs, is_published=True)) or list(Course.objects.filter(is_published=True))


@login_required
@require_http_methods(["GET", "POST"])
def roster_view(request, pk):
    context = get_context_for_instructor(request.user, pk)
    courses = _courses_of(context)
    if request.method == "POST":
        course = context.classroom.course if context.classroom else next((c for c in courses if str(c.pk) == request.POST.get("course")), None)
        if course is None:
            messages.error(request, _("Pick the Drydock course of this classroom."))
            return redirect("lti:roster", pk=context.pk)
        try:
            classroom, added, removed = roster.sync(context, instructor=request.user, course=course)
        except roster.SyncRefused as exc:
            messages.error(request, str(exc))
            return redirect("lti:roster", pk=context.pk)
        messages.success(request, _("Roster synchronised: %(added)s learners added, %(removed)s removed.") % {"added": added, "removed": removed})
        return redirect(classroom.get_absolute_url())
    return render(request, "lti/roster.html", {"context": context, "courses": courses})


@staff_member_required
def configuration(request):
    platforms = Platform.objects.prefetch_related("deployments").order_by("name")
    return render(request, "lti/configuration.html", {"urls": tool_urls(request), "platforms": platforms, "key": keys.current()})


@require_GET
def canvas_config(request):
    """Canvas's developer key JSON ("Enter URL"): Drydock as an LTI 1.3 tool with AGS, NRPS and deep linking."""
    urls = tool_urls(request)
    placement = {"message_type": "LtiDeepLinkingRequest", "target_link_uri": urls["deep_linking_url"], "text": "Drydock"}
    return JsonResponse({
        "title": "Drydock",
        "description": _("Docker labs graded from a real daemon, and quizzes."),
        "oidc_initiation_url": urls["login_url"],
        "target_link_uri": urls["tool_url"],
        "public_jwk_url": urls["jwks_url"],
        "scopes": [
            "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
            "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
        ],
        "extensions": [{
            "platform": "canvas.instructure.com", "privacy_level": "public", "domain": urls["domain"],
            "settings": {"placements": [
                {"placement": "assignment_selection", **placement},
                {"placement": "link_selection", **placement},
            ]},
        }],
        "custom_fields": {},
    })
