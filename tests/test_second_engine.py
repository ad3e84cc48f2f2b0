"""A second Docker engine on this machine, used as a second Docker host would be (issue 16; bin/drydock engine2).

Its sandboxes are started by the platform's own code with the settings a worker of that host has
(SecondEngine.worker_env) and a grader.engine.DockerEngine for its URL: hardened as on the first engine,
pulling from the second engine's own course registry, graded there, and cut off from the first engine's
sandboxes, bridges and registry and from the host's services.
"""

import asyncio
import ipaddress
import json
import os
import shlex
import socket
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from grader import engine, sandbox_network
from labs import grading, hosts, sandboxes
from labs.models import DockerHost, Lab, Sandbox, Submission
from tests.conftest import drydock_cli

def as_second_host(second_engine):
    """The platform's settings as the second host's worker has them (its DOCKER_HOST is the DockerEngine's URL)."""
    env = second_engine.worker_env()
    return override_settings(
        SANDBOX_NETWORK=env["SANDBOX_NETWORK"], SANDBOX_BRIDGE=env["SANDBOX_BRIDGE"],
        SANDBOX_REGISTRY_MIRROR=env["SANDBOX_REGISTRY_MIRROR"], SANDBOX_SOCKET_ROOT=Path(env["SANDBOX_SOCKET_ROOT"]),
    )


@pytest.fixture
def make_sandbox(shipped_course):
    made = []

    def make(username, *, on, lab_slug="premier-conteneur"):
        now = timezone.now()
        lab = Lab.objects.get(slug=lab_slug)
        row = Sandbox.objects.create(
            owner=User.objects.create_user(username), lab=lab, expires_at=now + timedelta(minutes=10), last_activity_at=now,
            steps_total=2 + len(lab.setup),
        )
        row = sandboxes.provision(row.pk, engine=on)
        made.append((on, row.container_name, sandboxes.socket_dir(row)))
        assert row.status == Sandbox.Status.READY, (row.failure, row.failure_detail)
        return row

    yield make
    for on, name, folder in made:
        on.remove_sandbox(name, folder)


def run_in(on, sandbox, script, timeout=60):
    result = on.exec_in_sandbox(sandbox.container_name, f"bash -c {shlex.quote(script)}", timeout=timeout)
    return result.output


def docker_at(url, *args):
    return subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": url}, capture_output=True, text=True, check=True)


def addresses(url, container):
    """{network: IPv4 address} of a container of the engine at `url`."""
    networks = json.loads(docker_at(url, "inspect", "-f", "{{json .NetworkSettings.Networks}}", container).stdout)
    return {name: network["IPAddress"] for name, network in networks.items()}


def sandbox_address(url, container):
    """A sandbox's address on its sandboxes' network: its eth0's, made by the platform, not by Docker."""
    return sandbox_network.address_in(f"/proc/{docker_at(url, 'inspect', '-f', '{{.State.Pid}}', container).stdout.strip()}/ns/net")


def gateways(url, network):
    return [c["Gateway"] for c in json.loads(docker_at(url, "network", "inspect", network).stdout)[0]["IPAM"]["Config"] if c.get("Gateway")]


def test_second_engines_are_named_after_their_session_and_their_bridges_fit_linux_names():
    cli = drydock_cli()
    names = {cli.second_engine_name(prefix) for prefix in ("drydock-test-sandbox", "drydock-h2-engine2", "drydock-bench-sandbox")}
    assert len(names) == 3 and names == {cli.second_engine_name(p) for p in ("drydock-test-sandbox", "drydock-h2-engine2", "drydock-bench-sandbox")}
    for name in names:
        layout = cli.EngineLayout(name)
        assert cli.SECOND_ENGINE_NAME.fullmatch(name)
        assert all(len(bridge) <= 15 for bridge in layout.bridges), layout.bridges
        assert len(str(layout.exec_root / "exec" / "containerd" / "containerd.sock.ttrpc")) < 108


@pytest.mark.integration
@pytest.mark.django_db
def test_a_hardened_sandbox_on_the_second_engine_pulls_from_its_own_registry_and_is_graded_there(make_sandbox, second_engine, settings):
    second = engine.DockerEngine(second_engine.url)
    assert second.engine_info().user_namespaces
    with as_second_host(second_engine):
        sandbox = make_sandbox("alice", on=second, lab_slug="tirer-une-version")
        task = sandbox.lab.tasks.get(slug="tirer-nginx-1-22")
        grade = lambda: grading.grade(grading.submit(user=sandbox.owner, task=task, sandbox=sandbox).pk, engine=second)  # noqa: E731
        assert grade().status == Submission.Status.FAILED
        output = run_in(second, sandbox, "docker pull -q nginx:1.22 && getent hosts drydock-registry && cat /proc/self/uid_map")
        assert grade().status == Submission.Status.PASSED
        folder = Path(sandboxes.socket_dir(sandbox))
    assert folder.is_relative_to(second_engine.socket_root)
    # It lives on the second engine, not the first.
    assert {c.name for c in second.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)} == {sandbox.container_name}
    assert not engine.default().sandbox_running(sandbox.container_name)
    # Its mirror is the second engine's registry: an address of that engine's networks, whose log has the pull.
    words = output.split()
    assert "docker.io/library/nginx:1.22" in words
    assert ipaddress.ip_address(words[words.index("drydock-registry") - 1]) in ipaddress.ip_network(second_engine.address_pool)
    served = docker_at(second_engine.url, "logs", second_engine.registry)
    assert "/v2/library/nginx/manifests/1.22" in served.stdout + served.stderr
    # Hardened as on the first engine: root in it is an unprivileged user of the host, its network isolated.
    assert words[-3:] == ["0", str(second.engine_info().remapped_root), "65536"], words[-3:]
    assert second.isolation_problems(bridge=second_engine.sandbox_bridge, registry=second_engine.registry) == []
    # Started with iptables on, it would have flushed the first engine's chains (its internal network's rules among them).
    chain = subprocess.run(["iptables", "-S", "DOCKER-ISOLATION-STAGE-1"], capture_output=True, text=True, check=True).stdout
    assert f"-o {settings.SANDBOX_BRIDGE} -j DROP" in chain, chain
    second.remove_sandbox(sandbox.container_name, str(folder))
    assert second.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX) == [] and not folder.exists()


@pytest.mark.integration
@pytest.mark.django_db
def test_a_sandbox_on_the_second_engine_reaches_nothing_of_the_first_engine_nor_of_the_host(make_sandbox, second_engine, settings):
    first, second = engine.default(), engine.DockerEngine(second_engine.url)
    neighbour = make_sandbox("neighbour", on=first)
    served = run_in(first, neighbour, "docker run -d -p 8080:80 nginx:1.22 >/dev/null && sleep 1 && curl -s -o /dev/null -w '%{http_code}' localhost:8080")
    assert served.endswith("200"), served
    with as_second_host(second_engine):
        mallory = make_sandbox("mallory", on=second)
    # A service of the host on every address, as a careless deployment would have.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))
    listener.listen(5)
    accepted = []

    def accept():
        try:
            accepted.append(listener.accept())
        except OSError:
            pass  # closed at the end of the test

    threading.Thread(target=accept, daemon=True).start()
    host_port = listener.getsockname()[1]
    url = settings.DOCKER_HOST
    targets = {
        # The first engine's sandbox (its nginx), its registry on both networks, the gateways of its networks.
        sandbox_address(url, neighbour.container_name): [8080, 2375, 22],
        **{address: [5000] for address in addresses(url, "drydock-registry").values()},
        **{gateway: [host_port, 6379, 5000] for network in ("bridge", "drydock-registry-host") for gateway in gateways(url, network)},
        # The host's side of the second engine's own networks.
        second_engine.bridge_address.split("/")[0]: [host_port, 6379],
        **{gateway: [host_port, 6379] for gateway in gateways(second_engine.url, "drydock-registry-host")},
        "127.0.0.1": [6379, host_port],
    }
    # All at once: each one a firewall drops takes its whole timeout.
    probes = "\n".join(
        f"(timeout 2 bash -c '</dev/tcp/{address}/{port}' 2>/dev/null && echo open-{address}-{port}) &"
        for address, ports in targets.items() for port in ports
    ) + "\nwait"
    # Root in the sandbox may route anything out of its network (NET_ADMIN in its own namespace): still nothing.
    script = f"""
    {probes}
    ip route replace 10.0.0.0/8 dev eth0 && ip route replace default dev eth0 && echo routes-added
    {probes}
    timeout 3 bash -c '</dev/tcp/drydock-registry/5000' && echo registry-open
    """
    try:
        assert run_in(second, mallory, script, timeout=180).split() == ["routes-added", "registry-open"]
        assert not accepted
    finally:
        listener.close()
    # And the other way: the first engine's sandbox reaches neither the second's sandbox nor its registry.
    back = [sandbox_address(second_engine.url, mallory.container_name), *addresses(second_engine.url, second_engine.registry).values()]
    script = "\n".join(f"(timeout 2 bash -c '</dev/tcp/{address}/5000' 2>/dev/null && echo open-{address}) &" for address in back) + "\nwait"
    routes = "ip route replace 10.0.0.0/8 dev eth0 && ip route replace default dev eth0 && echo routes-added"
    assert run_in(first, neighbour, f"{script}\n{routes}\n{script}", timeout=60).split() == ["routes-added"]


@pytest.mark.integration
@pytest.mark.django_db
def test_a_host_on_tcp_with_tls_runs_and_grades_a_sandbox_and_a_client_without_its_certificate_is_refused(make_sandbox, second_engine, settings, tmp_path):
    # The second engine also listens on 127.0.0.1 with TLS (dockerd --tlsverify), as an engine on another machine would.
    assert second_engine.tls_url.startswith("tcp://127.0.0.1:")
    host = DockerHost.objects.create(
        name="tls", engine_url=second_engine.tls_url, tls_dir=second_engine.tls_dir, network=second_engine.network,
        bridge=second_engine.sandbox_bridge, registry_mirror=second_engine.registry_mirror,
    )
    over_tls = hosts.engine_for(host)
    assert (over_tls.base_url, over_tls.tls_dir) == (second_engine.tls_url, second_engine.tls_dir)
    assert over_tls.engine_info().user_namespaces
    with as_second_host(second_engine):
        sandbox = make_sandbox("alice", on=over_tls, lab_slug="tirer-une-version")
        task = sandbox.lab.tasks.get(slug="tirer-nginx-1-22")
        assert "docker.io/library/nginx:1.22" in run_in(over_tls, sandbox, "docker pull -q nginx:1.22")
        graded = grading.grade(grading.submit(user=sandbox.owner, task=task, sandbox=sandbox).pk, engine=over_tls)
        assert graded.status == Submission.Status.PASSED, graded.message
        # The learner's terminal too: an exec's connection over TLS, read and written with asyncio as labs/terminal.py
        # does (its sock_recv and sock_sendall refuse a TLS socket: the engine bridges it to a plain one).
        terminal = over_tls.open_terminal(sandbox.container_name)
        try:
            assert b"tls-42" in asyncio.run(_type_and_read(terminal.socket, b"echo tls-$((6*7))\r", b"tls-42", seconds=30))
        finally:
            terminal.close()
    # The sandbox is the second engine's, whichever way it is spoken to.
    assert sandbox.container_name in {c.name for c in engine.DockerEngine(second_engine.url).labelled_sandboxes(settings.SANDBOX_NAME_PREFIX)}
    assert over_tls.sandbox_running(sandbox.container_name)

    # Without TLS the engine does not answer, and says why.
    with pytest.raises(engine.EngineUnavailable, match="speaks TLS only: give the host its client certificate"):
        engine.DockerEngine(second_engine.tls_url).engine_info()
    # With the right CA but a client certificate of another CA, the engine refuses the handshake.
    _server, rogue = drydock_cli().make_tls_certificates(tmp_path / "rogue", name="rogue")
    (rogue / "ca.pem").write_bytes((Path(second_engine.tls_dir) / "ca.pem").read_bytes())
    with pytest.raises(engine.EngineUnavailable, match=f"TLS with the Docker engine at {second_engine.tls_url} failed .*are not the ones"):
        engine.DockerEngine(second_engine.tls_url, tls_dir=str(rogue)).sandbox_running(sandbox.container_name)
    # And a client that trusts another CA does not take the engine's certificate for its own.
    _server, stranger = drydock_cli().make_tls_certificates(tmp_path / "stranger", name="stranger")
    with pytest.raises(engine.EngineUnavailable, match="certificate verify failed"):
        engine.DockerEngine(second_engine.tls_url, tls_dir=str(stranger)).engine_info()
    # A folder that lacks a file is named as such, before anything is sent.
    (rogue / "key.pem").unlink()
    with pytest.raises(engine.TlsFilesMissing, match="key.pem is missing"):
        engine.DockerEngine(second_engine.tls_url, tls_dir=str(rogue)).engine_info()


@pytest.mark.integration
@pytest.mark.django_db
def test_the_preview_of_a_sandbox_on_a_host_off_the_web_s_machine_goes_through_that_host_s_engine(make_sandbox, second_engine, client, monkeypatch):
    from django.urls import reverse

    # A host reached over tcp+TLS, as one on another machine is: its sandboxes' folders are not the web's to read.
    host = DockerHost.objects.create(
        name="tls", engine_url=second_engine.tls_url, tls_dir=second_engine.tls_dir, network=second_engine.network,
        bridge=second_engine.sandbox_bridge, registry_mirror=second_engine.registry_mirror,
    )
    with as_second_host(second_engine):
        sandbox = make_sandbox("alice", on=hosts.engine_for(host))
        served = run_in(hosts.engine_for(host), sandbox, "docker run -d -p 8080:80 nginx:1.22 >/dev/null 2>&1 && "
                        "for i in $(seq 50); do curl -sf -o /dev/null localhost:8080 && echo served && break; sleep 0.1; done")
        assert served.split() == ["served"], served
    Sandbox.objects.filter(pk=sandbox.pk).update(host=host)

    def no_socket_from_the_web(*args, **kwargs):
        raise AssertionError("the web read a sandbox's socket of a host on another machine")

    monkeypatch.setattr(engine, "_SandboxDaemonConnection", no_socket_from_the_web)
    client.force_login(sandbox.owner)
    ports = client.get(reverse("labs:sandbox_ports", args=[sandbox.pk]), HTTP_ACCEPT="application/json").json()
    assert ports["problem"] == "" and [(p["port"], p["container_port"]) for p in ports["ports"]] == [(8080, 80)], ports
    link = client.get(ports["ports"][0]["url"])
    assert link.status_code == 302, link.content
    page = client.get(link["Location"])
    assert page.status_code == 200 and b"Welcome to nginx!" in page.content
    assert page["Content-Security-Policy"].startswith("sandbox ")
    # Still the owner's alone.
    client.force_login(User.objects.create_user("mallory"))
    assert client.get(reverse("labs:sandbox_ports", args=[sandbox.pk])).status_code == 404
    assert client.get(link["Location"]).status_code == 404



async def _type_and_read(sock, keys, wanted, *, seconds):
    """Send `keys` on a terminal's socket and read until `wanted` comes back (or `seconds` pass), with asyncio."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, keys)
    seen = b""

    async def read():
        nonlocal seen
        while wanted not in seen:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                return
            seen += chunk

    try:
        await asyncio.wait_for(read(), seconds)
    except asyncio.TimeoutError:
        pass
    return seen
