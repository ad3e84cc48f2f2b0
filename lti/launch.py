"""LTI 1.3 launches: the OIDC login initiation, then the checks of the id_token the platform posts back.

Nothing is created before every check has passed: the platform's signature
(its keyset), issuer, audience, expiry, the state and nonce of a login
started here (used once: a replay is refused), a registered deployment, a
well-formed message and a target Drydock has. Then, in one transaction, the
state is spent and the account linked by (platform, sub), never by email.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import jwt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lti import platform_client, targets
from lti.models import Context, DeepLinkingRequest, Deployment, Launch, LoginState, LtiUser, Platform, ResourceLink

log = logging.getLogger(__name__)

LOGIN_LIFETIME = timedelta(minutes=10)
# Spent and stale logins are kept this long (a replay within it is named a replay), then deleted.
LOGIN_KEPT = timedelta(days=1)
# Clocks of the platform and of Drydock may differ this much.
LEEWAY_SECONDS = 60
KEYSET_CACHE_SECONDS = 600

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT_ID = CLAIM + "deployment_id"
TARGET_LINK_URI = CLAIM + "target_link_uri"
RESOURCE_LINK = CLAIM + "resource_link"
ROLES = CLAIM + "roles"
CONTEXT = CLAIM + "context"
CUSTOM = CLAIM + "custom"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
INSTRUCTOR_ROLES = ("#Instructor", "#Administrator", "#TeachingAssistant", "#ContentDeveloper")
SCORE_MAXIMUM_PARAMETER = "drydock_score_maximum"


class LaunchRefused(Exception):
    """A login or launch Drydock will not accept: `reason` for the log and the tests, `message` for the person."""

    def __init__(self, reason, message, *, detail="", status=400):
        super().__init__(message)
        self.reason, self.message, self.detail, self.status = reason, message, detail, status


class CookieBlocked(Exception):
    """The launch came back without the state cookie (a browser blocking third-party cookies in the LMS's frame)."""

    def __init__(self, login_state):
        super().__init__("state cookie missing")
        self.login_state = login_state


def state_cookie_name(state):
    return f"lti1p3-state-{state}"


def is_instructor(roles):
    return any(isinstance(role, str) and role.endswith(INSTRUCTOR_ROLES) for role in roles)


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# --- Login initiation --------------------------------------------------------------------------

def find_platform(issuer, client_id=""):
    platforms = Platform.objects.filter(issuer=issuer, is_active=True)
    if client_id:
        platforms = platforms.filter(client_id=client_id)
    found = list(platforms[:2])
    if len(found) != 1:
        raise LaunchRefused(
            "unknown_platform",
            _("No platform with this issuer and client id is registered in Drydock: an administrator must register it first."),
            detail=f"iss={issuer!r} client_id={client_id!r} matches={len(found)}", status=403,
        )
    return found[0]


def begin_login(params, *, redirect_uri):
    """The LoginState of a login initiation and the URL of the platform's authorization endpoint to send the browser to."""
    issuer, login_hint = params.get("iss", ""), params.get("login_hint", "")
    if not issuer or not login_hint:
        raise LaunchRefused("missing_parameters", _("This login request is incomplete: the platform must send iss and login_hint."),
                            detail=f"iss={issuer!r} login_hint present={bool(login_hint)}")
    platform = find_platform(issuer, params.get("client_id", ""))
    forget_old_logins()
    login_state = LoginState.objects.create(
        platform=platform, state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
        login_hint=login_hint[:1000], lti_message_hint=params.get("lti_message_hint", "")[:2000],
        target_link_uri=params.get("target_link_uri", "")[:1000], deployment_id=params.get("lti_deployment_id", "")[:255],
    )
    query = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": platform.client_id, "redirect_uri": redirect_uri, "login_hint": login_state.login_hint,
        "state": login_state.state, "nonce": login_state.nonce,
    }
    if login_state.lti_message_hint:
        query["lti_message_hint"] = login_state.lti_message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return login_state, f"{platform.auth_login_url}{separator}{urlencode(query)}"


def forget_old_logins(now=None):
    """Logins and deep-linking choices past any use are deleted as new logins come (one indexed DELETE each)."""
    cutoff = (now or timezone.now()) - LOGIN_KEPT
    LoginState.objects.filter(created_at__lt=cutoff).delete()
    DeepLinkingRequest.objects.filter(created_at__lt=cutoff).delete()


def login_parameters(login_state):
    """The login initiation again, for a new tab (top-level, where the browser keeps cookies)."""
    params = {"iss": login_state.platform.issuer, "client_id": login_state.platform.client_id, "login_hint": login_state.login_hint}
    for name, value in (("lti_message_hint", login_state.lti_message_hint), ("target_link_uri", login_state.target_link_uri),
                        ("lti_deployment_id", login_state.deployment_id)):
        if value:
            params[name] = value
    return urlencode(params)


# --- Launch ------------------------------------------------------------------------------------

@dataclass
class Message:
    platform: Platform
    deployment: Deployment
    login_state: LoginState
    claims: dict
    message_type: str
    target: object = None

    @property
    def roles(self):
        roles = self.claims.get(ROLES) or []
        return roles if isinstance(roles, list) else []


def find_login_state(state, now=None):
    now = now or timezone.now()
    login_state = LoginState.objects.select_related("platform").filter(state=state or "").first() if state else None
    if login_state is None or login_state.created_at < now - LOGIN_LIFETIME:
        raise LaunchRefused(
            "unknown_state",
            _("This launch matches no login started here, or it took too long. Launch the activity again from your course."),
            detail=f"state={state!r} known={login_state is not None}",
        )
    if login_state.used_at is not None:
        raise LaunchRefused(
            "replayed", _("This launch was already used: each launch works only once. Launch the activity again from your course."),
            detail=f"state={state!r} used at {login_state.used_at.isoformat()}", status=403,
        )
    return login_state


def _find_jwk(keyset, kid):
    return next((key for key in keyset.get("keys", []) if isinstance(key, dict) and key.get("kid") == kid), None)


def platform_key(platform, kid):
    """The platform's public key of this kid, from its keyset (cached; fetched again once for a kid not seen yet)."""
    cache_key = f"lti:keyset:{platform.pk}:{platform.keyset_url}"
    keyset, fresh = cache.get(cache_key), False
    for _attempt in range(2):
        if keyset is None or (not fresh and _find_jwk(keyset, kid) is None):
            try:
                keyset = platform_client.fetch_keyset(platform.keyset_url)
            except platform_client.PlatformError as exc:
                raise LaunchRefused(
                    "keyset_unavailable", _("Drydock could not read the platform's public keys. Try again in a moment."),
                    detail=str(exc), status=502,
                ) from exc
            cache.set(cache_key, keyset, KEYSET_CACHE_SECONDS)
            fresh = True
    jwk = _find_jwk(keyset, kid)
    if jwk is None:
        raise LaunchRefused("bad_signature", _("The platform's signature on this launch is not valid."),
                            detail=f"no key {kid!r} in {platform.keyset_url}", status=403)
    try:
        return jwt.PyJWK(jwk, algorithm="RS256").key
    except jwt.PyJWKError as exc:
        raise LaunchRefused("bad_signature", _("The platform's signature on this launch is not valid."), detail=str(exc), status=403) from exc


def _decode(id_token, platform):
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.DecodeError as exc:
        raise LaunchRefused("bad_message", _("This launch is not a valid LTI 1.3 message."), detail=f"id_token: {exc}") from exc
    if header.get("alg") != "RS256":
        raise LaunchRefused("bad_signature", _("The platform's signature on this launch is not valid."),
                            detail=f"alg {header.get('alg')!r}", status=403)
    key = platform_key(platform, header.get("kid"))
    refusals = [
        (jwt.ExpiredSignatureError, "expired_token", _("This launch has expired. Launch the activity again from your course."), 403),
        (jwt.InvalidAudienceError, "wrong_audience", _("This launch was meant for another tool (wrong audience)."), 403),
        (jwt.InvalidIssuerError, "wrong_issuer", _("This launch does not come from the platform that started the login."), 403),
        (jwt.InvalidSignatureError, "bad_signature", _("The platform's signature on this launch is not valid."), 403),
        (jwt.InvalidTokenError, "bad_message", _("This launch is not a valid LTI 1.3 message."), 400),
    ]
    try:
        return jwt.decode(
            id_token, key, algorithms=["RS256"], audience=platform.client_id, issuer=platform.issuer, leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.InvalidTokenError as exc:
        for error, reason, message, status in refusals:
            if isinstance(exc, error):
                raise LaunchRefused(reason, message, detail=f"{exc.__class__.__name__}: {exc}", status=status) from exc
        raise


def _bad(detail):
    return LaunchRefused("bad_message", _("This launch is not a valid LTI 1.3 message."), detail=detail)


def _launch_target(claims, host):
    custom = claims.get(CUSTOM) if isinstance(claims.get(CUSTOM), dict) else {}
    key = custom.get(targets.CUSTOM_PARAMETER)
    uri = claims.get(TARGET_LINK_URI) or ""
    target = targets.resolve_key(key) if key else targets.resolve_url(uri, host=host)
    # The tool's own URLs (a link added by hand, not by deep linking) open the catalogue; anything else must exist.
    if target is None and (key or urlsplit(uri).path not in ("", "/", reverse("lti:launch"), reverse("lti:login"))):
        raise LaunchRefused(
            "unknown_target", _("This activity points at nothing Drydock has, or at something no longer published."),
            detail=f"custom target {key!r} target_link_uri {uri!r}", status=404,
        )
    return target


def validate(*, id_token, state, state_cookie, host, now=None):
    """Every check of a launch; a Message when all pass. Writes nothing."""
    if not id_token or not state:
        raise LaunchRefused("missing_parameters", _("This launch is incomplete: the platform sent no id_token or no state."),
                            detail=f"id_token present={bool(id_token)} state present={bool(state)}")
    login_state = find_login_state(state, now)
    if state_cookie != login_state.state:
        raise CookieBlocked(login_state)
    platform = login_state.platform
    claims = _decode(id_token, platform)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != platform.client_id:
        raise LaunchRefused("wrong_audience", _("This launch was meant for another tool (wrong audience)."),
                            detail=f"aud={audiences} azp={claims.get('azp')!r}", status=403)
    if not secrets.compare_digest(str(claims["nonce"]), login_state.nonce):
        raise LaunchRefused("bad_nonce", _("This launch does not match the login started for it (wrong nonce)."),
                            detail="nonce differs from the login's", status=403)
    deployment_id = claims.get(DEPLOYMENT_ID)
    deployment = Deployment.objects.filter(platform=platform, deployment_id=deployment_id or "").first() if deployment_id else None
    if deployment is None:
        raise LaunchRefused(
            "unknown_deployment",
            _("This deployment of Drydock is not registered for this platform: an administrator must add the deployment id « %(id)s ».")
            % {"id": deployment_id or "—"},
            detail=f"deployment_id={deployment_id!r}", status=403,
        )
    if claims.get(VERSION) != "1.3.0":
        raise _bad(f"version {claims.get(VERSION)!r}")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _bad("no sub (anonymous launches are not supported)")
    message_type = claims.get(MESSAGE_TYPE)
    message = Message(platform, deployment, login_state, claims, message_type)
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(RESOURCE_LINK)
        if not isinstance(link, dict) or not link.get("id"):
            raise _bad("resource_link.id missing")
        message.target = _launch_target(claims, host)
    elif message_type == DEEP_LINKING_REQUEST:
        settings = claims.get(DEEP_LINKING_SETTINGS)
        if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
            raise _bad("deep_linking_settings.deep_link_return_url missing")
        if not is_instructor(message.roles):
            raise LaunchRefused("not_instructor", _("Only an instructor of the course can add Drydock activities."),
                                detail=f"roles={message.roles}", status=403)
    else:
        raise _bad(f"message_type {message_type!r}")
    return message


def refused(exc, *, request_info=""):
    log.warning("lti: launch refused (%s): %s %s", exc.reason, exc.detail, request_info)


# --- Creating what a valid launch needs ---------------------------------------------------------

def _username(platform, sub):
    return f"lti-{platform.pk}-{hashlib.sha256(sub.encode()).hexdigest()[:20]}"


def link_user(platform, claims, now=None):
    """The Drydock account of the platform's user `sub`: found by (platform, sub), made on the first launch."""
    now = now or timezone.now()
    sub = claims["sub"]
    name = " ".join(part for part in (claims.get("given_name"), claims.get("family_name")) if isinstance(part, str)) or claims.get("name") or ""
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    account = LtiUser.objects.select_related("user").filter(platform=platform, sub=sub).first()
    if account is None:
        user = get_user_model().objects.create_user(
            _username(platform, sub), email=email[:254],
            first_name=str(claims.get("given_name") or "")[:150], last_name=str(claims.get("family_name") or "")[:150],
        )
        account = LtiUser.objects.create(platform=platform, sub=sub, user=user, name=str(name)[:300], email=email[:254], last_launch_at=now)
        log.info("lti: new account %s for sub %r of %s", user.username, sub, platform.name)
    else:
        LtiUser.objects.filter(pk=account.pk).update(name=str(name)[:300], email=email[:254], last_launch_at=now)
    return account


def _grant_teaching(user):
    permission = Permission.objects.filter(codename="teach", content_type__app_label="classrooms").first()
    if permission is not None:
        user.user_permissions.add(permission)


def _context(platform, claims):
    context = claims.get(CONTEXT) if isinstance(claims.get(CONTEXT), dict) else None
    if not context or not context.get("id"):
        return None
    nrps = claims.get(NRPS) if isinstance(claims.get(NRPS), dict) else {}
    row, _created = Context.objects.get_or_create(platform=platform, context_id=str(context["id"])[:255])
    fields = {"title": str(context.get("title") or context.get("label") or "")[:300]}
    if nrps.get("context_memberships_url"):
        fields["memberships_url"] = str(nrps["context_memberships_url"])[:1000]
    Context.objects.filter(pk=row.pk).update(**fields)
    return Context.objects.get(pk=row.pk)


def _score_maximum(claims):
    custom = claims.get(CUSTOM) if isinstance(claims.get(CUSTOM), dict) else {}
    try:
        value = float(custom.get(SCORE_MAXIMUM_PARAMETER, 100))
    except (TypeError, ValueError):
        return 100.0
    return value if 0 < value <= 10000 else 100.0


@dataclass
class Outcome:
    user: object
    lti_user: LtiUser
    resource_link: ResourceLink = None
    context: Context = None
    deep_linking: DeepLinkingRequest = None
    is_instructor: bool = False


def complete(message, now=None):
    """Spend the login state (a second use is a replay) and make the account, activity and launch rows, in one transaction."""
    now = now or timezone.now()
    claims = message.claims
    with transaction.atomic():
        if not LoginState.objects.filter(pk=message.login_state.pk, used_at__isnull=True).update(used_at=now):
            raise LaunchRefused(
                "replayed", _("This launch was already used: each launch works only once. Launch the activity again from your course."),
                detail=f"state {message.login_state.state!r} spent meanwhile", status=403,
            )
        account = link_user(message.platform, claims, now)
        instructor = is_instructor(message.roles)
        if instructor:
            _grant_teaching(account.user)
        outcome = Outcome(user=account.user, lti_user=account, is_instructor=instructor)
        if message.message_type == DEEP_LINKING_REQUEST:
            settings = claims[DEEP_LINKING_SETTINGS]
            outcome.deep_linking = DeepLinkingRequest.objects.create(
                token=secrets.token_urlsafe(32), deployment=message.deployment, user=account.user,
                return_url=str(settings["deep_link_return_url"])[:1000], data=str(settings.get("data") or "")[:2000],
                accept_multiple=bool(settings.get("accept_multiple")),
            )
            return outcome
        context = _context(message.platform, claims)
        ags = claims.get(AGS_ENDPOINT) if isinstance(claims.get(AGS_ENDPOINT), dict) else {}
        link_claim = claims[RESOURCE_LINK]
        link, _created = ResourceLink.objects.update_or_create(
            deployment=message.deployment, resource_link_id=str(link_claim["id"])[:255],
            defaults={
                "context": context, "title": str(link_claim.get("title") or "")[:300],
                "target": message.target.key if message.target else "",
                "lineitem_url": str(ags.get("lineitem") or "")[:1000],
                "ags_scopes": [s for s in ags.get("scope", []) if isinstance(s, str)] if isinstance(ags.get("scope"), list) else [],
                "score_maximum": _score_maximum(claims),
            },
        )
        Launch.objects.update_or_create(resource_link=link, lti_user=account, defaults={"is_instructor": instructor})
        outcome.resource_link, outcome.context = link, context
        return outcome
