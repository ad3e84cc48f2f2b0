"""Playgrounds on the in-memory engine: a free sandbox whose disk is kept, started fresh on request, reaped when stale."""

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from courses.models import Chapter, Course
from grader import engine
from grader.fake_engine import FakeEngine
from grader.snapshot import Image
from labs import playgrounds, queue, sandboxes
from labs.models import Lab, Playground, Sandbox
from tests.classrooms_fixtures import sandbox as lab_sandbox
from tests.classrooms_fixtures import world  # noqa: F401

pytestmark = pytest.mark.django_db
Status = Sandbox.Status
NGINX = Image(id="sha256:" + "ab" * 32, tags=("nginx:1.22",))


@pytest.fixture
def fake(monkeypatch):
    made = FakeEngine()
    monkeypatch.setattr(engine, "default", lambda: made)
    return made


@pytest.fixture
def sent(monkeypatch):
    queued = []
    monkeypatch.setattr(queue, "after_commit", lambda name, *args, host=None, **options: queued.append((name, *args)))
    return queued


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    return Lab.objects.create(course=course, chapter=chapter, slug="web", title="Un serveur web", minutes=5, position=1,
                              source_path="labs/web.yaml", instructions_markdown="", instructions_html="")


def run(sandbox, fake):
    """What the workers do with a started sandbox: provision it."""
    return sandboxes.provision(sandbox.pk, engine=fake)


def end(sandbox, fake):
    """Stop it and let the removal task run."""
    sandboxes.stop(sandbox)
    sandboxes.remove_container(sandbox.pk, engine=fake)


def pull_nginx(fake, sandbox):
    held = fake.sandboxes[sandbox.container_name]
    held.state = replace(held.state, images=held.state.images + (NGINX,))
    held.files["/root/notes.txt"] = b"bonjour"


def holds_nginx(fake, sandbox):
    held = fake.sandboxes[sandbox.container_name]
    return NGINX in held.state.images and held.files.get("/root/notes.txt") == b"bonjour"


def test_a_playground_sandbox_is_a_learners_sandbox_without_a_lab_on_the_playgrounds_kept_disk(learner, fake, sent):
    ground = playgrounds.playground_for(learner)
    sandbox = playgrounds.start(ground)
    assert (sandbox.owner, sandbox.lab, sandbox.playground, sandbox.status) == (learner, None, ground, Status.REQUESTED)
    ground.refresh_from_db()
    assert ground.has_storage and sandbox.persistent_disk == ground.disk_path
    assert (queue.PROVISION_SANDBOX, sandbox.pk) in sent
    ready = run(sandbox, fake)
    assert ready.status == Status.READY
    spec = fake.started[-1]
    assert spec.persistent_disk == ground.disk_path and spec.labels["drydock.lab"] == "playground"
    assert spec.labels[engine.KEPT_DISK_LABEL] == ground.disk_path
    # Same isolation and limits as a lab's sandbox: only the disk differs, and its daemon starts with it (the
    # containers the learner left with a restart policy come back at once).
    assert not spec.daemon_on_demand and sandboxes.spec_for(Sandbox(pk=1, owner=learner)).daemon_on_demand
    assert replace(spec, persistent_disk="", labels={}, name="", socket_dir="") == replace(
        sandboxes.spec_for(Sandbox(pk=1, owner=learner)), labels={}, name="", socket_dir="", daemon_on_demand=False)
    assert playgrounds.start(ground) == ready  # a second click is the same sandbox


def test_files_in_root_and_pulled_images_survive_a_stop_and_a_start(learner, fake, sent):
    ground = playgrounds.playground_for(learner)
    first = run(playgrounds.start(ground), fake)
    pull_nginx(fake, first)
    end(first, fake)
    ground.refresh_from_db()
    assert ground.has_storage and ground.storage_expires_at > timezone.now() + timedelta(days=13)
    second = run(playgrounds.start(ground), fake)
    assert second.pk != first.pk and second.status == Status.READY and holds_nginx(fake, second)


def test_a_sandbox_that_expired_keeps_its_disk_too(learner, fake, sent):
    ground = playgrounds.playground_for(learner)
    first = run(playgrounds.start(ground), fake)
    pull_nginx(fake, first)
    sandboxes.reap(engine=fake, now=first.expires_at + timedelta(seconds=1))
    sandboxes.remove_container(first.pk, engine=fake)
    assert holds_nginx(fake, run(playgrounds.start(ground), fake))


def test_start_fresh_asks_first_then_wipes_what_the_playground_held(learner, learner_client, fake, sent):
    ground = playgrounds.playground_for(learner)
    first = run(playgrounds.start(ground), fake)
    pull_nginx(fake, first)
    asked = learner_client.post(reverse("labs:playground_fresh"))
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.text
    ground.refresh_from_db()
    assert ground.generation == 1 and Sandbox.objects.get(pk=first.pk).status == Status.READY
    done = learner_client.post(reverse("labs:playground_fresh"), {"confirm": "yes"})
    assert done.status_code == 302
    ground.refresh_from_db()
    assert ground.generation == 2 and not ground.has_storage and Sandbox.objects.get(pk=first.pk).status == Status.STOPPED
    sandboxes.remove_container(first.pk, engine=fake)
    second = run(playgrounds.start(ground), fake)
    assert second.persistent_disk != first.persistent_disk and not holds_nginx(fake, second)
    # The old disk goes with the next reaper pass.
    assert first.persistent_disk in fake.kept_disks
    assert playgrounds.reap_storage(engine=fake)["playground_disks"] == 1 and first.persistent_disk not in fake.kept_disks


def test_storage_unused_past_the_retention_is_reaped_and_used_storage_is_not(learner, fake, sent, settings):
    ground = playgrounds.playground_for(learner)
    first = run(playgrounds.start(ground), fake)
    pull_nginx(fake, first)
    end(first, fake)
    other = User.objects.create_user("bea", "b@example.com", "pw-bea-123456789")
    kept_ground = playgrounds.playground_for(other)
    end(run(playgrounds.start(kept_ground), fake), fake)
    assert playgrounds.reap_storage(engine=fake) == {"playgrounds_expired": 0, "playground_disks": 0}
    later = timezone.now() + timedelta(days=settings.PLAYGROUND_RETENTION_DAYS, minutes=1)
    Playground.objects.filter(pk=kept_ground.pk).update(last_used_at=later - timedelta(days=1))
    counts = playgrounds.reap_storage(engine=fake, now=later)
    assert counts == {"playgrounds_expired": 1, "playground_disks": 1}
    assert first.persistent_disk not in fake.kept_disks and kept_ground.disk_path in fake.kept_disks
    ground.refresh_from_db()
    assert not ground.has_storage and ground.storage_expires_at is None
    assert not holds_nginx(fake, run(playgrounds.start(ground), fake))


def test_a_running_playground_is_never_reaped_however_old(learner, fake, sent, settings):
    ground = playgrounds.playground_for(learner)
    live = run(playgrounds.start(ground), fake)
    later = timezone.now() + timedelta(days=settings.PLAYGROUND_RETENTION_DAYS + 1)
    Sandbox.objects.filter(pk=live.pk).update(expires_at=later + timedelta(days=1), last_activity_at=later)
    assert playgrounds.reap_storage(engine=fake, now=later)["playgrounds_expired"] == 0
    assert live.persistent_disk in fake.kept_disks or fake.sandboxes[live.container_name]


def test_the_playground_counts_against_the_learners_sandboxes_both_ways(learner, lab, fake, sent):
    ground = playgrounds.playground_for(learner)
    playgrounds.start(ground)
    with pytest.raises(sandboxes.SandboxRefused, match="Playground|Bac à sable libre"):
        sandboxes.request_sandbox(user=learner, lab=lab, engine=fake)
    playgrounds.stop(ground)
    sandboxes.request_sandbox(user=learner, lab=lab, engine=fake)
    with pytest.raises(sandboxes.SandboxRefused, match="Un serveur web"):
        playgrounds.start(ground)


def test_the_warm_pool_never_hands_out_or_counts_a_playground(learner, lab, fake, sent, settings):
    settings.SANDBOX_POOL_BLANK = 1
    run(playgrounds.start(playgrounds.playground_for(learner)), fake)
    assert sandboxes.pooled() == {}
    made = sandboxes.refill_pools()
    assert len(made) == 1 and Sandbox.objects.get(pk=made[0]).playground is None
    other = User.objects.create_user("bea", "b@example.com", "pw-bea-123456789")
    assert sandboxes.claim_warm(user=other, lab=lab, engine=fake) is None  # the pool's one is not ready yet; the playground is not offered


def test_the_playground_page_shows_its_retention_its_terminal_and_the_preview(learner, learner_client, fake, sent, settings):
    page = learner_client.get(reverse("labs:playground")).text
    assert f"{settings.PLAYGROUND_RETENTION_DAYS}" in page and reverse("labs:playground_start") in page
    learner_client.post(reverse("labs:playground_start"))
    sandbox = run(Sandbox.objects.get(owner=learner), fake)
    page = learner_client.get(reverse("labs:playground")).text
    assert f"/ws/bacs-a-sable/{sandbox.pk}/terminal/" in page and 'id="preview"' in page and reverse("labs:playground_fresh") in page
    # Stop from its page goes back to it.
    stopped = learner_client.post(reverse("labs:sandbox_stop", args=[sandbox.pk]))
    assert stopped["Location"] == reverse("labs:playground")
    assert learner_client.post(reverse("labs:sandbox_reset", args=[sandbox.pk]))["Location"] == reverse("labs:playground")


def test_stopping_the_playground_asks_first_and_says_its_storage_stays(learner, learner_client, fake, sent, settings):
    sandbox = run(playgrounds.start(playgrounds.playground_for(learner)), fake)
    stop_url = reverse("labs:sandbox_stop", args=[sandbox.pk])
    page = learner_client.get(reverse("labs:playground")).text
    kept = f"Ce qui y tourne s’arrête. Vos images, conteneurs, volumes et fichiers de /root sont conservés {settings.PLAYGROUND_RETENTION_DAYS} jours."
    # With JavaScript the dialog asks (drydock.js); without, the button leads to the page that asks.
    assert f'<form method="get" action="{stop_url}" data-confirm="Arrêter ce bac à sable maintenant ? {kept}"' in page
    assert '<form method="post" action="/bac-a-sable-libre/repartir-de-zero/" class="fresh-form" data-confirm="Repartir de zéro ?' in page
    asked = learner_client.get(stop_url)
    assert asked.status_code == 200 and kept in asked.text and "Annuler, revenir au bac à sable libre" in asked.text
    assert f'href="{reverse("labs:playground")}"' in asked.text
    assert Sandbox.objects.get(pk=sandbox.pk).status == Status.READY  # asking changed nothing
    # A playground has no Reset: its page, where Start fresh is, answers instead.
    assert learner_client.get(reverse("labs:sandbox_reset", args=[sandbox.pk]))["Location"] == reverse("labs:playground")
    assert learner_client.post(stop_url)["Location"] == reverse("labs:playground")
    assert Sandbox.objects.get(pk=sandbox.pk).status == Status.STOPPED


def test_the_playgrounds_countdowns_read_as_minutes(learner, learner_client, fake, sent):
    run(playgrounds.start(playgrounds.playground_for(learner)), fake)
    page = learner_client.get(reverse("labs:playground")).text
    assert re.search(r'id="expires-in" data-seconds="\d+">\d+ min \d\d s</time>', page)
    assert re.search(r'id="idle-in" data-seconds="\d+">\d+ min \d\d s</time>', page)


def test_a_lab_page_offers_to_stop_a_running_playground_saying_its_storage_stays(learner, learner_client, lab, fake, sent, settings):
    settings.SANDBOX_MAX_PER_LEARNER = 1
    run(playgrounds.start(playgrounds.playground_for(learner)), fake)
    page = learner_client.get(lab.get_absolute_url()).text
    assert f'href="{reverse("labs:playground")}">Bac à sable libre</a>' in page
    assert "Arrêter votre bac à sable libre et démarrer un bac à sable ici ? Ses images, conteneurs, volumes et fichiers sont conservés." in page


def test_another_learner_cannot_see_or_drive_a_playground_sandbox(learner, fake, sent, client):
    sandbox = run(playgrounds.start(playgrounds.playground_for(learner)), fake)
    User.objects.create_user("mallory", "m@example.com", "pw-mallory-12345")
    client.login(username="mallory", password="pw-mallory-12345")
    for name in ("sandbox_status", "sandbox_ports"):
        assert client.get(reverse(f"labs:{name}", args=[sandbox.pk])).status_code == 404
    assert client.post(reverse("labs:sandbox_stop", args=[sandbox.pk])).status_code == 404
    assert Sandbox.objects.get(pk=sandbox.pk).status == Status.READY


def test_the_instructors_live_view_includes_their_learners_playgrounds(world, client, fake, sent):  # noqa: F811
    learner = world.learners[0]
    lab_sandbox(world.learners[1], world.lab, at=timezone.now(), status=Status.READY)
    ground = run(playgrounds.start(playgrounds.playground_for(learner)), fake)
    outsider = run(playgrounds.start(playgrounds.playground_for(world.zoe)), fake)
    client.force_login(world.ines)
    page = client.get(reverse("classrooms:sandboxes", args=[world.class_a.pk])).text
    assert "Playground" in page or "Bac à sable libre" in page
    assert reverse("classrooms:sandbox_stop", args=[world.class_a.pk, ground.pk]) in page
    assert reverse("classrooms:sandbox_stop", args=[world.class_a.pk, outsider.pk]) not in page
    client.post(reverse("classrooms:sandbox_stop", args=[world.class_a.pk, ground.pk]))
    assert Sandbox.objects.get(pk=ground.pk).status == Status.STOPPED
