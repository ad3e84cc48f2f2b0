"""The tool's own RSA keys: generated, rotated, published as a JWKS, and used to sign what the tool sends."""

import json
import secrets
import time
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone

from lti.models import ToolKey

KEY_SIZE = 2048
# A platform caches the tool's keyset; a retired key stays published this long so what it signed still verifies.
RETIRED_KEY_KEPT = timedelta(days=7)


def generate():
    """A new key pair, stored; it becomes the one that signs."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
    ).decode()
    kid = secrets.token_urlsafe(16)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return ToolKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=public_jwk)


def current():
    """The signing key; the first call on a new install makes one."""
    key = ToolKey.objects.filter(retired_at__isnull=True).order_by("-created_at", "-pk").first()
    return key or generate()


@transaction.atomic
def rotate(now=None):
    """A new signing key; the old ones are retired (still published), those retired long ago are deleted."""
    now = now or timezone.now()
    ToolKey.objects.filter(retired_at__isnull=True).update(retired_at=now)
    deleted = ToolKey.objects.filter(retired_at__lt=now - RETIRED_KEY_KEPT).delete()[0]
    return generate(), deleted


def published(now=None):
    now = now or timezone.now()
    current()
    keys = ToolKey.objects.exclude(retired_at__lt=now - RETIRED_KEY_KEPT).order_by("-created_at", "-pk")
    return list(keys)


def jwks(now=None):
    return {"keys": [key.public_jwk for key in published(now)]}


def sign(claims, *, lifetime=300):
    """A JWT of these claims signed by the current key (iat and exp added), its kid in the header."""
    key = current()
    now = int(time.time())
    body = {"iat": now, "exp": now + lifetime, **claims}
    return jwt.encode(body, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})
