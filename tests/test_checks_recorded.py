"""Checks on a snapshot recorded from a real sandbox daemon (tests/snapshots/sandbox-after-labs.json).

Recorded after: pulling nginx (1.22 = latest), redis:7.0 and busybox:1.35; a
volume `donnees` holding message.txt; `lecteur` mounting it read-only with
--mount; `bonjour` exited 0 and `echec` exited 3; a network `front` with
`api` on it publishing 8080->80; `web` started by the lab's setup; app:1
built twice with a changed file.
"""

import json
from pathlib import Path

import pytest

from grader.checks import run_check
from grader.snapshot import from_dict, to_dict

SNAPSHOT = from_dict(json.loads((Path(__file__).parent / "snapshots" / "sandbox-after-labs.json").read_text()))


def verdict(name, params, answer=None):
    return run_check(name, SNAPSHOT, params, answer)


def test_recorded_snapshot_round_trips_through_json():
    assert from_dict(json.loads(json.dumps(to_dict(SNAPSHOT)))) == SNAPSHOT


@pytest.mark.parametrize("name, params, answer, passed", [
    ("image_present", {"image": "nginx:1.22"}, None, True),
    ("image_present", {"image": "docker.io/library/redis:7.0"}, None, True),
    ("image_present", {"image": "httpd:2.4"}, None, False),
    ("image_absent", {"image": "httpd"}, None, True),
    ("same_image", {"images": ["nginx", "nginx:1.22"]}, None, True),
    ("same_image", {"images": ["nginx", "redis:7.0"]}, None, False),
    # Recorded before snapshots held images' histories: nothing there proves app:1 was built.
    ("image_built", {"image": "app:1"}, None, False),
    ("image_built", {"image": "nginx:1.22"}, None, False),
    ("container_running", {"name": "web", "image": "nginx:1.22"}, None, True),
    ("container_exited", {"name": "bonjour", "exit_code": 0}, None, True),
    ("container_exited", {"name": "echec", "exit_code": 0}, None, False),
    ("container_running", {"name": "absent"}, None, False),
    ("volume_exists", {"name": "donnees"}, None, True),
    ("container_mounts", {"name": "lecteur", "destination": "/data", "volume": "donnees", "read_only": True}, None, True),
    ("container_mounts", {"name": "web", "destination": "/data"}, None, False),
    ("volume_file_contains", {"volume": "donnees", "path": "message.txt", "text": "Bonjour"}, None, True),
    ("network_exists", {"name": "front"}, None, True),
    ("container_connected", {"name": "api", "network": "front"}, None, True),
    ("container_connected", {"name": "web", "network": "front"}, None, False),
    ("port_published", {"name": "api", "container_port": 80, "host_port": 8080}, None, True),
    ("port_published", {"name": "api", "container_port": 6379}, None, False),
    ("compose_running", {"project": "compose-demo", "services": ["web"]}, None, False),
])
def test_checks_on_a_real_daemon_state(name, params, answer, passed):
    assert verdict(name, params, answer).passed is passed


def test_answers_against_real_ids_and_addresses():
    nginx = SNAPSHOT.image("nginx:latest")
    assert verdict("answer_image_id", {"image": "nginx:latest"}, nginx.id[7:19]).passed
    assert verdict("answer_image_id", {"image": "nginx:latest", "full": True}, nginx.id).passed
    web = SNAPSHOT.container("web")
    assert verdict("answer_container_ip", {"name": "web"}, web.ip_address).passed
    lecteur = SNAPSHOT.container("lecteur").ip_address
    assert verdict("answer_container_ip", {"name": "web"}, lecteur).message == f"{lecteur} n'est pas l'adresse de web. C'est celle de lecteur."


def test_failures_on_real_state_name_what_the_daemon_has():
    assert verdict("container_exited", {"name": "echec", "exit_code": 0}).message == "Le conteneur echec s'est terminé avec le code 3, attendu : 0."
    assert verdict("image_present", {"image": "nginx:1.23.3"}).message.endswith("présent : nginx:1.22, nginx:latest.")


def recorded(name):
    return from_dict(json.loads((Path(__file__).parent / "snapshots" / f"{name}.json").read_text()))


# Recorded on Docker 26 (BuildKit) from the node-app of the course, in this order in one sandbox:
# build-once: docker build -t mon-app:1.0, then docker commit of a container of it as mon-app:commit;
# build-rebuilt-after-prune: server.js changed, docker build -t mon-app:1.0 again, docker image prune -f;
# build-no-cache-after-prune: server.js changed, docker build --no-cache, docker image prune -f;
# build-buildx-after-prune: server.js changed, docker buildx build, docker image prune -f.
REBUILD = {"image": "mon-app:1.0", "changed_step": "COPY server.js", "base": "node:18"}


@pytest.mark.parametrize("name", ["build-once", "build-rebuilt-after-prune", "build-no-cache-after-prune", "build-buildx-after-prune"])
def test_recorded_build_snapshots_round_trip_and_hold_histories(name):
    snapshot = recorded(name)
    assert from_dict(json.loads(json.dumps(to_dict(snapshot)))) == snapshot
    app = snapshot.image("mon-app:1.0")
    assert app.cmd == ("node", "server.js") and app.working_dir == "/app" and app.exposed_ports == ("3000/tcp",)
    assert [step.instruction for step in app.history if step.comment == "buildkit.dockerfile.v0" and not step.empty_layer] == [
        "WORKDIR /app", "COPY package.json package-lock.json /app/", "RUN /bin/sh -c npm ci --omit=dev --no-audit --no-fund", "COPY server.js /app/",
    ]
    assert snapshot.build_cache


def test_a_real_build_is_built_and_a_commit_of_it_is_not():
    snapshot = recorded("build-once")
    assert run_check("image_built", snapshot, {"image": "mon-app:1.0", "base": "node:18", "cmd": ["node", "server.js"]}).passed
    verdict = run_check("image_built", snapshot, {"image": "mon-app:commit", "base": "node:18"})
    assert not verdict.passed and "docker commit" in verdict.message and "echo x > /tmp/x" in verdict.found


@pytest.mark.parametrize("name, passed", [
    ("build-once", False), ("build-rebuilt-after-prune", True), ("build-no-cache-after-prune", False), ("build-buildx-after-prune", True),
])
def test_the_cache_is_judged_from_real_rebuilds_after_prune(name, passed):
    verdict = run_check("build_cache_reused", recorded(name), REBUILD)
    assert verdict.passed is passed, verdict.message
    if not passed:
        assert "d'un seul coup" in verdict.message and "RUN /bin/sh -c npm ci" in verdict.found
    # The earlier image is gone (pruned): no <none> image is left to compare with.
    assert name == "build-once" or all(image.tags for image in recorded(name).images)
