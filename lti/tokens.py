"""Access tokens of a platform's services, asked for with the tool's signed assertion and kept until they expire."""

from django.core.cache import cache

from lti import keys, platform_client


def _cache_key(platform, scopes):
    return f"lti:token:{platform.pk}:{platform.token_url}:{' '.join(sorted(scopes))}"


def get(platform, scopes):
    key = _cache_key(platform, scopes)
    token = cache.get(key)
    if token:
        return token
    assertion = keys.sign(platform_client.client_assertion_claims(client_id=platform.client_id, token_url=platform.token_url))
    token, expires_in = platform_client.access_token(token_url=platform.token_url, client_assertion=assertion, scopes=scopes)
    # Given back a minute early, so a token never expires between the cache and the platform.
    cache.set(key, token, max(1, expires_in - 60))
    return token


def forget(platform, scopes):
    """The platform refused the token (401): the next call asks for a new one."""
    cache.delete(_cache_key(platform, scopes))
