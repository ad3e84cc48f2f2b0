"""Names and Roles (NRPS): an LMS course's roster fills a Drydock classroom, and keeps it in step."""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import Classroom, Membership
from lti import launch, platform_client, tokens
from lti.models import Context, LtiUser

log = logging.getLogger(__name__)


class SyncRefused(Exception):
    """The roster cannot be read; the message says why."""


def sync(context, *, instructor, course, now=None):
    """Create the context's classroom if needed (owned by the instructor), add its active learners, remove those gone.

    Returns (classroom, added, removed). Learners are linked by (platform, user_id) as launches link them.
    """
    now = now or timezone.now()
    if not context.memberships_url:
        raise SyncRefused(_("This LMS course did not offer its roster (Names and Roles) to Drydock."))
    platform = context.platform
    scopes = [platform_client.MEMBERSHIP_SCOPE]
    try:
        token = tokens.get(platform, scopes)
        _info, members = platform_client.roster(memberships_url=context.memberships_url, token=token)
    except platform_client.PlatformError as exc:
        if exc.status == 401:
            tokens.forget(platform, scopes)
        log.warning("lti: roster of %s not read from %s: %s", context, platform.name, exc)
        raise SyncRefused(_("The platform did not give the roster. Try again in a moment.")) from exc
    learners = [
        m for m in members
        if isinstance(m.get("user_id"), str) and m["user_id"] and m.get("status", "Active") == "Active"
        and not launch.is_instructor(m.get("roles") or [])
    ]
    with transaction.atomic():
        classroom = context.classroom
        if classroom is None:
            classroom = Classroom.objects.create(course=course, owner=instructor, title=(context.title or context.context_id)[:200])
            Context.objects.filter(pk=context.pk).update(classroom=classroom)
            context.classroom = classroom
        wanted = set()
        for member in learners:
            claims = {"sub": member["user_id"], "given_name": member.get("given_name"), "family_name": member.get("family_name"),
                      "name": member.get("name"), "email": member.get("email")}
            account = LtiUser.objects.filter(platform=platform, sub=member["user_id"]).first() or launch.link_user(platform, claims, now)
            wanted.add(account.user_id)
        present = set(Membership.objects.filter(classroom=classroom).values_list("user_id", flat=True))
        Membership.objects.bulk_create([Membership(classroom=classroom, user_id=pk) for pk in wanted - present], ignore_conflicts=True)
        # Only members who came from this platform leave; someone who joined with the code stays.
        from_platform = set(LtiUser.objects.filter(platform=platform, user_id__in=present).values_list("user_id", flat=True))
        gone = (present & from_platform) - wanted
        Membership.objects.filter(classroom=classroom, user_id__in=gone).delete()
        Context.objects.filter(pk=context.pk).update(synced_at=now)
    log.info("lti: roster of %s synced into classroom %s: %s added, %s removed", context, classroom.pk, len(wanted - present), len(gone))
    return classroom, len(wanted - present), len(gone)
