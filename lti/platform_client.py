"""The one seam to the platforms' HTTP services: their keyset, OAuth 2 token, AGS scores and NRPS roster.

Every call has a time limit and raises PlatformError (with `retryable` set for
answers worth trying again: no answer, 429, 5xx) or returns plain data.
"""

import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import requests

TIMEOUT = (5, 10)
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERSHIP_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MAX_ROSTER_PAGES = 50


class PlatformError(Exception):
    def __init__(self, message, *, status=None, retryable=False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def _request(method, url, **kwargs):
    try:
        response = requests.request(method, url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise PlatformError(f"{method} {url}: no answer ({exc.__class__.__name__}: {exc})", retryable=True) from exc
    if response.status_code >= 300:
        retryable = response.status_code == 429 or response.status_code >= 500
        raise PlatformError(
            f"{method} {url}: HTTP {response.status_code} {response.text[:300]}", status=response.status_code, retryable=retryable,
        )
    return response


def _json(response, url):
    try:
        return response.json()
    except ValueError as exc:
        raise PlatformError(f"{url}: the answer is not JSON") from exc


def fetch_keyset(url):
    data = _json(_request("GET", url, headers={"Accept": "application/json"}), url)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise PlatformError(f"{url}: not a JWKS (no list of keys)")
    return data


def access_token(*, token_url, client_assertion, scopes):
    """An access token for these scopes, from the client-credentials grant with a signed JWT (LTI Security)."""
    response = _request("POST", token_url, data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion,
        "scope": " ".join(scopes),
    })
    data = _json(response, token_url)
    if not isinstance(data, dict) or not data.get("access_token"):
        raise PlatformError(f"{token_url}: no access_token in the answer")
    return data["access_token"], int(data.get("expires_in") or 3600)


def client_assertion_claims(*, client_id, token_url):
    return {"iss": client_id, "sub": client_id, "aud": token_url, "jti": uuid.uuid4().hex, "iat": int(time.time())}


def scores_url(lineitem_url):
    """The line item's scores endpoint: '/scores' appended to its path, its query kept (Moodle puts ids there)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def post_score(*, lineitem_url, token, score):
    url = scores_url(lineitem_url)
    _request("POST", url, json=score, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/vnd.ims.lis.v1.score+json",
    })


def roster(*, memberships_url, token):
    """Every member of the context, following the Link rel="next" pages (bounded)."""
    members, url, pages = [], memberships_url, 0
    context = {}
    while url and pages < MAX_ROSTER_PAGES:
        response = _request("GET", url, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        })
        data = _json(response, url)
        if not isinstance(data, dict) or not isinstance(data.get("members"), list):
            raise PlatformError(f"{url}: not a membership container")
        context = data.get("context") or context
        members.extend(m for m in data["members"] if isinstance(m, dict))
        url = response.links.get("next", {}).get("url")
        pages += 1
    return context, members
