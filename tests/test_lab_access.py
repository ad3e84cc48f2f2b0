"""Ownership and refusals around sandboxes, without Docker: rows are enough."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from labs import queue, sandboxes
from labs.access import find_sandbox_for_user
from labs.models import Lab, Sandbox, Submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(shipped_course):
    return Lab.objects.get(slug="tirer-une-version")


@pytest.fixture
def bob(db):
    return User.objects.create_user("bob", "bob@example.com", "pw-bob-1234567")


def make_sandbox(owner, lab, status=Sandbox.Status.READY, **fields):
    now = timezone.now()
    return Sandbox.objects.create(
        owner=owner, lab=lab, status=status, expires_at=now + timedelta(minutes=60), last_activity_at=now, **fields,
    )


def test_anonymous_visitors_are_sent_to_log_in_from_a_lab(client, lab):
    response = client.get(lab.get_absolute_url())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_lab_page_shows_instructions_tasks_and_a_start_button(learner_client, lab):
    page = learner_client.get(lab.get_absolute_url()).text
    assert "Tirer nginx en version 1.22" in page and "Démarrer le bac à sable" in page
    assert 'class="runnable language-sh"' in page
    assert "0 sur 5 tâches faites" in page


def test_another_learner_cannot_see_check_extend_or_stop_my_sandbox(client, learner, bob, lab):
    mine = make_sandbox(learner, lab)
    client.force_login(bob)
    for name, method in [("sandbox_status", "get"), ("sandbox_stop", "post"), ("sandbox_extend", "post"), ("sandbox_reset", "post"), ("sandbox_heartbeat", "post")]:
        response = getattr(client, method)(reverse(f"labs:{name}", args=[mine.pk]))
        assert response.status_code == 404, name
    # Bob's check runs against Bob's sandbox only: he has none, so it is refused and mine is untouched.
    response = client.post(reverse("labs:task_check", args=["docker-fr", lab.slug, "tirer-nginx-1-22"]), HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    mine.refresh_from_db()
    assert mine.status == Sandbox.Status.READY and not Submission.objects.exists()


def test_the_terminal_finds_only_the_learners_own_sandbox(learner, bob, lab):
    mine = make_sandbox(learner, lab)
    assert find_sandbox_for_user(learner, mine.pk) == mine
    assert find_sandbox_for_user(bob, mine.pk) is None
    assert find_sandbox_for_user(learner, mine.pk + 1000) is None


def test_another_learners_verdict_is_not_visible(client, learner, bob, lab):
    sandbox = make_sandbox(learner, lab)
    submission = Submission.objects.create(user=learner, task=lab.tasks.first(), sandbox=sandbox, status=Submission.Status.PASSED, message="ok")
    client.force_login(bob)
    assert client.get(reverse("labs:submission", args=[submission.pk])).status_code == 404


def test_one_sandbox_per_learner_gives_a_clear_message(learner_client, learner, lab):
    other = Lab.objects.get(slug="premier-conteneur")
    make_sandbox(learner, other)
    response = learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), follow=True)
    assert response.status_code == 200
    assert "Vous avez déjà un bac à sable en marche (« Premier conteneur »)" in response.text
    assert Sandbox.objects.filter(owner=learner).count() == 1


def test_a_full_host_puts_the_learner_in_the_queue_with_their_place(learner_client, bob, lab, settings):
    settings.SANDBOX_MAX_PER_HOST = 1
    make_sandbox(bob, Lab.objects.get(slug="premier-conteneur"))
    response = learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    state = response.json()
    assert state["status"] == "waiting" and state["position"] == 1 and state["elapsed"] >= 0
    assert state["step_label"] == "En attente de place sur la machine : vous êtes n° 1 dans la file ; il démarrera tout seul."
    page = learner_client.get(reverse("labs:lab", args=["docker-fr", lab.slug])).text
    assert "En attente de place" in page and "n° 1 dans la file" in page


def test_starting_twice_gives_the_same_sandbox(learner_client, learner, lab, monkeypatch):
    queued = []
    monkeypatch.setattr(queue, "after_commit", lambda name, *args, **kwargs: queued.append((name, args)))
    first = learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), HTTP_ACCEPT="application/json").json()
    second = learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), HTTP_ACCEPT="application/json").json()
    assert first["id"] == second["id"] and first["status"] == "requested"
    assert queued == [(queue.PROVISION_SANDBOX, (first["id"],))]  # one provisioning task queued, not two


def test_extend_is_bounded_by_the_maximum_lifetime(learner, lab, settings):
    settings.SANDBOX_EXTEND_MINUTES = 30
    settings.SANDBOX_MAX_LIFETIME_MINUTES = 100
    sandbox = make_sandbox(learner, lab)
    assert sandboxes.extend(sandbox)
    sandbox.refresh_from_db()
    assert sandboxes.extend(sandbox)
    sandbox.refresh_from_db()
    assert sandbox.expires_at == sandbox.requested_at + timedelta(minutes=100)
    assert not sandboxes.extend(sandbox)


def test_answer_of_the_wrong_shape_is_refused_and_nothing_is_queued(learner_client, learner, lab):
    make_sandbox(learner, lab)
    url = reverse("labs:task_check", args=["docker-fr", lab.slug, "identifiant-de-latest"])
    response = learner_client.post(url, {"answer": "a" * 501}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and "trop longue" in response.json()["error"]
    assert not Submission.objects.exists()


def test_checking_a_task_of_an_unpublished_lab_is_not_found(learner_client, learner, lab):
    make_sandbox(learner, lab)
    Lab.objects.filter(pk=lab.pk).update(is_published=False)
    assert learner_client.get(lab.get_absolute_url()).status_code == 404
    url = reverse("labs:task_check", args=["docker-fr", lab.slug, "identifiant-de-latest"])
    assert learner_client.post(url, {"answer": "abc"}, HTTP_ACCEPT="application/json").status_code == 404
    assert not Submission.objects.exists()


def test_a_finished_lab_says_so_and_leads_to_the_next_step(learner_client, learner, lab):
    url = reverse("labs:lab", args=["docker-fr", lab.slug])
    page = learner_client.get(url).text
    assert 'id="lab-finished" role="status" hidden' in page
    sandbox = make_sandbox(learner, lab, status=Sandbox.Status.STOPPED)
    for task in lab.tasks.all():
        Submission.objects.create(user=learner, task=task, sandbox=sandbox, status=Submission.Status.PASSED)
    page = learner_client.get(url).text
    finished = page[page.index('id="lab-finished"'):]
    opening, finished = finished[: finished.index(">")], finished[: finished.index("</div>")]
    assert "hidden" not in opening and "Travail pratique terminé : toutes les tâches sont réussies." in finished
    # Said as a success is: its colour (message-success), its icon and its word.
    assert '<span class="message-icon" aria-hidden="true">✓</span>' in finished and '<span class="message-kind">Fait :</span>' in finished
    assert "Étape suivante :" in finished and 'href="/cours/docker-fr/' in finished
