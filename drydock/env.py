"""Read settings from the environment, failing loudly on values that make no sense.

A typo in a deployment's environment must stop the process at start-up with a
message naming the variable, never run with a silently different value.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default=None, *, required=False):
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"{name} must be set in the environment (see .env.example).")
        return default
    return value


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(name, default, *, minimum=None, maximum=None):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {maximum}.")
    return value


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_labels(name, default=()):
    """Comma-separated `key=value` container labels as a dict; an item without `=` or a key stops start-up."""
    labels = {}
    for item in env_list(name, default):
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key or any(c.isspace() for c in key):
            raise ImproperlyConfigured(f"{name}: {item!r} is not a label: write key=value, e.g. {name}=drydock.school=lycee-1")
        labels[key] = value.strip()
    return labels


def env_choice(name, default, choices):
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(sorted(choices))}.")
    return value


def env_pool_sizes(name):
    """Comma-separated `lab-slug=count` pairs as a dict of non-negative ints; anything else stops start-up."""
    sizes = {}
    for item in env_list(name):
        slug, equals, count = item.partition("=")
        slug, count = slug.strip(), count.strip()
        if not equals or not slug or not count.isdigit():
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not a pool size: write lab-slug=count, e.g. {name}=construire-avec-le-cache=3"
            )
        sizes[slug] = int(count)
    return sizes
