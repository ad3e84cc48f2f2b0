"""docker-compose.yaml agrees with the code it runs (no engine needed: the smoke test runs it for real).

Both ways the stack broke after other changes: a queue added to drydock/queues.py
without its worker service (/healthz then fails "no Celery worker consumes the
queue(s) lms" and web never becomes healthy), and a connection setting that the
settings refuse with the pool on (the one-shot release then exits 1).
"""

import re
from pathlib import Path

import yaml

from drydock import queues

BASE = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((BASE / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def default_of(value):
    """`${NAME:-default}` -> (NAME, default)."""
    match = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", str(value))
    assert match, value
    return match.group(1), match.group(2)


def test_every_queue_has_one_worker_service_with_its_node_name_and_concurrency_setting():
    consumers = {}
    for name, service in SERVICES.items():
        command = service.get("command") or ""
        for consumed in re.findall(r"celery -A drydock worker .*?-Q ([\w.,]+)", command):
            for queue in consumed.split(","):
                consumers.setdefault(queue, []).append((name, command))
    # The stack is one machine: the default host's queues and the central ones, as bin/drydock up starts them.
    assert set(consumers) == set(queues.all_queues()), consumers
    for kind in queues.host_worker_kinds():
        name = f"worker-{kind}"
        expected = queues.worker_command("celery", kind, {})
        node = expected[expected.index("-n") + 1].removesuffix("@%h")
        command = SERVICES[name]["command"]
        assert f"-Q {','.join(queues.queues_of(kind))} " in command, command
        assert f"-n {node}@%h" in command
        variable, default = queues.CONCURRENCY[kind]
        assert f"--concurrency ${{{variable}:-{default}}}" in command
        # Its health check pings its own node, named by QUEUE.
        assert SERVICES[name]["environment"]["QUEUE"] == node
        assert "inspect ping" in " ".join(SERVICES[name]["healthcheck"]["test"])
    assert all(len(found) == 1 for found in consumers.values()), consumers


def test_the_platform_keeps_no_connection_open_beside_the_pool():
    # settings.py refuses DATABASE_CONN_MAX_AGE > 0 with DATABASE_POOL_SIZE > 0 (its default, 8).
    for name in ("release", "web", "worker-grade", "beat"):
        assert default_of(SERVICES[name]["environment"]["DATABASE_CONN_MAX_AGE"]) == ("DATABASE_CONN_MAX_AGE", "0")


def test_every_platform_service_waits_for_the_release():
    for name, service in SERVICES.items():
        if service.get("image", "").startswith("drydock/platform") and name != "release":
            assert service["depends_on"]["release"] == {"condition": "service_completed_successfully"}, name


def test_docker_gives_addresses_on_the_sandboxes_network_from_a_range_sandboxes_never_lease():
    import ipaddress

    from grader import sandbox_network

    config = COMPOSE["networks"]["sandboxes"]["ipam"]["config"][0]
    subnet = ipaddress.ip_network(default_of(config["subnet"])[1])
    engine_range = sandbox_network.engine_range(subnet)
    assert default_of(config["ip_range"]) == ("SANDBOX_ENGINE_RANGE", str(engine_range))
    variable, registry = default_of(SERVICES["registry"]["networks"]["sandboxes"]["ipv4_address"])
    assert variable == "SANDBOX_REGISTRY_ADDRESS" and ipaddress.ip_address(registry) == subnet.network_address + 2  # after the gateway
