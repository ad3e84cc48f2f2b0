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
    ("image_built", {"image": "app:1"}, None, True),
    ("image_built", {"image": "nginx:1.22"}, None, False),
    ("build_cache_reused", {"image": "app:1", "min_shared_layers": 2}, None, True),
    ("container_running", {"name": "web", "image": "nginx:1.22"}, None, True),
    ("container_exited", {"name": "bonjour", "exit_code": 0}, None, True),
    ("container_exited", {"name": "echec", "exit_code": 0}, None, False),
    ("container_exists", {"name": "absent"}, None, False),
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
