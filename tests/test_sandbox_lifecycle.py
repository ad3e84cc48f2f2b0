"""A sandbox's life and its checks, on the in-memory engine: every race and failure, no Docker, milliseconds each.

The tasks the workflows queue are recorded (`sent`) instead of sent once the
transaction commits; tests/test_engine_contract.py holds the fake to the real
engine, tests/test_sandboxes.py runs the same life on Docker.
"""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from courses.models import Chapter, Course
from grader import engine
from grader.fake_engine import FakeEngine
from grader.snapshot import Image, Snapshot
from labs import grading, queue, sandboxes
from labs.models import Lab, LabFile, LabTask, Sandbox, Submission
from labs.packs import archive_folder

pytestmark = pytest.mark.django_db
Status = Sandbox.Status
START_WEB = "docker run -d --name web nginx:1.22"


@pytest.fixture
def fake():
    return FakeEngine()


@pytest.fixture
def sent(monkeypatch):
    """(task name, id) of every task queued, in order."""
    queued = []
    monkeypatch.setattr(queue, "after_commit", lambda name, *args, host=None, **options: queued.append((name, *args)))
    return queued


@pytest.fixture
def lab(db, tmp_path):
    """A lab whose setup copies a folder and starts a container, with one task: pull nginx:1.22."""
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lab = Lab.objects.create(
        course=course, chapter=chapter, slug="web", title="Un serveur web", minutes=5, position=1,
        source_path="labs/web.yaml", instructions_markdown="", instructions_html="",
        setup=[{"label": "Copie du site", "copy": "site", "to": "/root/site"}, {"label": "Démarrage de web", "run": START_WEB}],
    )
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>Bonjour</h1>")
    archive = archive_folder(tmp_path / "site")
    LabFile.objects.create(lab=lab, source="site", archive=archive, sha256=hashlib.sha256(archive).hexdigest())
    LabTask.objects.create(
        lab=lab, slug="tirer-nginx", title="Tirer nginx", position=1, prompt_html="",
        check_name="image_present", check_params={"image": "nginx:1.22"},
    )
    return lab


@pytest.fixture
def lea(db):
    return User.objects.create_user("lea")


def fresh(sandbox):
    return Sandbox.objects.get(pk=sandbox.pk)


def ready_sandbox(fake, user, lab):
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=user, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.READY, (sandbox.failure, sandbox.failure_detail)
    return sandbox


def sandbox_row(user, lab, status, *, requested_ago=timedelta(0), **fields):
    """A row in any state, requested some time ago."""
    now = timezone.now()
    fields = {"expires_at": now + timedelta(minutes=60), "last_activity_at": now, **fields}
    row = Sandbox.objects.create(owner=user, lab=lab, status=status, **fields)
    Sandbox.objects.filter(pk=row.pk).update(requested_at=now - requested_ago)
    return fresh(row)


def check(fake, user, lab, sandbox):
    submission = grading.submit(user=user, task=lab.tasks.get(), sandbox=sandbox)
    return grading.grade(submission.pk, engine=fake)


# --- Provisioning ---------------------------------------------------------------------------


def test_provisioning_starts_the_container_runs_the_setup_and_marks_the_row_ready(fake, sent, lab, lea):
    requested = sandboxes.request_sandbox(user=lea, lab=lab, engine=fake)
    assert sent == [(queue.PROVISION_SANDBOX, requested.pk)]
    sandbox = sandboxes.provision(requested.pk, engine=fake)
    assert sandbox.status == Status.READY and sandbox.ready_at
    assert sandbox.step == sandbox.steps_total == 4 and sandbox.failure == ""
    inside = fake.sandboxes[sandbox.container_name]
    assert inside.files == {"/root/site/index.html": b"<h1>Bonjour</h1>"}
    assert inside.commands == [START_WEB]
    assert inside.spec.labels[engine.SANDBOX_LABEL] == str(sandbox.pk)


def test_a_provisioning_delivered_again_after_the_sandbox_is_ready_does_nothing(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    again = sandboxes.provision(sandbox.pk, engine=fake)
    assert again.status == Status.READY and again.ready_at == sandbox.ready_at
    assert len(fake.started) == 1 and fake.sandboxes[sandbox.container_name].commands == [START_WEB]


def test_a_provisioning_redelivered_after_its_worker_died_replaces_what_that_worker_made(fake, sent, lab, lea):
    sandbox = sandbox_row(lea, lab, Status.PROVISIONING)
    left_behind = fake.start_sandbox(sandboxes.spec_for(sandbox))
    assert sandboxes.provision(sandbox.pk, engine=fake).status == Status.READY
    assert fake.sandboxes[sandbox.container_name].id != left_behind
    assert list(fake.sandboxes) == [sandbox.container_name]


def test_a_sandbox_stopped_while_it_was_provisioned_has_what_was_made_removed(fake, sent, lab, lea, monkeypatch):
    requested = sandboxes.request_sandbox(user=lea, lab=lab, engine=fake)
    wait_for_daemon = fake.wait_for_daemon

    def learner_stops_it_meanwhile(name, socket_dir, *, timeout, on_demand=False):
        assert sandboxes.stop(fresh(requested))
        return wait_for_daemon(name, socket_dir, timeout=timeout, on_demand=on_demand)

    monkeypatch.setattr(fake, "wait_for_daemon", learner_stops_it_meanwhile)
    sandbox = sandboxes.provision(requested.pk, engine=fake)
    assert sandbox.status == Status.STOPPED and sandbox.ready_at is None
    assert fake.sandboxes == {}
    assert sent == [(queue.PROVISION_SANDBOX, sandbox.pk), (queue.REMOVE_SANDBOX, sandbox.pk)]


def test_a_lab_without_a_set_up_command_is_ready_with_its_daemon_not_started_and_a_check_starts_it(fake, sent, lab, lea):
    lab.setup = [step for step in lab.setup if "run" not in step]  # only the copy
    lab.save()
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.READY and fake.started[-1].daemon_on_demand
    assert not fake.daemon_started(sandbox.container_name, sandboxes.socket_dir(sandbox))
    grading.grade(grading.submit(user=lea, task=lab.tasks.get(), sandbox=sandbox).pk, engine=fake)
    assert fake.daemon_started(sandbox.container_name, sandboxes.socket_dir(sandbox))


def test_a_lab_whose_set_up_runs_a_command_has_its_daemon_started_before_the_steps(fake, sent, lab, lea, monkeypatch):
    waited = []
    wait_for_daemon = fake.wait_for_daemon
    monkeypatch.setattr(fake, "wait_for_daemon", lambda *args, **kw: waited.append(kw.get("on_demand")) or wait_for_daemon(*args, **kw))
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.READY and waited == [False]
    assert fake.daemon_started(sandbox.container_name, sandboxes.socket_dir(sandbox))


def test_with_the_daemon_on_demand_off_every_sandbox_starts_its_daemon_with_it(fake, sent, lab, lea, settings):
    settings.SANDBOX_DAEMON_ON_DEMAND = False
    lab.setup = []
    lab.save()
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert not fake.started[-1].daemon_on_demand and fake.daemon_started(sandbox.container_name, sandboxes.socket_dir(sandbox))


def test_an_engine_that_does_not_answer_fails_the_row_with_a_clear_reason(fake, sent, lab, lea):
    fake.answering = False
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.FAILED and "does not answer" in sandbox.failure_detail
    assert sandbox.failure.startswith("Le bac à sable n’a pas pu démarrer") and "Démarrez un nouveau bac à sable" in sandbox.failure
    assert sent[-1] == (queue.REMOVE_SANDBOX, sandbox.pk)


def test_the_engine_s_own_words_naming_its_address_and_certificates_never_reach_the_learner(fake, sent, lab, lea, monkeypatch, client):
    from grader.engine import EngineUnavailable

    words = "TLS with the Docker engine at tcp://10.20.30.40:2376 failed: the certificates in /etc/drydock/tls/salle-b are not trusted"

    def refused(spec):
        raise EngineUnavailable(words)

    monkeypatch.setattr(fake, "start_sandbox", refused)
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.FAILED and sandbox.failure_detail == words
    client.force_login(lea)
    seen = client.get(reverse("labs:sandbox_status", args=[sandbox.pk]), HTTP_ACCEPT="application/json").json()["failure"]
    page = client.get(lab.get_absolute_url())
    assert page.status_code == 200
    page = page.content.decode()
    for shown in (seen, page, sandbox.failure):
        assert "10.20.30.40" not in shown and "/etc/drydock" not in shown
    assert "n’a pas pu démarrer" in seen and "n’a pas pu démarrer" in page


def test_a_daemon_that_never_answers_fails_the_row_and_says_how_long_it_waited(fake, sent, lab, lea, settings):
    fake.daemons_answer = False
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.FAILED
    assert sandbox.failure_detail == f"the sandbox's Docker daemon did not answer within {settings.SANDBOX_READY_TIMEOUT_SECONDS} s"


def test_a_failing_setup_step_fails_the_row_with_its_label_exit_code_and_output(fake, sent, lab, lea):
    fake.fail_command(START_WEB, exit_code=125, output="Unable to find image 'nginx:1.22' locally\n")
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.FAILED and sandbox.step == 3
    assert sandbox.failure_detail == "setup step « Démarrage de web » failed (exit code 125): Unable to find image 'nginx:1.22' locally"
    assert sandbox.failure.startswith("L’étape de préparation « Démarrage de web » du lab a échoué.")


def test_a_missing_sandbox_image_fails_the_row_naming_the_image(fake, sent, lab, lea, settings):
    fake.missing_images.add(settings.SANDBOX_IMAGE)
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert sandbox.status == Status.FAILED and settings.SANDBOX_IMAGE in sandbox.failure_detail


# --- Reaping ----------------------------------------------------------------------------------


def test_the_reaper_beside_a_worker_counts_what_it_ends_and_removes_what_has_no_live_row(fake, sent, lab, settings):
    now = timezone.now()
    learners = iter(User.objects.create_user(f"learner{n}") for n in range(8))
    rows = {
        "expired": sandbox_row(next(learners), lab, Status.READY, expires_at=now - timedelta(minutes=1)),
        "idle": sandbox_row(next(learners), lab, Status.READY, last_activity_at=now - timedelta(minutes=settings.SANDBOX_IDLE_MINUTES + 1)),
        "stuck": sandbox_row(next(learners), lab, Status.PROVISIONING, requested_ago=timedelta(seconds=settings.SANDBOX_PROVISION_DEADLINE_SECONDS + 1)),
        "vanished": sandbox_row(next(learners), lab, Status.READY),
        "crashed": sandbox_row(next(learners), lab, Status.READY),
        "being provisioned": sandbox_row(next(learners), lab, Status.PROVISIONING),
        "healthy": sandbox_row(next(learners), lab, Status.READY),
        "stopped": sandbox_row(next(learners), lab, Status.STOPPED),
    }
    for kind, row in rows.items():
        if kind != "vanished":
            fake.start_sandbox(sandboxes.spec_for(row))
    fake.crash(rows["crashed"].container_name)

    counts = sandboxes.reap(engine=fake, now=now)

    # The rows it ended have no live row any more: their containers go in the same pass, with the stopped row's.
    assert counts == {"expired": 1, "idle": 1, "stuck": 1, "vanished": 2, "orphans": 4, "leftovers": 0, "admitted": 0}
    statuses = {kind: fresh(row).status for kind, row in rows.items()}
    assert statuses == {
        "expired": Status.EXPIRED, "idle": Status.EXPIRED, "stuck": Status.FAILED, "vanished": Status.FAILED,
        "crashed": Status.FAILED, "being provisioned": Status.PROVISIONING, "healthy": Status.READY, "stopped": Status.STOPPED,
    }
    assert set(fake.sandboxes) == {rows[kind].container_name for kind in ("crashed", "being provisioned", "healthy")}
    assert sorted(sent) == sorted((queue.REMOVE_SANDBOX, rows[kind].pk) for kind in ("expired", "idle", "stuck", "vanished", "crashed"))
    # The crashed container's removal is queued; if that task is lost, the next pass finds an orphan.
    assert sandboxes.reap(engine=fake, now=now) == {"expired": 0, "idle": 0, "stuck": 0, "vanished": 0, "orphans": 1, "leftovers": 0, "admitted": 0}


def test_a_reaper_that_fails_a_row_its_worker_still_provisions_wins_and_nothing_is_left(fake, sent, lab, lea, settings, monkeypatch):
    requested = sandboxes.request_sandbox(user=lea, lab=lab, engine=fake)
    wait_for_daemon = fake.wait_for_daemon
    later = timezone.now() + timedelta(seconds=settings.SANDBOX_PROVISION_DEADLINE_SECONDS + 1)
    counts = {}

    def reaper_runs_meanwhile(name, socket_dir, *, timeout, on_demand=False):
        waited = wait_for_daemon(name, socket_dir, timeout=timeout, on_demand=on_demand)
        counts.update(sandboxes.reap(engine=fake, now=later))
        return waited

    monkeypatch.setattr(fake, "wait_for_daemon", reaper_runs_meanwhile)
    sandbox = sandboxes.provision(requested.pk, engine=fake)
    assert counts == {"expired": 0, "idle": 0, "stuck": 1, "vanished": 0, "orphans": 1, "leftovers": 0, "admitted": 0}
    assert sandbox.status == Status.FAILED and "interrompue" in sandbox.failure
    assert fake.sandboxes == {}


def test_the_reaper_removes_a_folder_and_disk_a_crash_left_and_keeps_live_ones_and_other_deployments(fake, sent, lab, lea, settings):
    live = ready_sandbox(fake, lea, lab)
    # A worker killed between making a sandbox's disk and its container: no row is live, no container runs.
    fake.folders |= {f"{settings.SANDBOX_NAME_PREFIX}-999", "another-deployment-5"}
    # A folder a worker made a moment ago for a sandbox whose row the reaper has not seen yet.
    fresh_name = f"{settings.SANDBOX_NAME_PREFIX}-1000"
    fake.folders.add(fresh_name)
    fake.folder_made_at[fresh_name] = timezone.now().timestamp()
    counts = sandboxes.reap(engine=fake)
    assert counts["leftovers"] == 1 and counts["orphans"] == 0
    assert fake.folders == {live.container_name, "another-deployment-5", fresh_name}


def test_a_sandbox_is_not_started_while_the_host_rules_that_isolate_its_network_are_missing(fake, sent, lab, lea):
    fake.network_problems = ["missing iptables INPUT rule for drydock-sbx"]
    refused = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert refused.status == Status.FAILED and "bin/drydock setup" in refused.failure_detail
    assert fake.sandboxes == {}


def test_an_engine_without_user_namespaces_is_refused_with_the_fix_unless_the_machine_opts_in(fake, sent, lab, lea, settings):
    fake.user_namespaces = False
    refused = sandboxes.provision(sandboxes.request_sandbox(user=lea, lab=lab, engine=fake).pk, engine=fake)
    assert refused.status == Status.FAILED and "userns-remap" in refused.failure_detail
    assert "SANDBOX_WITHOUT_USER_NAMESPACES" in refused.failure_detail
    assert fake.sandboxes == {}
    settings.SANDBOX_WITHOUT_USER_NAMESPACES = True
    sandboxes.remove_container(refused.pk, engine=fake)
    assert ready_sandbox(fake, lea, lab).status == Status.READY


def test_a_vanished_container_makes_a_check_say_it_did_not_answer_and_the_reaper_fail_its_row(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    fake.vanish(sandbox.container_name)
    graded = check(fake, lea, lab, sandbox)
    assert graded.status == Submission.Status.ERROR and "n’a pas répondu" in graded.message
    assert sandboxes.reap(engine=fake)["vanished"] == 1
    assert fresh(sandbox).status == Status.FAILED and "disparu" in fresh(sandbox).failure


# --- Grading -------------------------------------------------------------------------------


def test_a_check_passes_from_the_daemons_state(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    fake.sandboxes[sandbox.container_name].state = Snapshot(images=(Image(id="sha256:" + "a" * 64, tags=("nginx:1.22",), digests=("nginx@sha256:" + "d" * 64,)),))
    graded = check(fake, lea, lab, sandbox)
    assert graded.status == Submission.Status.PASSED and graded.graded_at
    assert graded.message == "L'image nginx:1.22 est bien présente."


def test_a_check_fails_saying_what_was_expected_and_what_the_daemon_holds(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    fake.sandboxes[sandbox.container_name].state = Snapshot(images=(Image(id="sha256:" + "b" * 64, tags=("nginx:1.23",)),))
    graded = check(fake, lea, lab, sandbox)
    assert graded.status == Submission.Status.FAILED
    assert (graded.expected, graded.found) == ("nginx:1.22", "nginx:1.23")


def test_a_check_when_the_engine_does_not_answer_is_an_error_not_a_verdict(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    fake.answering = False
    graded = check(fake, lea, lab, sandbox)
    assert graded.status == Submission.Status.ERROR and "n’a pas répondu" in graded.message
    assert (graded.expected, graded.found) == ("", "")


def test_a_check_delivered_twice_is_graded_once(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    submission = grading.submit(user=lea, task=lab.tasks.get(), sandbox=sandbox)
    first = grading.grade(submission.pk, engine=fake)
    fake.sandboxes[sandbox.container_name].state = Snapshot(images=(Image(id="sha256:" + "a" * 64, tags=("nginx:1.22",)),))
    again = grading.grade(submission.pk, engine=fake)
    assert first.status == again.status == Submission.Status.FAILED and again.graded_at == first.graded_at
    assert sent.count((queue.GRADE_SUBMISSION, submission.pk)) == 1


def test_ten_clicks_on_check_while_one_waits_are_one_grading_job_with_the_latest_answer(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    task = lab.tasks.get()
    task.answer_label = "Identifiant"
    task.save()
    clicks = [grading.submit(user=lea, task=task, sandbox=sandbox, answer=f"essai {n}") for n in range(10)]
    assert len({click.pk for click in clicks}) == 1 and Submission.objects.count() == 1
    assert [name for name, *_ in sent].count(queue.GRADE_SUBMISSION) == 1
    assert Submission.objects.get().answer == "essai 9"
    # Once graded, the next click is a new check.
    grading.grade(clicks[0].pk, engine=fake)
    assert grading.submit(user=lea, task=task, sandbox=sandbox, answer="encore").pk != clicks[0].pk
    assert [name for name, *_ in sent].count(queue.GRADE_SUBMISSION) == 2


def test_more_checks_than_the_minute_allows_are_refused_with_when_to_try_again(fake, sent, lab, lea, settings, client):
    settings.CHECKS_PER_MINUTE = 3
    sandbox = ready_sandbox(fake, lea, lab)
    task = lab.tasks.get()
    for _ in range(3):
        grading.grade(grading.submit(user=lea, task=task, sandbox=sandbox).pk, engine=fake)
    with pytest.raises(grading.TooManyChecks) as refused:
        grading.submit(user=lea, task=task, sandbox=sandbox)
    assert 1 <= refused.value.retry_after <= 60 and f"attendez {refused.value.retry_after} s" in str(refused.value)
    assert Submission.objects.count() == 3
    # Over HTTP: 429 with Retry-After, and the learner's message in their language.
    client.force_login(lea)
    response = client.post(reverse("labs:task_check", args=[lab.course.slug, lab.slug, task.slug]), HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response.json()["error"].startswith("Vous avez lancé 3 vérifications dans la dernière minute")
    # A minute later the learner may check again.
    Submission.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert grading.submit(user=lea, task=task, sandbox=sandbox).status == Submission.Status.QUEUED


def test_a_check_of_a_sandbox_stopped_before_it_ran_is_an_error(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    submission = grading.submit(user=lea, task=lab.tasks.get(), sandbox=sandbox)
    sandboxes.stop(sandbox)
    graded = grading.grade(submission.pk, engine=fake)
    assert graded.status == Submission.Status.ERROR and "arrêté avant la vérification" in graded.message


# --- Extending, stopping, removing, resetting ------------------------------------------------------


def test_extending_moves_the_expiry_up_to_the_ceiling_and_no_further(lab, lea, settings):
    settings.SANDBOX_EXTEND_MINUTES = 30
    settings.SANDBOX_MAX_LIFETIME_MINUTES = 100
    sandbox = sandbox_row(lea, lab, Status.READY)
    assert sandbox.max_expiry == sandbox.requested_at + timedelta(minutes=100)
    assert sandboxes.extend(sandbox) and fresh(sandbox).expires_at == sandbox.expires_at + timedelta(minutes=30)
    assert sandboxes.extend(fresh(sandbox)) and fresh(sandbox).expires_at == sandbox.max_expiry
    assert not fresh(sandbox).can_extend and not sandboxes.extend(fresh(sandbox))
    assert fresh(sandbox).extensions == 2


def test_a_sandbox_not_ready_cannot_be_extended(lab, lea):
    sandbox = sandbox_row(lea, lab, Status.PROVISIONING)
    assert not sandbox.can_extend and not sandboxes.extend(sandbox)
    assert fresh(sandbox).expires_at == sandbox.expires_at


def test_activity_pushes_the_idle_deadline_back(lab, lea, settings):
    sandbox = sandbox_row(lea, lab, Status.READY, last_activity_at=timezone.now() - timedelta(minutes=10))
    assert sandbox.idle_deadline == sandbox.last_activity_at + timedelta(minutes=settings.SANDBOX_IDLE_MINUTES)
    sandboxes.touch(sandbox)
    assert fresh(sandbox).idle_deadline > sandbox.idle_deadline


def test_stopping_twice_stops_once_and_queues_one_removal(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    assert sandboxes.stop(sandbox)
    ended_at = fresh(sandbox).ended_at
    assert not sandboxes.stop(fresh(sandbox))
    assert fresh(sandbox).status == Status.STOPPED and fresh(sandbox).ended_at == ended_at
    assert sent.count((queue.REMOVE_SANDBOX, sandbox.pk)) == 1


def test_the_removal_leaves_a_live_sandbox_alone_and_removes_an_ended_ones_container(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    assert not sandboxes.remove_container(sandbox.pk, engine=fake)
    assert sandbox.container_name in fake.sandboxes
    sandboxes.stop(sandbox)
    assert sandboxes.remove_container(sandbox.pk, engine=fake)
    assert fake.sandboxes == {}


def test_a_reset_stops_the_sandbox_and_requests_a_fresh_one(fake, sent, lab, lea):
    sandbox = ready_sandbox(fake, lea, lab)
    again = sandboxes.reset(fresh(sandbox))
    assert again.pk != sandbox.pk and again.status == Status.REQUESTED
    assert fresh(sandbox).status == Status.STOPPED
    assert sent[-2:] == [(queue.REMOVE_SANDBOX, sandbox.pk), (queue.PROVISION_SANDBOX, again.pk)]


# --- The warm pool ---------------------------------------------------------------------------------


@pytest.fixture
def plain_lab(lab):
    """A lab of the same course with no set-up steps: blank warm sandboxes serve it."""
    return Lab.objects.create(
        course=lab.course, chapter=lab.chapter, slug="premier", title="Premier", minutes=5, position=2,
        source_path="labs/premier.yaml", instructions_markdown="", instructions_html="", setup=[],
    )


def warm(fake, sent, *, blank=0, labs=None, settings):
    """Fill the pools as beat would, and provision what they asked for; return the warm rows."""
    settings.SANDBOX_POOL_BLANK = blank
    settings.SANDBOX_POOL_LABS = labs or {}
    made = sandboxes.refill_pools()
    for pk in made:
        assert sandboxes.provision(pk, engine=fake).status == Status.READY
    return list(Sandbox.objects.filter(pk__in=made))


def test_refill_requests_what_each_pool_lacks_and_leaves_a_learner_room(fake, sent, lab, plain_lab, settings):
    settings.SANDBOX_MAX_PER_HOST = 4
    rows = warm(fake, sent, blank=2, labs={lab.slug: 5}, settings=settings)
    # Four slots: the pools take three, one stays for a learner.
    assert len(rows) == 3 and all(row.owner_id is None for row in rows)
    assert sorted(row.lab_id is None for row in rows) == [False, True, True]
    web = next(row for row in rows if row.lab_id == lab.pk)
    assert fake.sandboxes[web.container_name].commands == [START_WEB]  # the lab's set-up ran ahead of time
    assert fake.sandboxes[web.container_name].spec.labels["drydock.owner"] == "pool"
    assert sandboxes.refill_pools() == []  # full: nothing more


def test_a_learner_claims_a_warm_sandbox_ready_at_once_and_the_pool_refills(fake, sent, plain_lab, lea, settings):
    [blank] = warm(fake, sent, blank=1, settings=settings)
    sent.clear()
    claimed = sandboxes.request_sandbox(user=lea, lab=plain_lab, engine=fake)
    assert claimed.pk == blank.pk and claimed.status == Status.READY
    assert claimed.owner == lea and claimed.lab == plain_lab and claimed.claimed_at
    # Made ahead, its daemon too: the learner who claims it types at once.
    assert not fake.started[-1].daemon_on_demand and fake.daemon_started(claimed.container_name, sandboxes.socket_dir(claimed))
    assert claimed.max_expiry > timezone.now() + timedelta(minutes=settings.SANDBOX_MAX_LIFETIME_MINUTES - 1)
    assert sent == [(queue.REFILL_POOLS,)]
    # Not while the class may still be clicking: once the claims have paused.
    assert sandboxes.refill_pools() == []
    quiet = timezone.now() + timedelta(seconds=settings.SANDBOX_POOL_REFILL_QUIET_SECONDS + 1)
    assert len(sandboxes.refill_pools(now=quiet)) == 1


def test_a_lab_with_set_up_steps_never_takes_a_blank_sandbox(fake, sent, lab, lea, settings):
    warm(fake, sent, blank=1, settings=settings)
    requested = sandboxes.request_sandbox(user=lea, lab=lab, engine=fake)
    assert requested.status == Status.REQUESTED and requested.owner == lea


def test_two_learners_one_warm_sandbox_only_one_gets_it(fake, sent, plain_lab, lea, settings, monkeypatch):
    [blank] = warm(fake, sent, blank=1, settings=settings)
    bob = User.objects.create_user("bob")
    running = fake.sandbox_running

    def bob_claims_it_meanwhile(name):
        monkeypatch.setattr(fake, "sandbox_running", running)
        assert sandboxes.request_sandbox(user=bob, lab=plain_lab, engine=fake).pk == blank.pk
        return running(name)

    monkeypatch.setattr(fake, "sandbox_running", bob_claims_it_meanwhile)
    leas = sandboxes.request_sandbox(user=lea, lab=plain_lab, engine=fake)
    assert leas.pk != blank.pk and leas.status == Status.REQUESTED
    assert fresh(blank).owner.username == "bob"


def test_a_learner_whose_warm_sandboxes_are_taken_by_classmates_meanwhile_gets_another_while_the_pool_has_one(fake, sent, plain_lab, lea, settings, monkeypatch):
    pool = warm(fake, sent, blank=6, settings=settings)
    running = fake.sandbox_running
    classmates = iter(User.objects.create_user(f"camarade-{n}") for n in range(5))

    def a_classmate_takes_it_meanwhile(name):
        # Each sandbox Léa looks at is claimed by a classmate while her claim asks whether it runs (5 in a row).
        taken = Sandbox.objects.get(pk=int(name.rsplit("-", 1)[1]))
        if Sandbox.objects.filter(owner__username__startswith="camarade").count() < 5:
            Sandbox.objects.filter(pk=taken.pk).update(owner=next(classmates), lab=plain_lab, claimed_at=timezone.now())
        return running(name)

    monkeypatch.setattr(fake, "sandbox_running", a_classmate_takes_it_meanwhile)
    leas = sandboxes.request_sandbox(user=lea, lab=plain_lab, engine=fake)
    assert leas.status == Status.READY and leas.pk in {row.pk for row in pool} and leas.owner == lea
    assert Sandbox.objects.filter(owner__isnull=True, status=Status.READY).count() == 0


def test_a_warm_sandbox_whose_container_died_is_never_handed_out(fake, sent, plain_lab, lea, settings):
    [blank] = warm(fake, sent, blank=1, settings=settings)
    fake.remove_sandbox(blank.container_name)
    requested = sandboxes.request_sandbox(user=lea, lab=plain_lab, engine=fake)
    assert requested.pk != blank.pk and requested.status == Status.REQUESTED
    assert fresh(blank).status == Status.FAILED and fresh(blank).owner is None


def test_a_full_host_stops_a_warm_sandbox_to_make_room_for_a_learner(fake, sent, lab, plain_lab, lea, settings):
    settings.SANDBOX_MAX_PER_HOST = 2
    [warm_web] = warm(fake, sent, labs={lab.slug: 1}, settings=settings)
    ready_sandbox(fake, User.objects.create_user("bob"), plain_lab)  # the host is now full
    requested = sandboxes.request_sandbox(user=lea, lab=plain_lab, engine=fake)
    assert requested.status == Status.REQUESTED
    assert fresh(warm_web).status == Status.STOPPED and (queue.REMOVE_SANDBOX, warm_web.pk) in sent
    # With no warm sandbox left to stop, a full host queues the learner instead.
    chloe = sandboxes.request_sandbox(user=User.objects.create_user("chloe"), lab=plain_lab, engine=fake)
    assert chloe.status == Status.WAITING


def test_the_reaper_never_expires_a_warm_sandbox_for_idleness(fake, sent, plain_lab, settings):
    [blank] = warm(fake, sent, blank=1, settings=settings)
    Sandbox.objects.filter(pk=blank.pk).update(last_activity_at=timezone.now() - timedelta(hours=2))
    assert sandboxes.reap(engine=fake)["idle"] == 0 and fresh(blank).status == Status.READY


def test_pool_sizes_read_from_the_environment_are_checked(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from drydock.env import env_pool_sizes

    monkeypatch.setenv("SANDBOX_POOL_LABS", "composer=2, construire-avec-le-cache=3")
    assert env_pool_sizes("SANDBOX_POOL_LABS") == {"composer": 2, "construire-avec-le-cache": 3}
    monkeypatch.setenv("SANDBOX_POOL_LABS", "composer=deux")
    with pytest.raises(ImproperlyConfigured, match="'composer=deux' is not a pool size"):
        env_pool_sizes("SANDBOX_POOL_LABS")


# --- Admission: room measured on the host, and a queue when there is none -------------------------


def test_room_is_the_ceiling_or_the_memory_left_after_the_reserve_whichever_is_less(settings):
    from labs.capacity import memory_available_mb, room

    settings.SANDBOX_MAX_PER_HOST, settings.SANDBOX_HOST_RESERVE_MB, settings.SANDBOX_ADMISSION_MB = 400, 2048, 256
    assert room(on_host=10, starting=0, available_mb=None) == 390
    assert room(on_host=10, starting=0, available_mb=2048 + 256 * 5) == 5
    assert room(on_host=10, starting=3, available_mb=2048 + 256 * 5) == 2  # those starting will take theirs
    assert room(on_host=399, starting=0, available_mb=10**6) == 1
    assert room(on_host=10, starting=0, available_mb=1000) == 0
    assert memory_available_mb() > 0  # read from this host's /proc/meminfo


def test_a_full_host_queues_learners_in_order_and_starts_them_as_room_frees_up(fake, sent, lab, plain_lab, settings):
    settings.SANDBOX_MAX_PER_HOST = 1
    first = ready_sandbox(fake, User.objects.create_user("bob"), lab)
    users = [User.objects.create_user(name) for name in ("chloe", "dan")]
    waiting = [sandboxes.request_sandbox(user=user, lab=plain_lab, engine=fake) for user in users]
    assert [w.status for w in waiting] == [Status.WAITING, Status.WAITING]
    assert [sandboxes.place_in_queue(w)[0] for w in waiting] == [1, 2]
    assert sandboxes.place_in_queue(waiting[0])[1] is None  # nothing ended lately: no estimate
    sent.clear()
    sandboxes.stop(first)
    sandboxes.remove_container(first.pk, engine=fake)
    # The first in the queue starts by itself; the second moves up.
    assert fresh(waiting[0]).status == Status.REQUESTED and fresh(waiting[0]).admitted_at
    assert (queue.PROVISION_SANDBOX, waiting[0].pk) in sent
    assert fresh(waiting[1]).status == Status.WAITING and sandboxes.place_in_queue(fresh(waiting[1])) == (1, 1800)
    # Admitted after a long wait, it is not "stuck": its deadline counts from admission.
    Sandbox.objects.filter(pk=waiting[0].pk).update(requested_at=timezone.now() - timedelta(hours=1))
    assert sandboxes.reap(engine=fake)["stuck"] == 0


def test_a_host_short_of_memory_queues_below_the_ceiling(fake, sent, plain_lab, lea, settings, monkeypatch):
    from labs import capacity

    settings.SANDBOX_HOST_RESERVE_MB, settings.SANDBOX_ADMISSION_MB = 2048, 256
    monkeypatch.setattr(capacity, "memory_available_mb", lambda: 2048 + 100)
    assert sandboxes.request_sandbox(user=lea, lab=plain_lab, engine=fake).status == Status.WAITING
    assert sandboxes.refill_pools() == []  # the pool never takes room a learner waits for
    monkeypatch.setattr(capacity, "memory_available_mb", lambda: 2048 + 1000)
    assert sandboxes.reap(engine=fake)["admitted"] == 1


def test_the_pool_command_shows_each_pool_and_the_queue(fake, sent, lab, plain_lab, settings, monkeypatch):
    import io

    from django.core.management import call_command

    from grader import engine as docker_engine

    warm(fake, sent, blank=1, labs={lab.slug: 1}, settings=settings)
    monkeypatch.setattr(docker_engine, "default", lambda: fake)
    out = io.StringIO()
    call_command("sandbox_pool", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("blank: wanted 1, ready 1, starting 0, ") and "MiB idle each" in lines[0]
    assert lines[1].startswith(f"{lab.slug}: wanted 1, ready 1, starting 0")
    assert lines[2].startswith("room on the host: ") and lines[2].endswith("learners waiting for room: 0")
