"""Deep linking: the instructor's pick becomes a signed LtiDeepLinkingResponse the platform turns into activities."""

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lti import keys, launch, targets
from lti.models import DeepLinkingRequest

DEFAULT_SCORE_MAXIMUM = 100


class PickRefused(Exception):
    """The pick cannot be sent; the message says why."""


def content_item(target, *, base_url, score_maximum=DEFAULT_SCORE_MAXIMUM):
    item = {
        "type": "ltiResourceLink",
        "title": target.title,
        "url": base_url + target.url,
        "custom": {targets.CUSTOM_PARAMETER: target.key},
    }
    if target.graded:
        item["custom"][launch.SCORE_MAXIMUM_PARAMETER] = str(score_maximum)
        item["lineItem"] = {"scoreMaximum": score_maximum, "label": target.title, "resourceId": target.key, "tag": target.kind}
    return item


def response_jwt(request_row, items):
    platform = request_row.deployment.platform
    claims = {
        "iss": platform.client_id,
        "aud": [platform.issuer],
        "nonce": secrets.token_urlsafe(16),
        launch.MESSAGE_TYPE: "LtiDeepLinkingResponse",
        launch.VERSION: "1.3.0",
        launch.DEPLOYMENT_ID: request_row.deployment.deployment_id,
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": items,
    }
    if request_row.data:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = request_row.data
    return keys.sign(claims)


def answer(request_row, keys_picked, *, base_url, score_maximum=DEFAULT_SCORE_MAXIMUM, now=None):
    """The signed response for the picked target keys; the request is answered once."""
    picked = [targets.resolve_key(key) for key in keys_picked]
    if not keys_picked or any(target is None for target in picked):
        raise PickRefused(_("Pick at least one course, chapter, quiz or lab from the list."))
    if len(picked) > 1 and not request_row.accept_multiple:
        raise PickRefused(_("This platform takes one activity at a time: pick only one."))
    if not 0 < score_maximum <= 10000:
        raise PickRefused(_("The maximum score must be between 1 and 10000."))
    with transaction.atomic():
        if not DeepLinkingRequest.objects.filter(pk=request_row.pk, used_at__isnull=True).update(used_at=now or timezone.now()):
            raise PickRefused(_("This choice was already sent to the platform. Start again from your course."))
        return response_jwt(request_row, [content_item(t, base_url=base_url, score_maximum=score_maximum) for t in picked])
