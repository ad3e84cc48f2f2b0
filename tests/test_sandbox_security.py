"""What a learner can do inside a sandbox must stay inside it."""

import json
import shlex
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from grader import engine
from labs import sandboxes
from labs.models import Lab, Sandbox
from tests.conftest import HostListener

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def sandbox(settings, shipped_course):
    settings.SANDBOX_MEMORY_MB = 256
    settings.SANDBOX_PIDS_LIMIT = 200
    now = timezone.now()
    row = Sandbox.objects.create(
        owner=User.objects.create_user("mallory"), lab=Lab.objects.get(slug="premier-conteneur"),
        expires_at=now + timedelta(minutes=10), last_activity_at=now, steps_total=2,
    )
    row = sandboxes.provision(row.pk, engine=engine.default())
    assert row.status == Sandbox.Status.READY, (row.failure, row.failure_detail)
    yield row
    engine.default().remove_sandbox(row.container_name, sandboxes.socket_dir(row))


def run_in(sandbox, script, timeout=60):
    return engine.default().exec_in_sandbox(sandbox.container_name, f"bash -c {shlex.quote(script)}", timeout=timeout)


def can_connect(sandbox, host, port):
    result = run_in(sandbox, f"timeout 3 bash -c '</dev/tcp/{host}/{port}' && echo open || echo closed", timeout=10)
    return result.output.strip().endswith("open")


def docker_inspect(kind, name):
    return json.loads(subprocess.run(["docker", kind, "inspect", name], capture_output=True, text=True, check=True).stdout)[0]


def test_sandbox_reaches_the_registry_and_nothing_of_the_platform(sandbox, settings):
    with HostListener() as listener:
        port = listener.port
        mirror = urlsplit(settings.SANDBOX_REGISTRY_MIRROR)
        assert can_connect(sandbox, mirror.hostname, mirror.port)
        network = docker_inspect("network", settings.SANDBOX_NETWORK)
        assert network["Internal"] is True
        gateways = [c["Gateway"] for c in network["IPAM"]["Config"] if c.get("Gateway")]
        assert gateways, f"{settings.SANDBOX_NETWORK} names no gateway address to try"
        for address in gateways:
            assert not can_connect(sandbox, address, port), f"host service reachable through {address}"
            assert not can_connect(sandbox, address, 6379), f"Redis reachable through {address}"
        # The platform's Redis and web server listen on the host's loopback; the sandbox's loopback is its own.
        assert not can_connect(sandbox, "127.0.0.1", 6379)
        assert not listener.reached()


def test_fork_bomb_is_stopped_by_the_pids_limit_and_the_host_stays_responsive(sandbox, settings):
    # The bomb's own exit status says nothing (the shell is killed or times out); what it did is read from the cgroup.
    bomb = threading.Thread(target=lambda: run_in(sandbox, "timeout 20 bash -c 'f(){ f | f & }; f' ; sleep 1", timeout=40), daemon=True)
    bomb.start()
    time.sleep(5)
    container = docker_inspect("container", sandbox.container_name)
    pids = Path(f"/sys/fs/cgroup/pids{container['HostConfig']['CgroupParent'] or '/docker'}/{container['Id']}/pids.current")
    in_use = int(pids.read_text())
    assert 50 < in_use <= settings.SANDBOX_PIDS_LIMIT, in_use  # the bomb ran, and hit the ceiling
    started = time.monotonic()
    assert engine.default().engine_info().version
    assert time.monotonic() - started < 5, "the host's Docker engine stopped answering"
    bomb.join(60)
    engine.default().remove_sandbox(sandbox.container_name, sandboxes.socket_dir(sandbox))
    assert engine.default().engine_info().version


def test_memory_hog_is_killed_inside_its_own_limit(sandbox):
    result = run_in(sandbox, "head -c 2000m /dev/zero | tail > /dev/null; echo exit=$?", timeout=120)
    assert "exit=137" in result.output and "Killed" in result.output, result.output
    assert engine.default().sandbox_running(sandbox.container_name)
    assert run_in(sandbox, "docker version --format '{{.Server.Version}}'").exit_code == 0


def test_a_started_sandbox_weighs_on_the_cores_as_every_other_in_the_sandboxes_group_and_cannot_weigh_more(sandbox, settings):
    container = docker_inspect("container", sandbox.container_name)
    group = Path("/sys/fs/cgroup/cpu") / settings.SANDBOX_CPU_GROUP
    assert container["HostConfig"]["CgroupParent"] == f"/{settings.SANDBOX_CPU_GROUP}"
    # Its start weighed the most; ready, it weighs what every started sandbox does, in a group lighter than the platform.
    assert (group / container["Id"] / "cpu.shares").read_text().strip() == "1024"
    assert (group / "cpu.shares").read_text().strip() == str(settings.SANDBOX_CPU_GROUP_SHARES)
    # The learner, root in the sandbox, tries to give it more.
    tried = run_in(sandbox, "for f in /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu,cpuacct/cpu.shares; do "
                            "[ -e $f ] && { echo 262144 > $f && echo raised || echo refused; }; done; true")
    assert "raised" not in tried.output, tried.output
    assert (group / container["Id"] / "cpu.shares").read_text().strip() == "1024"
