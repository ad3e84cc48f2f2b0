"""An instructor extends and stops a learner's real sandbox (real Docker engine; run by bin/drydock test)."""

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from classrooms.models import Classroom, Membership
from grader import engine
from labs import sandboxes
from labs.models import Sandbox
from tests.classrooms_fixtures import make_instructor
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_instructor_sees_memory_then_extends_and_stops_a_learners_real_sandbox(client, ready_sandbox_for, shipped_course):
    course = shipped_course
    instructor = make_instructor("ines")
    learner = User.objects.create_user("lea")
    classroom = Classroom.objects.create(course=course, owner=instructor, title="Classe réelle")
    Membership.objects.create(classroom=classroom, user=learner)
    sandbox = ready_sandbox_for(learner)
    client.force_login(instructor)
    client.cookies["django_language"] = "en"

    page = client.get(reverse("classrooms:sandboxes", args=[classroom.pk])).text
    # Memory read from the real engine: a size, whatever its unit (an idle sandbox whose daemon starts on demand
    # uses well under a megabyte).
    assert "Premier conteneur" in page and re.search(r"\d[\d.,]*\xa0(bytes|KB|MB|GB)", page), page

    before = sandbox.expires_at
    client.post(reverse("classrooms:sandbox_extend", args=[classroom.pk, sandbox.pk]))
    sandbox.refresh_from_db()
    assert sandbox.expires_at > before and sandbox.extensions == 1

    client.post(reverse("classrooms:sandbox_stop", args=[classroom.pk, sandbox.pk]))
    sandbox.refresh_from_db()
    assert sandbox.status == Sandbox.Status.STOPPED
    # In a test transaction the queued removal never leaves: do what the task would, then check it is gone.
    sandboxes.remove_container(sandbox.pk, engine=engine.default())
    wait_until(lambda: not engine.default().sandbox_running(sandbox.container_name), 30, message="the sandbox container to go")
