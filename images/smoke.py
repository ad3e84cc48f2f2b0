#!/usr/bin/env python3
"""Start one sandbox the way the platform will and check what the images promise.

    python3 images/smoke.py

Needs what images/build.py made (drydock/sandbox, drydock-registry on the
drydock-sandboxes network). Runs the learner's commands inside the sandbox,
checks its isolation, prints timings and memory, and removes everything it
created (containers and volumes labelled drydock.test=1, its socket folder)
whatever happens. Only the docker CLI and the standard library are used.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from build import registry_address, sandbox_network  # noqa: E402 - the same names as the build, from the same variables

REGISTRY, REGISTRY_PORT = registry_address()
NETWORK = sandbox_network()
SANDBOX_IMAGE = "drydock/sandbox"
READY_TIMEOUT = 30.0


class SmokeFailure(Exception):
    pass


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise SmokeFailure(f"docker {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def show(title: str, text: str) -> None:
    print(f"-- {title}")
    for line in text.rstrip().splitlines():
        print(f"   {line}")


def check(condition: bool, what: str) -> None:
    print(f"   {'ok  ' if condition else 'FAIL'} {what}", flush=True)
    if not condition:
        raise SmokeFailure(what)


def ping(path: str) -> bool:
    """True when a Docker daemon answers /_ping on the unix socket at path."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            return b" 200 " in sock.recv(256)
    except OSError:
        return False


def memory(container: str) -> str:
    return docker("stats", "--no-stream", "--format", "{{.MemUsage}} ({{.PIDs}} pids)",
                  container).stdout.strip()


class Listener:
    """A TCP service on the host, like Redis or PostgreSQL bound to 0.0.0.0."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def main() -> int:
    for what, args in (("image " + SANDBOX_IMAGE, ("image", "inspect", SANDBOX_IMAGE)),
                       ("network " + NETWORK, ("network", "inspect", NETWORK)),
                       ("container " + REGISTRY, ("container", "inspect", REGISTRY))):
        if docker(*args, check=False).returncode != 0:
            print(f"smoke.py: no {what}; run python3 images/build.py first", file=sys.stderr)
            return 2
    name = f"drydock-smoke-{secrets.token_hex(4)}"
    folder = tempfile.mkdtemp(prefix="drydock-smoke-")
    sock = os.path.join(folder, "docker.sock")
    created_container = created_volume = False
    listener_any = listener_lo = None
    try:
        docker("volume", "create", "--label", "drydock.test=1", name)
        created_volume = True
        start = time.monotonic()
        docker("run", "-d", "--name", name, "--hostname", "sandbox",
               "--label", "drydock.test=1",
               "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--cgroupns", "private",
               "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
               "--security-opt", "systempaths=unconfined",
               "--memory", "1g", "--memory-swap", "1g", "--pids-limit", "1024", "--cpus", "1",
               "--log-opt", "max-size=1m",
               "-v", f"{name}:/var/lib/docker", "-v", f"{folder}:/run/drydock",
               "--network", NETWORK,
               "-e", f"DRYDOCK_REGISTRY_MIRROR=http://{REGISTRY}:{REGISTRY_PORT}",
               SANDBOX_IMAGE)
        created_container = True
        polls = 0
        while not ping(sock):
            polls += 1
            if time.monotonic() - start > READY_TIMEOUT:
                logs = docker("logs", "--tail", "20", name, check=False)
                raise SmokeFailure(f"nested daemon not ready in {READY_TIMEOUT:.0f} s:\n"
                                   f"{logs.stdout}{logs.stderr}")
            time.sleep(0.05)
        ready = time.monotonic() - start
        print(f"sandbox {name}: nested daemon ready {ready:.2f} s after `docker run` "
              f"({polls} polls of {sock})")
        info = docker("-H", f"unix://{sock}", "info", "--format",
                      "{{.ServerVersion}} {{.Driver}} {{json .RegistryConfig.Mirrors}}").stdout
        print(f"   via the bind-mounted socket: dockerd {info.strip()}")
        time.sleep(2)
        idle = memory(name)
        print(f"   idle memory: {idle}")

        def learner(command: str, *, ok: bool = True) -> tuple[str, float]:
            begin = time.monotonic()
            proc = docker("exec", name, "sh", "-c", command, check=False)
            took = time.monotonic() - begin
            out = (proc.stdout + proc.stderr).strip()
            show(f"$ {command}   [{took:.2f} s, exit {proc.returncode}]", out)
            if ok and proc.returncode != 0:
                raise SmokeFailure(f"`{command}` failed in the sandbox")
            return out, took

        learner("docker pull nginx:1.22")
        learner("docker pull nginx")
        out, _ = learner("docker images nginx")
        ids = {line.split()[2] for line in out.splitlines()[1:]}
        check(len(ids) == 1 and len(out.splitlines()) == 3, "nginx:1.22 and nginx:latest are one IMAGE ID")
        out, _ = learner("docker pull redis:7.0")
        check("Already exists" in out, "redis:7.0 shares the base layer: \"Already exists\"")
        learner("docker run -d --name web nginx")
        ip, _ = learner("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web")
        out, _ = learner(f"curl -s http://{ip}/ | grep -o '<title>.*</title>'")
        check("Welcome to nginx" in out, f"nginx answers on {ip}:80 inside the sandbox")
        learner("docker run --rm hello-world | head -3")
        learner("docker run --rm busybox:1.35 busybox | head -1")
        out, took = learner("docker pull ubuntu:22.04", ok=False)
        check("Error" in out and took < 5, "an image outside the catalog fails fast")

        # Nested containers live inside the sandbox's cgroup, so its limits hold.
        sandbox_id = docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
        web_id = docker("exec", name, "docker", "inspect", "-f", "{{.Id}}", "web").stdout.strip()
        nested = f"/sys/fs/cgroup/pids/docker/{sandbox_id}/docker/{web_id}"
        check(os.path.isdir(nested), "nested container web is in the sandbox's pids cgroup")
        mem_limit = open(f"/sys/fs/cgroup/memory/docker/{sandbox_id}/memory.limit_in_bytes").read()
        check(int(mem_limit) == 1 << 30, "the sandbox's memory limit is 1 GiB")

        print("-- isolation (only targets on the project's networks)")
        network = json.loads(docker("network", "inspect", NETWORK).stdout)[0]
        gateway = network["IPAM"]["Config"][0]["Gateway"]
        check(network["Internal"], f"{NETWORK} is internal")
        listener_any = Listener("0.0.0.0")
        listener_lo = Listener("127.0.0.1")
        def reach(url: str) -> str:
            return (f"curl -s -o /dev/null --connect-timeout 2 -w '%{{http_code}}' {url}; "
                    "echo \" exit=$?\"")

        out, _ = learner(reach(f"http://{REGISTRY}:{REGISTRY_PORT}/v2/"), ok=False)
        check("200 exit=0" in out, "the registry is reachable")
        for host, port, what in ((gateway, listener_any.port, "a host service on 0.0.0.0 via the gateway"),
                                 (gateway, 6379, "the host's Redis port via the gateway"),
                                 ("127.0.0.1", listener_lo.port, "a host service on 127.0.0.1")):
            out, _ = learner(reach(f"http://{host}:{port}/"), ok=False)
            check("exit=0" not in out, f"unreachable: {what} ({host}:{port})")
        check(listener_any.accepted == 0 and listener_lo.accepted == 0,
              "the host listeners saw no connection from the sandbox")
        # busybox nc, not wget: Debian's busybox 1.35 wget -T segfaults on a timeout.
        out, _ = learner(f"docker run --rm busybox nc -w 2 {gateway} {listener_any.port} "
                         "</dev/null; echo exit=$?", ok=False)
        check("exit=0" not in out and listener_any.accepted == 0,
              "a nested container cannot reach the host either")

        # Another learner's sandbox on the same network: the registry, nothing else.
        learner("docker run -d --name published -p 8080:80 nginx")
        out, _ = learner("curl -s http://localhost:8080/ | grep -o '<title>.*</title>'")
        check("Welcome to nginx" in out, "-p 8080:80 works inside the sandbox")
        address = docker("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}',
                         name).stdout.strip()
        neighbour = docker("run", "--rm", "--label", "drydock.test=1", "--network", NETWORK,
                           "--entrypoint", "sh", SANDBOX_IMAGE, "-c",
                           reach(f"http://{address}:8080/") + "; " + reach(f"http://{REGISTRY}:{REGISTRY_PORT}/v2/"),
                           check=False).stdout
        show(f"from a neighbour on {NETWORK}: {address}:8080, then the registry", neighbour)
        lines = neighbour.strip().splitlines()
        check(len(lines) == 2 and "exit=0" not in lines[0],
              "another sandbox cannot reach this sandbox's published port")
        check(len(lines) == 2 and "200 exit=0" in lines[1], "another sandbox reaches the registry")

        print(f"-- memory: idle {idle}; with two nginx running {memory(name)}")
        return 0
    except SmokeFailure as failure:
        print(f"smoke.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        for listener in (listener_any, listener_lo):
            if listener:
                listener.close()
        if created_container:
            docker("rm", "-f", "-v", name, check=False)
        if created_volume:
            docker("volume", "rm", name, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        left = docker("ps", "-aq", "--filter", f"name={name}").stdout.strip()
        print(f"-- cleaned up {name} (container, volume, socket folder)"
              + (f"; LEFT: {left}" if left else ""))


if __name__ == "__main__":
    sys.exit(main())
