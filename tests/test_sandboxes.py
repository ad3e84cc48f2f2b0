"""Sandboxes for real: the Docker engine, the course registry, Redis and a Celery worker."""

import io

import pytest
from django.core.management import call_command
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse

from grader import engine
from labs import sandboxes
from labs.models import Lab, Sandbox, Submission
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_sandbox_outlives_its_test():
    yield
    for container in engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX):
        engine.default().remove_sandbox(container.name, str(settings.SANDBOX_SOCKET_ROOT / container.name))


@pytest.fixture
def course(shipped_pack):
    from courses.packs import load_pack

    return load_pack(shipped_pack).course


@pytest.fixture
def alice(transactional_db):
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123456")


def start(client, lab):
    response = client.post(reverse("labs:sandbox_start", args=[lab.course.slug, lab.slug]), HTTP_ACCEPT="application/json")
    assert response.status_code == 202, response.content
    return Sandbox.objects.get(pk=response.json()["id"])


def wait_ready(sandbox, timeout=90):
    def ready():
        sandbox.refresh_from_db()
        assert sandbox.status != Sandbox.Status.FAILED, (sandbox.failure, sandbox.failure_detail)
        return sandbox.status == Sandbox.Status.READY

    wait_until(ready, timeout, message=f"sandbox {sandbox.pk} to be ready")
    return sandbox


def check(client, lab, task_slug, answer=""):
    response = client.post(
        reverse("labs:task_check", args=[lab.course.slug, lab.slug, task_slug]), {"answer": answer}, HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 202, response.content
    submission_id = response.json()["id"]

    def graded():
        submission = Submission.objects.get(pk=submission_id)
        return submission if submission.status in Submission.DONE else None

    return wait_until(graded, 30, interval=0.05, message="the verdict")


def names_of_sandbox_containers():
    return {c.name for c in engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}


def in_sandbox(sandbox, command, *, ok=True):
    """Run a learner's command in the sandbox; unless told otherwise, it must succeed."""
    result = engine.default().exec_in_sandbox(sandbox.container_name, command)
    if ok:
        assert result.exit_code == 0, f"{command}: exit code {result.exit_code}\n{result.output}"
    return result


def test_learner_pulls_a_tag_and_the_check_passes_through_celery(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="tirer-une-version")
    sandbox = wait_ready(start(client, lab))
    assert sandbox.step == sandbox.steps_total and sandbox.ready_at

    failed = check(client, lab, "tirer-nginx-1-22")
    assert failed.status == Submission.Status.FAILED
    assert failed.message.startswith("L'image nginx:1.22 n'est pas sur le démon. Attendu : nginx:1.22 ; présent : aucun")

    in_sandbox(sandbox, "docker pull nginx:1.22")
    assert check(client, lab, "tirer-nginx-1-22").status == Submission.Status.PASSED

    # Whatever latest is in this registry, its own ID answers for it.
    in_sandbox(sandbox, "docker image pull nginx")
    image_id = in_sandbox(sandbox, "docker images -q nginx:latest").output.strip()
    assert check(client, lab, "identifiant-de-latest", f"  {image_id} ").status == Submission.Status.PASSED

    # One release under two tags is one image; another version is another image.
    in_sandbox(sandbox, "docker pull nginx:1.26 && docker pull nginx:1.26.3")
    assert check(client, lab, "meme-image").status == Submission.Status.PASSED
    different = check(client, lab, "autre-version")
    assert different.status == Submission.Status.PASSED and "sont bien des images différentes" in different.message

    # The second image shares nginx:1.22's base layer (Debian 12): its pull says so.
    second = in_sandbox(sandbox, "docker pull redis:7.0").output
    assert "Already exists" in second, second
    assert check(client, lab, "couche-partagee").status == Submission.Status.PASSED

    page = client.get(lab.get_absolute_url()).text
    assert "5 sur 5 tâches faites" in page
    outline = client.get(course.get_absolute_url()).text
    assert "5 sur 5 tâches faites" in outline


def test_setup_starts_web_and_a_wrong_ip_gets_a_precise_failure(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="inspecter-une-adresse-ip")
    sandbox = wait_ready(start(client, lab))
    addresses = in_sandbox(sandbox, "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' web").output.split()
    assert len(addresses) == 2, addresses  # the default bridge and the lab's own network
    wrong = check(client, lab, "adresse-de-web", "10.0.0.1")
    assert wrong.status == Submission.Status.FAILED
    assert wrong.message == "10.0.0.1 n'est pas l'adresse de web."
    # The intended answer, and the valid alternative: its address on the other network.
    for address in addresses:
        assert check(client, lab, "adresse-de-web", address).status == Submission.Status.PASSED


def test_volume_lab_accepts_either_mount_syntax(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="persister-avec-un-volume")
    sandbox = wait_ready(start(client, lab))
    # Create the volume. Wrong: another name. Alternative: made by the first -v that names it. Intended: volume create.
    in_sandbox(sandbox, "docker volume create donnee")
    assert check(client, lab, "creer-le-volume").message == "Aucun volume nommé donnees. Volumes présents : donnee."
    in_sandbox(sandbox, "docker run --rm -v donnees:/data busybox:1.35 true")
    assert check(client, lab, "creer-le-volume").status == Submission.Status.PASSED
    in_sandbox(sandbox, "docker volume rm donnees && docker volume create donnees")
    assert check(client, lab, "creer-le-volume").status == Submission.Status.PASSED
    # Write the file. Wrong: another text. Alternative: --mount. Intended: -v.
    in_sandbox(sandbox, "docker run --rm -v donnees:/data busybox sh -c 'echo Salut > /data/message.txt'")
    assert check(client, lab, "ecrire-un-fichier").message == "Le fichier message.txt du volume donnees ne contient pas « Bonjour »."
    in_sandbox(sandbox, "docker run --rm --mount type=volume,src=donnees,dst=/data busybox sh -c 'echo Bonjour > /data/message.txt'")
    assert check(client, lab, "ecrire-un-fichier").status == Submission.Status.PASSED
    in_sandbox(sandbox, "docker run --rm -v donnees:/data busybox sh -c 'echo \"Bonjour du passé\" > /data/message.txt'")
    assert check(client, lab, "ecrire-un-fichier").status == Submission.Status.PASSED
    # Read it from another container. Wrong: a bind mount; created only. Alternative: --mount, then start. Intended: run -d -v.
    in_sandbox(sandbox, "docker run -d --name lecteur -v /tmp:/data nginx:1.22")
    wrong = check(client, lab, "relire-avec-un-autre-conteneur")
    assert wrong.message == "/data est un montage de type bind, attendu : volume."
    # Created with the right mount but never started: the task says start.
    in_sandbox(sandbox, "docker rm -f lecteur && docker create --name lecteur --mount type=volume,src=donnees,dst=/data nginx:1.22")
    created = check(client, lab, "relire-avec-un-autre-conteneur")
    assert created.status == Submission.Status.FAILED and "jamais été démarré" in created.message
    in_sandbox(sandbox, "docker start lecteur")
    assert check(client, lab, "relire-avec-un-autre-conteneur").status == Submission.Status.PASSED
    in_sandbox(sandbox, "docker rm -f lecteur && docker run -d --name lecteur -v donnees:/data nginx:1.22")
    assert "Bonjour" in in_sandbox(sandbox, "docker exec lecteur cat /data/message.txt").output
    assert check(client, lab, "relire-avec-un-autre-conteneur").status == Submission.Status.PASSED


def test_stop_removes_the_container_and_a_new_sandbox_can_start(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="premier-conteneur")
    sandbox = wait_ready(start(client, lab))
    response = client.post(reverse("labs:sandbox_stop", args=[sandbox.pk]), HTTP_ACCEPT="application/json")
    assert response.json()["status"] == "stopped"
    wait_until(lambda: sandbox.container_name not in names_of_sandbox_containers(), 60, message="the container to go")
    assert check_refused(client, lab)
    again = wait_ready(start(client, lab))
    assert again.pk != sandbox.pk


def check_refused(client, lab):
    response = client.post(reverse("labs:task_check", args=[lab.course.slug, lab.slug, "lancer-bonjour"]), HTTP_ACCEPT="application/json")
    return response.status_code == 409 and "pas prêt" in response.json()["error"]


def test_worker_killed_mid_provisioning_leaves_no_orphan_and_the_learner_starts_again(client, alice, course, celery_worker, settings):
    client.force_login(alice)
    lab = Lab.objects.get(slug="construire-avec-le-cache")
    sandbox = start(client, lab)
    wait_until(lambda: engine.default().sandbox_running(sandbox.container_name), 60, interval=0.05, message="provisioning to start")
    celery_worker.kill()
    try:
        sandbox.refresh_from_db()
        assert sandbox.status == Sandbox.Status.PROVISIONING
        settings.SANDBOX_PROVISION_DEADLINE_SECONDS = 0
        counts = sandboxes.reap(engine=engine.default())
        assert counts["stuck"] == 1
        sandbox.refresh_from_db()
        assert sandbox.status == Sandbox.Status.FAILED and "interrompue" in sandbox.failure
        # No worker runs the removal task: the same reaper pass removes the container, now without a live row.
        assert counts["orphans"] == 1
        assert sandbox.container_name not in names_of_sandbox_containers()
    finally:
        celery_worker.start()
    settings.SANDBOX_PROVISION_DEADLINE_SECONDS = 180
    page = client.get(lab.get_absolute_url()).text
    assert "interrompue" in page and "Démarrer un nouveau bac à sable" in page
    assert wait_ready(start(client, lab), timeout=120).status == Sandbox.Status.READY


def test_reaper_expires_old_sandboxes_and_fails_vanished_ones(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="premier-conteneur")
    sandbox = wait_ready(start(client, lab))
    engine.default().remove_sandbox(sandbox.container_name)
    assert sandboxes.reap(engine=engine.default())["vanished"] == 1
    sandbox.refresh_from_db()
    assert sandbox.status == Sandbox.Status.FAILED and "disparu" in sandbox.failure

    second = wait_ready(start(client, lab))
    Sandbox.objects.filter(pk=second.pk).update(expires_at=second.requested_at)
    out = io.StringIO()
    call_command("reap_sandboxes", stdout=out)
    assert "expired: 1" in out.getvalue()
    wait_until(lambda: second.container_name not in names_of_sandbox_containers(), 60, message="the expired container to go")


def test_the_first_labs_accept_another_tag_and_refuse_a_pull_for_a_run_or_a_tag_for_a_pull(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="premier-conteneur")
    sandbox = wait_ready(start(client, lab))
    # A valid alternative: busybox:1.35 rather than busybox (latest), with nothing else pulled.
    in_sandbox(sandbox, "docker run --name bonjour busybox:1.35 echo Bonjour")
    assert check(client, lab, "lancer-bonjour").status == Submission.Status.PASSED
    # A wrong way: a pull is not a run.
    in_sandbox(sandbox, "docker pull -q hello-world")
    pulled = check(client, lab, "hello-world")
    assert pulled.status == Submission.Status.FAILED and "il faut la lancer" in pulled.message
    client.post(reverse("labs:sandbox_stop", args=[sandbox.pk]))

    lab = Lab.objects.get(slug="tirer-une-version")
    sandbox = wait_ready(start(client, lab))
    # A wrong way: another image tagged with the name asked for is not a pull of it.
    in_sandbox(sandbox, "docker pull -q redis:7.0 && docker tag redis:7.0 nginx:1.22")
    retagged = check(client, lab, "tirer-nginx-1-22")
    assert retagged.status == Submission.Status.FAILED and "docker pull nginx:1.22" in retagged.message


def test_first_container_and_full_image_id_labs(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="premier-conteneur")
    sandbox = wait_ready(start(client, lab))
    in_sandbox(sandbox, "docker run --name bonjour busybox echo Bonjour")
    assert check(client, lab, "lancer-bonjour").status == Submission.Status.PASSED
    hello = in_sandbox(sandbox, "docker run hello-world").output
    assert "Docker" in hello
    assert check(client, lab, "hello-world").status == Submission.Status.PASSED
    client.post(reverse("labs:sandbox_stop", args=[sandbox.pk]))

    lab = Lab.objects.get(slug="observer-les-images")
    sandbox = wait_ready(start(client, lab))
    full = in_sandbox(sandbox, "docker images --no-trunc --format '{{.ID}}' busybox:1.35").output.strip()
    assert full.startswith("sha256:") and len(full) == 71
    short = check(client, lab, "identifiant-complet", full[7:19])
    assert short.status == Submission.Status.FAILED and "--no-trunc" in short.message
    assert check(client, lab, "identifiant-complet", full).status == Submission.Status.PASSED


def test_build_cache_lab_with_the_course_dockerfile(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="construire-avec-le-cache")
    sandbox = wait_ready(start(client, lab), timeout=120)
    first = in_sandbox(sandbox, "cd /root/node-app && docker build -t mon-app:1.0 . 2>&1")
    assert first.exit_code == 0, first.output
    assert check(client, lab, "construire").status == Submission.Status.PASSED
    assert "d'un seul coup" in check(client, lab, "reconstruire").message
    in_sandbox(sandbox, "cd /root/node-app && sed -i 's/Bonjour depuis Drydock/Salut depuis Drydock/' server.js")
    second = in_sandbox(sandbox, "cd /root/node-app && docker build -t mon-app:1.0 . 2>&1")
    assert second.exit_code == 0 and "CACHED" in second.output, second.output  # BuildKit, Docker 26
    verdict = check(client, lab, "reconstruire")
    assert verdict.status == Submission.Status.PASSED, verdict.message
    assert "repris 2 étape(s) du cache" in verdict.message


def test_compose_lab_brings_up_two_services_sharing_a_volume(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="composer")
    sandbox = wait_ready(start(client, lab))
    assert check(client, lab, "demarrer-la-pile").status == Submission.Status.FAILED
    # Wrong: the project under another name; its volume is that project's, not compose-demo's.
    up = in_sandbox(sandbox, "cd /root/compose-demo && docker compose -p autre up -d 2>&1")
    other = check(client, lab, "demarrer-la-pile")
    assert other.status == Submission.Status.FAILED and "le projet `autre` fait tourner ces services" in other.message
    missing = check(client, lab, "volume-partage")
    assert missing.status == Submission.Status.FAILED and "autre_partage" in missing.found
    in_sandbox(sandbox, "cd /root/compose-demo && docker compose -p autre down -v 2>&1")
    # Wrong: one service only.
    in_sandbox(sandbox, "cd /root/compose-demo && docker compose up -d --no-deps web 2>&1")
    alone = check(client, lab, "demarrer-la-pile")
    assert alone.status == Submission.Status.FAILED and "aucun conteneur pour ecrivain" in alone.message
    # Alternative: from another folder, with -f. Intended: up -d in the folder.
    up = in_sandbox(sandbox, "cd / && docker compose -f /root/compose-demo/compose.yaml up -d 2>&1")
    assert check(client, lab, "demarrer-la-pile").status == Submission.Status.PASSED
    assert check(client, lab, "volume-partage").status == Submission.Status.PASSED
    in_sandbox(sandbox, "cd /root/compose-demo && docker compose down -v 2>&1")
    up = in_sandbox(sandbox, "cd /root/compose-demo && docker compose up -d 2>&1")
    assert up.exit_code == 0, up.output
    assert check(client, lab, "demarrer-la-pile").status == Submission.Status.PASSED
    assert check(client, lab, "volume-partage").status == Submission.Status.PASSED
    page = in_sandbox(sandbox, "sleep 6; docker exec compose-demo-web-1 cat /usr/share/nginx/html/index.html").output
    assert "Mise à jour" in page
    # Stopped, the containers are there but not running: the message says so.
    in_sandbox(sandbox, "cd /root/compose-demo && docker compose stop 2>&1")
    stopped = check(client, lab, "demarrer-la-pile")
    assert "existent mais sont arrêtés" in stopped.message and stopped.found.startswith("compose-demo : ecrivain (exited)")


def test_a_warm_sandbox_is_claimed_ready_at_the_click_and_graded(client, alice, course, celery_worker, settings):
    from labs import sandboxes as lifecycle

    settings.SANDBOX_POOL_BLANK = 1
    [warm] = lifecycle.refill_pools()
    wait_until(lambda: Sandbox.objects.filter(pk=warm, status=Sandbox.Status.READY).exists(), 90, message="the warm sandbox")
    settings.SANDBOX_POOL_BLANK = 0
    client.force_login(alice)
    lab = Lab.objects.get(slug="premier-conteneur")
    response = client.post(reverse("labs:sandbox_start", args=[lab.course.slug, lab.slug]), HTTP_ACCEPT="application/json")
    assert response.status_code == 202 and response.json()["status"] == "ready" and response.json()["id"] == warm
    sandbox = Sandbox.objects.get(pk=warm)
    assert sandbox.owner == alice and sandbox.lab == lab
    in_sandbox(sandbox, "docker run --name bonjour busybox:1.35 echo Bonjour")
    assert check(client, lab, "lancer-bonjour").status == Submission.Status.PASSED


def test_tirer_une_version_accepts_other_ways_and_refuses_wrong_ones(client, alice, course, celery_worker):
    """Each task of tirer-une-version: a valid alternative passes, a wrong way fails with a French message."""
    client.force_login(alice)
    lab = Lab.objects.get(slug="tirer-une-version")
    sandbox = wait_ready(start(client, lab))

    # tirer-nginx-1-22 -- wrong: another image tagged nginx:1.22; valid: `docker run` pulls it.
    in_sandbox(sandbox, "docker pull -q redis:7.0 && docker tag redis:7.0 nginx:1.22")
    retagged = check(client, lab, "tirer-nginx-1-22")
    assert retagged.status == Submission.Status.FAILED and "docker pull nginx:1.22" in retagged.message
    # couche-partagee -- wrong: nginx:1.22 tagged redis:7.0 is not redis.
    in_sandbox(sandbox, "docker rmi -f nginx:1.22 redis:7.0 && docker pull -q nginx:1.22 && docker tag nginx:1.22 redis:7.0")
    not_redis = check(client, lab, "couche-partagee")
    assert not_redis.status == Submission.Status.FAILED and "docker pull redis:7.0" in not_redis.message
    in_sandbox(sandbox, "docker rmi redis:7.0 && docker rmi nginx:1.22")
    in_sandbox(sandbox, "docker run -d --name web122 nginx:1.22")
    assert check(client, lab, "tirer-nginx-1-22").status == Submission.Status.PASSED
    # couche-partagee -- valid: a redis container pulls it too.
    in_sandbox(sandbox, "docker run -d --name cache redis:7.0")
    assert check(client, lab, "couche-partagee").status == Submission.Status.PASSED

    # identifiant-de-latest -- wrong: the ID of another version; valid: the full ID with its prefix.
    in_sandbox(sandbox, "docker pull -q nginx:latest")
    old = in_sandbox(sandbox, "docker images -q nginx:1.22").output.strip()
    wrong_id = check(client, lab, "identifiant-de-latest", old)
    assert wrong_id.status == Submission.Status.FAILED, wrong_id.message
    full = in_sandbox(sandbox, "docker image inspect -f '{{.Id}}' nginx").output.strip()
    assert full.startswith("sha256:")
    assert check(client, lab, "identifiant-de-latest", full).status == Submission.Status.PASSED

    # autre-version -- wrong: 1.22 tagged as 1.26 is one image under two names.
    in_sandbox(sandbox, "docker tag nginx:1.22 nginx:1.26")
    same = check(client, lab, "autre-version")
    assert same.status == Submission.Status.FAILED and "désignent la même image" in same.message
    # meme-image -- wrong: those two are different images; then only one of the two tags.
    in_sandbox(sandbox, "docker pull -q nginx:1.26.3")
    apart = check(client, lab, "meme-image")
    assert apart.status == Submission.Status.FAILED and "images différentes" in apart.message
    in_sandbox(sandbox, "docker rmi nginx:1.26")
    missing = check(client, lab, "meme-image")
    assert missing.status == Submission.Status.FAILED and "Il manque nginx:1.26" in missing.message
    # meme-image -- valid: the learner tags the full version with the short one (what a Hub cache also allows).
    in_sandbox(sandbox, "docker tag nginx:1.26.3 nginx:1.26")
    assert check(client, lab, "meme-image").status == Submission.Status.PASSED
    # autre-version -- valid: 1.26 got by a `docker run`, beside the 1.22 already there.
    in_sandbox(sandbox, "docker rmi nginx:1.26 nginx:1.26.3 && docker run -d --name web126 nginx:1.26")
    assert check(client, lab, "autre-version").status == Submission.Status.PASSED


def test_observer_les_images_accepts_the_id_without_its_prefix_and_refuses_another_images(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="observer-les-images")
    sandbox = wait_ready(start(client, lab))
    # The intended way (docker images --no-trunc) is in test_first_container_and_full_image_id_labs.
    nginx = in_sandbox(sandbox, "docker images --no-trunc --format '{{.ID}}' nginx:1.22").output.strip()
    other = check(client, lab, "identifiant-complet", nginx)
    assert other.status == Submission.Status.FAILED, other.message
    bare = in_sandbox(sandbox, "docker image inspect -f '{{.Id}}' busybox:1.35").output.strip().removeprefix("sha256:")
    assert len(bare) == 64
    assert check(client, lab, "identifiant-complet", bare).status == Submission.Status.PASSED


def test_premier_conteneur_refuses_a_failing_or_never_started_container_and_accepts_create_then_start(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="premier-conteneur")
    sandbox = wait_ready(start(client, lab))
    # lancer-bonjour -- wrong: it ended in error; then one that was only created.
    in_sandbox(sandbox, "docker run --name bonjour busybox sh -c 'exit 3'", ok=False)
    failed = check(client, lab, "lancer-bonjour")
    assert failed.status == Submission.Status.FAILED, failed.message
    in_sandbox(sandbox, "docker rm bonjour && docker create --name bonjour busybox echo Bonjour")
    created = check(client, lab, "lancer-bonjour")
    assert created.status == Submission.Status.FAILED, created.message
    # ...and valid: start the created container; it says hello and exits 0.
    in_sandbox(sandbox, "docker start -a bonjour")
    assert check(client, lab, "lancer-bonjour").status == Submission.Status.PASSED
    # hello-world -- valid: created with a name, then started.
    in_sandbox(sandbox, "docker container create --name salut hello-world && docker container start -a salut")
    assert check(client, lab, "hello-world").status == Submission.Status.PASSED
