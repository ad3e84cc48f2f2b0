"""A test LMS for the LTI tests: its own RSA key, its JWKS, an OAuth 2 token endpoint, AGS scores and NRPS roster,
served on loopback by a real HTTP server in a thread; it signs real id_tokens as Moodle or Canvas would."""

import functools
import itertools
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERSHIP_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


GENERATE = rsa.generate_private_key  # kept: the tests put tool_keys() in its place


@functools.lru_cache(maxsize=None)
def rsa_key(number=0):
    """Key pair `number`, made once per test run (2048-bit RSA takes up to a second to make on a busy machine)."""
    return GENERATE(public_exponent=65537, key_size=2048)


def tool_keys():
    """Stands in for the tool's key generator: a few keys made once, handed out in turn."""
    numbers = itertools.cycle(range(10, 13))
    return lambda **kwargs: rsa_key(next(numbers))


def public_jwk(private_key, kid):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class LoopbackLMS:
    client_id = "drydock-tool-id"
    deployment_id = "deployment-1"
    kid = "lms-key-1"

    def __init__(self):
        self.key = rsa_key(0)
        self.tool_jwks = None  # the tool's keyset, given by the test: the LMS verifies the tool's assertions with it
        self.scores = []  # (path, body) of every score accepted
        self.score_requests = 0
        self.fail_scores = 0  # how many score posts to answer 500 before accepting
        self.tokens = set()
        self.token_requests = []
        self.members = []
        self.keyset_requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @property
    def keyset_url(self):
        return self.url + "/jwks"

    @property
    def token_url(self):
        return self.url + "/token"

    @property
    def auth_login_url(self):
        return self.url + "/auth"

    @property
    def lineitem_url(self):
        return self.url + "/courses/7/lineitems/3/lineitem?type_id=2"

    @property
    def memberships_url(self):
        return self.url + "/courses/7/memberships"

    # --- id_tokens --------------------------------------------------------------------------

    def claims(self, *, nonce, sub="lms-user-42", message_type="LtiResourceLinkRequest", target_link_uri="", roles=None, **extra):
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "nonce": nonce, "iat": now, "exp": now + 300,
            "given_name": "Ada", "family_name": "Lovelace", "email": "ada@example.org",
            CLAIM + "message_type": message_type, CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": target_link_uri,
            CLAIM + "roles": roles if roles is not None else ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            CLAIM + "context": {"id": "course-7", "title": "Docker 101", "label": "DOCK101"},
        }
        if message_type == "LtiResourceLinkRequest":
            claims[CLAIM + "resource_link"] = {"id": "link-1", "title": "Lab: premier conteneur"}
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", SCORE_SCOPE], "lineitem": self.lineitem_url,
            }
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": self.memberships_url, "service_versions": ["2.0"],
            }
        else:
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.url + "/deep-linking/return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": True, "data": "opaque-42",
            }
        claims.update(extra)
        return claims

    def id_token(self, claims, *, key=None, kid=None):
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    # --- HTTP -------------------------------------------------------------------------------

    def _handler(self):
        lms = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=None, content_type="application/json", headers=()):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _authorised(self, scope):
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                return (token, scope) in lms.tokens

            def do_GET(self):
                if self.path == "/jwks":
                    lms.keyset_requests += 1
                    return self._send(200, {"keys": [public_jwk(lms.key, lms.kid)]})
                if self.path.startswith("/courses/7/memberships"):
                    if not self._authorised(MEMBERSHIP_SCOPE):
                        return self._send(401, {"error": "unauthorised"})
                    return self._send(200, {"id": lms.memberships_url, "context": {"id": "course-7"}, "members": lms.members},
                                      content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
                return self._send(404, {"error": "not found"})

            def do_POST(self):
                body = self._body()
                if self.path == "/token":
                    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    lms.token_requests.append(form)
                    try:
                        header = jwt.get_unverified_header(form["client_assertion"])
                        jwk = next(k for k in lms.tool_jwks["keys"] if k["kid"] == header["kid"])
                        claims = jwt.decode(form["client_assertion"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=lms.token_url)
                        assert claims["iss"] == claims["sub"] == lms.client_id and form["grant_type"] == "client_credentials"
                    except Exception as exc:  # noqa: BLE001 - any bad assertion is a 400 for the tool
                        return self._send(400, {"error": "invalid_client", "detail": str(exc)})
                    token = secrets.token_hex(8)
                    for scope in form.get("scope", "").split():
                        lms.tokens.add((token, scope))
                    return self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
                if self.path.startswith("/courses/7/lineitems/3/lineitem/scores"):
                    lms.score_requests += 1
                    if not self._authorised(SCORE_SCOPE):
                        return self._send(401, {"error": "unauthorised"})
                    if self.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
                        return self._send(415, {"error": "wrong content type"})
                    if lms.fail_scores > 0:
                        lms.fail_scores -= 1
                        return self._send(500, {"error": "the gradebook is down"})
                    lms.scores.append((self.path, json.loads(body)))
                    return self._send(200, {})
                return self._send(404, {"error": "not found"})

        return Handler
