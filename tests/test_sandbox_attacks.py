"""Each way a hostile learner broke the first sandbox, tried again from inside a real one as the terminal's user.

The sandbox runs on the engine the platform uses (user namespaces), with the
flags grader/engine.py gives it. Every test here failed on the first design
(DESIGN.md "Sandbox isolation"); the last ones check that what a Docker
course needs still works inside.
"""

import ipaddress
import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from grader import disks, engine, sandbox_network
from labs import grading, sandboxes
from labs.models import Lab, Sandbox, Submission
from tests.conftest import HostListener

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# Capabilities a sandbox must never hold (bit numbers from linux/capability.h).
FORBIDDEN_CAPABILITIES = {"DAC_READ_SEARCH": 2, "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_TIME": 25, "MAC_ADMIN": 33, "SYSLOG": 34}
PROBE_SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
/* The "shocker" escape: open the root of the filesystem behind a bind-mounted file by its handle. */
int main(int argc, char **argv) {
    int anchor = open(argc > 1 ? argv[1] : "/etc/hosts", O_RDONLY);
    if (anchor < 0) { printf("no anchor: %s\n", strerror(errno)); return 2; }
    struct { struct file_handle h; unsigned char bytes[8]; } root = {{8, 1}};
    unsigned int inode = 2, generation = 0;
    memcpy(root.h.f_handle, &inode, 4);
    memcpy(root.h.f_handle + 4, &generation, 4);
    if (open_by_handle_at(anchor, &root.h, O_RDONLY) < 0) { printf("REFUSED: %s\n", strerror(errno)); return 1; }
    printf("ESCAPED\n");
    return 0;
}
"""


@pytest.fixture
def make_sandbox(settings, shipped_course):
    made = []

    def make(username="mallory", *, disk_gb=None):
        if disk_gb:
            settings.SANDBOX_DISK_GB = disk_gb
        now = timezone.now()
        row = Sandbox.objects.create(
            owner=User.objects.create_user(username), lab=Lab.objects.get(slug="premier-conteneur"),
            expires_at=now + timedelta(minutes=10), last_activity_at=now, steps_total=2,
        )
        row = sandboxes.provision(row.pk, engine=engine.default())
        assert row.status == Sandbox.Status.READY, (row.failure, row.failure_detail)
        made.append(row)
        return row

    yield make
    for row in made:
        engine.default().remove_sandbox(row.container_name, sandboxes.socket_dir(row))


@pytest.fixture
def sandbox(make_sandbox):
    return make_sandbox()


def run_in(sandbox, script, timeout=60):
    """What the learner's shell gets: root in the sandbox."""
    return engine.default().exec_in_sandbox(sandbox.container_name, f"bash -c {shlex.quote(script)}", timeout=timeout)


def address_of(sandbox, settings):
    """The sandbox's address on the sandboxes' network: its eth0's, made by the platform, not by Docker."""
    data = json.loads(subprocess.run(["docker", "inspect", sandbox.container_name], capture_output=True, text=True, check=True).stdout)[0]
    address = sandbox_network.address_in(f"/proc/{data['State']['Pid']}/ns/net")
    assert ipaddress.ip_address(address).version == 4, address
    return address


def host_engine_socket(settings):
    return settings.DOCKER_HOST.removeprefix("unix://")


def test_nothing_runs_in_a_sandbox_before_its_network_port_is_isolated(make_sandbox, monkeypatch):
    """Between the container's start and the isolation of its port, the sandbox could reach its neighbours."""
    connect, seen = engine.sandbox_network.connect, {}

    def connect_late(netns, network):
        time.sleep(1.5)  # a loaded host: the provisioning thread comes back late
        name = next(name for name in (row.container_name for row in Sandbox.objects.all()) if name)
        listing = subprocess.run(["docker", "top", name, "-o", "pid,comm"], capture_output=True, text=True, check=True).stdout
        seen["processes"] = {line.split()[-1] for line in listing.splitlines()[1:]}
        return connect(netns, network)

    monkeypatch.setattr(engine.sandbox_network, "connect", connect_late)
    row = make_sandbox()
    assert seen["processes"] and not seen["processes"] & {"containerd", "dockerd", "bash", "tmux"}, seen
    assert run_in(row, "docker info --format '{{.ServerVersion}}'").exit_code == 0


def test_root_in_the_sandbox_is_an_unprivileged_user_of_the_host(sandbox):
    uid_map = run_in(sandbox, "cat /proc/self/uid_map").output.split()
    assert uid_map[:2] != ["0", "0"], uid_map
    status = run_in(sandbox, "grep CapEff /proc/self/status").output.split()
    held = int(status[1], 16)
    assert not [name for name, bit in FORBIDDEN_CAPABILITIES.items() if held & (1 << bit)]


def test_the_kernels_settings_logs_and_clock_stay_out_of_reach(sandbox):
    script = """
    (cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern) 2>/dev/null && echo core_pattern-written
    dmesg >/dev/null 2>&1 && echo dmesg-read
    date -s 2020-01-01 >/dev/null 2>&1 && echo clock-set
    mknod /tmp/disk b 8 0 2>/dev/null && echo block-device-made
    awk '$1 != "0000000000000000" {found=1} END {if (found) print "kallsyms-addresses"}' /proc/kallsyms
    echo done
    """
    assert run_in(sandbox, script).output.split() == ["done"]


def test_the_sandbox_cannot_raise_its_own_limits_or_grant_itself_devices(sandbox):
    script = """
    cd /sys/fs/cgroup
    { echo 100000 > pids/pids.max && echo pids-raised; } 2>/dev/null
    { echo 9000000000 > memory/memory.limit_in_bytes && echo memory-raised; } 2>/dev/null
    { echo -1 > cpu/cpu.cfs_quota_us && echo cpu-raised; } 2>/dev/null
    { echo 'a *:* rwm' > devices/devices.allow && echo devices-granted; } 2>/dev/null
    echo done
    """
    assert run_in(sandbox, script).output.split() == ["done"]


def test_open_by_handle_at_cannot_reach_the_hosts_filesystem(sandbox, tmp_path):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the probe (Debian's gcc, installed with the system)")
    (tmp_path / "probe.c").write_text(PROBE_SOURCE)
    subprocess.run(["gcc", "-static", "-O2", "-o", tmp_path / "probe", tmp_path / "probe.c"], check=True)
    copied = subprocess.run(
        ["docker", "exec", "-i", sandbox.container_name, "sh", "-c", "cat > /tmp/probe && chmod +x /tmp/probe"],
        stdin=open(tmp_path / "probe", "rb"), capture_output=True, timeout=30,
    )
    assert copied.returncode == 0, copied.stderr
    for anchor in ("/etc/hosts", "/etc/resolv.conf", "/root", "/var/lib/docker"):
        result = run_in(sandbox, f"/tmp/probe {anchor}")
        assert "REFUSED" in result.output and "ESCAPED" not in result.output, (anchor, result.output)


def test_a_socket_swapped_for_the_hosts_engine_gives_an_error_never_a_verdict(sandbox, settings):
    # The learner replaces the daemon's socket by a link to the host engine's socket.
    swapped = run_in(sandbox, f"rm -f /run/drydock/docker.sock && ln -s {shlex.quote(host_engine_socket(settings))} /run/drydock/docker.sock && echo swapped")
    assert "swapped" in swapped.output, swapped.output
    with pytest.raises(engine.EngineUnavailable, match="not answering"):
        engine.default().take_snapshot(sandbox.container_name, sandboxes.socket_dir(sandbox))
    task = sandbox.lab.tasks.get(slug="hello-world")  # passes on the host, whose engine holds the hello-world image
    submission = grading.grade(grading.submit(user=sandbox.owner, task=task, sandbox=sandbox).pk, engine=engine.default())
    assert submission.status == Submission.Status.ERROR, (submission.status, submission.message)
    assert "registry" not in submission.message + submission.found and "drydock-" not in submission.message + submission.found


FAKE_DAEMON_SOURCE = r"""
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
/* Answers every request on a unix socket like a Docker daemon with nothing in it. */
int main(int argc, char **argv) {
    int server = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    unlink(argv[1]);
    if (bind(server, (struct sockaddr *)&address, sizeof address) || listen(server, 16)) return 1;
    for (;;) {
        int client = accept(server, 0, 0);
        char request[65536];
        ssize_t got = read(client, request, sizeof request - 1);
        request[got > 0 ? got : 0] = 0;
        const char *body = strstr(request, "_ping") ? "OK" : (strstr(request, "/volumes") || strstr(request, "/system/df")) ? "{}" : "[]";
        char reply[256];
        int size = snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        write(client, reply, size);
        close(client);
    }
}
"""


def build_into(sandbox, tmp_path, name, source):
    (tmp_path / f"{name}.c").write_text(source)
    subprocess.run(["gcc", "-static", "-O2", "-include", "stdio.h", "-o", tmp_path / name, tmp_path / f"{name}.c"], check=True)
    copied = subprocess.run(
        ["docker", "exec", "-i", sandbox.container_name, "sh", "-c", f"cat > /root/{name} && chmod +x /root/{name}"],
        stdin=open(tmp_path / name, "rb"), capture_output=True, timeout=30,
    )
    assert copied.returncode == 0, copied.stderr


def test_a_fake_daemon_served_from_a_nested_container_is_refused_by_its_peer_namespace(sandbox, tmp_path):
    build_into(sandbox, tmp_path, "fakedaemon", FAKE_DAEMON_SOURCE)
    snapshot_of = lambda: engine.default().take_snapshot(sandbox.container_name, sandboxes.socket_dir(sandbox))  # noqa: E731
    # In the sandbox's own pid namespace it is the learner's own daemon, fake or not: it is believed.
    run_in(sandbox, "/root/fakedaemon /run/drydock/docker.sock >/dev/null 2>&1 & sleep 1")
    assert snapshot_of().images == ()
    # From a nested container (another pid namespace, as another sandbox's daemon would be): refused.
    started = run_in(sandbox, "pkill -x fakedaemon; docker run -d -v /run/drydock:/s -v /root/fakedaemon:/fakedaemon busybox:1.35 /fakedaemon /s/docker.sock && sleep 2 && echo serving")
    assert "serving" in started.output, started.output
    with pytest.raises(engine.EngineUnavailable, match="not answering"):
        snapshot_of()


def test_a_socket_swapped_for_a_neighbours_daemon_gives_an_error(make_sandbox, settings):
    mallory, neighbour = make_sandbox("mallory"), make_sandbox("neighbour")
    # The neighbour's folder is not in mallory's sandbox; the nearest she can get is a link to its host path.
    target = engine.daemon_socket(sandboxes.socket_dir(neighbour))
    run_in(mallory, f"rm -f /run/drydock/docker.sock && ln -s {shlex.quote(str(target))} /run/drydock/docker.sock")
    with pytest.raises(engine.EngineUnavailable, match="not answering"):
        engine.default().take_snapshot(mallory.container_name, sandboxes.socket_dir(mallory))


def test_a_neighbours_sandbox_is_unreachable_also_with_a_forged_source_address(make_sandbox, settings):
    mallory, neighbour = make_sandbox("mallory"), make_sandbox("neighbour")
    started = run_in(neighbour, "docker run -d -p 8080:80 nginx:1.22 >/dev/null && sleep 1 && curl -s -o /dev/null -w '%{http_code}' localhost:8080")
    assert started.output.strip().endswith("200"), started.output
    target = address_of(neighbour, settings)
    registry = subprocess.run(
        ["docker", "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{settings.SANDBOX_NETWORK}").IPAddress}}}}', "drydock-registry"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    script = f"""
    for port in 8080 80 22 2375 2376; do timeout 2 bash -c '</dev/tcp/{target}/'$port 2>/dev/null && echo open-$port; done
    ip addr add {registry}/32 dev eth0 && echo forged-address-set
    curl -s -m 3 --interface {registry} -o /dev/null -w '%{{http_code}}' http://{target}:8080/ | grep -q 200 && echo forged-reached
    ip addr del {registry}/32 dev eth0
    timeout 3 bash -c '</dev/tcp/drydock-registry/5000' && echo registry-open
    """
    assert run_in(mallory, script, timeout=90).output.split() == ["forged-address-set", "registry-open"]


def test_ipv6_turned_back_on_in_the_sandbox_reaches_nothing_of_the_host(sandbox, settings):
    bridge = Path("/sys/class/net") / settings.SANDBOX_BRIDGE
    assert (Path("/proc/sys/net/ipv6/conf") / settings.SANDBOX_BRIDGE / "disable_ipv6").read_text().strip() == "1"
    shown = subprocess.run(["ip", "-6", "addr", "show", "dev", settings.SANDBOX_BRIDGE], capture_output=True, text=True, check=True)
    assert "inet6" not in shown.stdout, shown.stdout
    mac = (bridge / "address").read_text().strip().split(":")
    # The link-local address the host's side of the bridge would have (EUI-64): what the attack used.
    eui = [f"{int(mac[0], 16) ^ 2:02x}", *mac[1:3], "ff", "fe", *mac[3:]]
    link_local = "fe80::" + ":".join(f"{int(eui[i], 16):x}{eui[i + 1]}" for i in range(0, 8, 2))
    with HostListener(socket.AF_INET6) as listener:
        port = listener.port
        script = f"""
        sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 net.ipv6.conf.all.disable_ipv6=0 && echo ipv6-on; sleep 2
        curl -s -g -m 3 -o /dev/null 'http://[{link_local}%eth0]:{port}/' && echo reached-host
        echo done
        """
        assert run_in(sandbox, script, timeout=30).output.split() == ["ipv6-on", "done"]
        assert not listener.reached()


def test_filling_the_disk_stops_at_its_quota_inside_the_sandbox_only(make_sandbox):
    sandbox = make_sandbox(disk_gb=1)
    image = Path(sandboxes.socket_dir(sandbox)) / "disk.img"
    script = """
    dd if=/dev/zero of=/var/lib/docker/fill bs=1M count=1500 2>&1 | grep -o 'No space left on device' | head -1
    [ "$(stat -c %s /var/lib/docker/fill)" -le 1073741824 ] && echo stopped-within-1-GiB
    { head -c 10M /dev/zero > /run/drydock/more; } 2>&1 | grep -o 'No space left on device' | head -1
    { head -c 10M /dev/zero > /root/notes; } 2>&1 | grep -o 'No space left on device' | head -1
    { touch /usr/local/escape; } 2>&1 | grep -o 'Read-only file system' | head -1
    rm -f /var/lib/docker/fill; echo again > /root/notes && echo writable-again
    """
    lines = run_in(sandbox, script, timeout=120).output.strip().splitlines()
    assert lines == [
        "No space left on device", "stopped-within-1-GiB", "No space left on device", "No space left on device",
        "Read-only file system", "writable-again",
    ], lines
    assert image.stat().st_blocks * 512 <= 1024**3 + 64 * 1024**2  # what it cost on the host: the disk, no more


def test_the_sandbox_runs_todays_docker_with_buildkit_buildx_and_compose_v2(sandbox):
    script = """
    docker version --format 'server {{.Server.Version}}'
    docker compose version --short
    docker buildx version >/dev/null && echo buildx-answers
    mkdir -p /root/kit && printf 'FROM busybox:1.35\\nRUN echo built > /f\\n' > /root/kit/Dockerfile
    docker build -t kit /root/kit >/dev/null 2>&1 && docker build -t kit /root/kit 2>&1 | grep -q CACHED && echo buildkit-cached
    """
    lines = run_in(sandbox, script, timeout=120).output.split("\n")
    server = next(line.split()[1] for line in lines if line.startswith("server "))
    assert int(server.split(".")[0]) >= 26, lines
    assert any(line.strip().startswith("2.") for line in lines), lines  # Compose v2
    assert "buildx-answers" in lines and "buildkit-cached" in lines, lines


def test_what_a_docker_course_needs_still_works_inside(sandbox):
    script = """
    set -e
    docker pull -q busybox:1.35 >/dev/null && docker pull -q nginx:1.22 >/dev/null
    docker run --rm busybox:1.35 echo hello
    docker run -d --name web -p 8080:80 nginx:1.22 >/dev/null
    sleep 1; curl -s -o /dev/null -w 'published-%{http_code}\\n' localhost:8080
    docker inspect -f '{{.NetworkSettings.IPAddress}}' web | grep -qE '^[0-9.]+$' && echo has-ip
    docker network create front >/dev/null && docker run -d --name api --network front nginx:1.22 >/dev/null
    docker run --rm --network front busybox:1.35 wget -qO- http://api/ | grep -q nginx && echo dns-by-name
    docker volume create data >/dev/null && docker run --rm -v data:/d busybox:1.35 sh -c 'echo kept > /d/f'
    docker run --rm -v data:/d busybox:1.35 cat /d/f
    mkdir -p /root/app && printf 'FROM busybox:1.35\\nRUN echo built > /f\\n' > /root/app/Dockerfile
    docker build -q -t mine /root/app >/dev/null && docker run --rm mine cat /f
    mkdir -p /root/stack && printf 'services:\\n  web:\\n    image: nginx:1.22\\n' > /root/stack/compose.yaml
    cd /root/stack && docker compose up -d >/dev/null 2>&1 && docker compose ps -q | grep -q . && echo compose-up
    """
    assert run_in(sandbox, script, timeout=180).output.split() == [
        "hello", "published-200", "has-ip", "dns-by-name", "kept", "built", "compose-up",
    ]


def test_a_killed_sandbox_and_a_disk_a_crash_left_end_in_a_clear_state_with_nothing_behind(sandbox, settings):
    name, folder = sandbox.container_name, Path(sandboxes.socket_dir(sandbox))
    # A worker killed after making a disk, before the container: a folder no row or container names.
    crashed = settings.SANDBOX_SOCKET_ROOT / f"{settings.SANDBOX_NAME_PREFIX}-{sandbox.pk + 100000}"
    disk = disks.attach(crashed, templates=settings.SANDBOX_DISK_TEMPLATES, size_gb=1, owner=engine.default().engine_info().remapped_root or 0)
    long_ago = time.time() - settings.SANDBOX_PROVISION_DEADLINE_SECONDS - 60
    os.utime(crashed, (long_ago, long_ago))  # made before the crash, not by a worker starting it now
    subprocess.run(["docker", "kill", name], check=True, capture_output=True)

    counts = sandboxes.reap(engine=engine.default())
    sandbox.refresh_from_db()
    assert counts["vanished"] == 1 and counts["leftovers"] == 1, counts
    assert sandbox.status == Sandbox.Status.FAILED and sandbox.failure
    assert not disk.is_mount() and not crashed.exists()
    sandboxes.remove_container(sandbox.pk, engine=engine.default())  # what the queued task does
    assert not engine.default().sandbox_running(name) and name not in {c.name for c in engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}
    assert not (folder / "disk").is_mount() and not folder.exists()
    mounts = Path("/proc/self/mounts").read_text()
    assert str(folder) not in mounts and str(crashed) not in mounts


def test_the_graders_http_probe_reaches_only_the_sandboxs_own_loopback_and_reads_a_bounded_answer(sandbox):
    probe = lambda port, path="/": engine.default().fetch_http(sandbox.container_name, port, path)  # noqa: E731
    # The learner's ~/.curlrc sends their own curl through the registry; the probe does not read it (-q).
    run_in(sandbox, "printf 'proxy = \"http://drydock-registry:5000\"\\n' > /root/.curlrc")
    reached = run_in(sandbox, "curl -s -o /dev/null -w '%{http_code}' -m 3 http://localhost:5000/v2/").output
    assert reached == "200", reached  # what the learner's own curl reaches that way
    assert probe(5000, "/v2/") is None
    for port, path in [(5000, "@drydock-registry:5000/v2/"), (5000, "//drydock-registry:5000/v2/"), ("drydock-registry:5000", "/v2/")]:
        assert probe(port, path) is None
    run_in(sandbox, "rm /root/.curlrc")
    # A page far larger than the limit: read up to the limit, no further.
    served = run_in(sandbox, """
    docker run -d -p 8080:8000 busybox:1.35 sh -c 'mkdir /www && head -c 5000000 /dev/zero | tr "\\\\0" a > /www/index.html && httpd -f -p 8000 -h /www' >/dev/null
    for i in $(seq 50); do curl -sf -o /dev/null localhost:8080/ && echo serving && break; sleep 0.1; done
    """, timeout=60)
    assert "serving" in served.output, served.output
    answer = probe(8080)
    assert answer.status == 200 and 0 < len(answer.body) < engine.HTTP_ANSWER_LIMIT and set(answer.body) == {"a"}
    # A program of the learner's mounted over curl, printing without end: bounded in bytes and time, believed like their own daemon.
    flooded = run_in(sandbox, "printf '#!/bin/sh\\nyes \"HTTP/1.1 200 OK\"\\n' > /root/flood && chmod +x /root/flood && mount --bind /root/flood /usr/bin/curl && echo mounted")
    assert "mounted" in flooded.output, flooded.output
    started = time.monotonic()
    answer = probe(8080)
    assert time.monotonic() - started < engine.HTTP_PROBE_SECONDS + 6
    assert answer is None or len(answer.body) < engine.HTTP_ANSWER_LIMIT
