#!/usr/bin/env python3
"""Set up, run and test Drydock on one Debian machine.

    bin/drydock up        set everything up, then run web + Celery workers (one per queue) + beat (Ctrl-C stops them)
    bin/drydock test      set up what the tests need, run pytest, then the tests that need no Docker on
                          PostgreSQL too (with extra arguments: only pytest, with those arguments)
    bin/drydock setup     only the set-up steps of `up`
    bin/drydock services  only make sure Redis and a Docker engine answer
    bin/drydock down      stop the Redis and dockerd that this script started
    bin/drydock compose-build [--skip-course-images]
                          build every image docker-compose.yaml uses (README, "A school server")
    bin/drydock compose-up    check the host, then `docker compose up -d --wait`
    bin/drydock compose-down  `docker compose down` (volumes kept: they hold the school's data)
    bin/drydock compose-backup DIR   the database (pg_dump) and the playgrounds' kept disks, into DIR
    bin/drydock compose-restore DIR  put such a backup back into the running stack
    bin/drydock compose-smoke        the school server for real: deploy/test_compose_smoke.py (~6 min)
    bin/drydock engine2 start|stop [--name NAME]
                          a second Docker engine on this machine, set up as another Docker host (its
                          own socket, folders, bridges, subnets and course registry); start prints its
                          settings as JSON, stop leaves nothing of it

Standard library only: it runs before the virtualenv exists. Services it
starts itself (Redis, dockerd) keep running between runs so that a second
`up` is fast; their data, logs and pid files live under var/.
"""

import argparse
import dataclasses
import fcntl
import hashlib

import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

# drydock/queues.py is standard library only, like this script (loaded by path: the package imports Celery).
import importlib.util  # noqa: E402

_queues_spec = importlib.util.spec_from_file_location("drydock_queues", Path(__file__).resolve().parent.parent / "drydock" / "queues.py")
worker_queues = importlib.util.module_from_spec(_queues_spec)
_queues_spec.loader.exec_module(worker_queues)
# So is grader/isolation.py: the host's rules for a sandboxes' bridge (the second engine's).
_isolation_spec = importlib.util.spec_from_file_location("drydock_isolation", Path(__file__).resolve().parent.parent / "grader" / "isolation.py")
isolation = importlib.util.module_from_spec(_isolation_spec)
_isolation_spec.loader.exec_module(isolation)

BASE = Path(__file__).resolve().parent.parent
VENV = BASE / ".venv"
VAR = Path(os.environ.get("DRYDOCK_VAR_DIR", BASE / "var")).resolve()
RUN = VAR / "run"
LOG = VAR / "log"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_apt_updated = False
_print_lock = threading.Lock()


class SetupError(Exception):
    """A set-up step failed; the message says what to do about it."""


def say(message, prefix="drydock"):
    with _print_lock:
        print(f"{prefix:<7} | {message}", flush=True)


def run(cmd, *, env=None, quiet=False, check=True, timeout=None):
    result = subprocess.run(
        [str(c) for c in cmd], cwd=BASE, env=env, timeout=timeout,
        stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None, text=True,
    )
    if check and result.returncode != 0:
        output = f"\n{result.stdout}" if quiet and result.stdout else ""
        raise SetupError(f"`{' '.join(str(c) for c in cmd)}` failed with exit code {result.returncode}{output}")
    return result


# --- Debian packages -----------------------------------------------------------


def apt_install(*packages):
    global _apt_updated
    if os.geteuid() != 0:
        raise SetupError(f"missing {', '.join(packages)}: run as root, or install them with apt-get first")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        say("apt-get update")
        run(["apt-get", "update", "-qq"], env=env, quiet=True)
        _apt_updated = True
    say(f"installing {' '.join(packages)} (apt)")
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, quiet=True)


def ensure_command(command, package):
    if shutil.which(command) is None:
        apt_install(package)
    if shutil.which(command) is None:
        raise SetupError(f"`{command}` is still missing after installing {package}")


# --- Python environment --------------------------------------------------------


def venv_python():
    return VENV / "bin" / "python"


def ensure_venv():
    if not venv_python().exists():
        say("creating the virtualenv .venv")
        if run([sys.executable, "-m", "venv", VENV], check=False, quiet=True).returncode != 0:
            apt_install("python3-venv")
            shutil.rmtree(VENV, ignore_errors=True)
            run([sys.executable, "-m", "venv", VENV])
    requirements = BASE / "requirements.txt"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    say("installing Python requirements (pinned in requirements.txt)")
    run([venv_python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements])
    stamp.write_text(wanted)


def ensure_frontend():
    """xterm.js and its fit addon from the npm registry, as pinned in package-lock.json."""
    lock = BASE / "package-lock.json"
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = BASE / "node_modules" / ".drydock-lock.sha256"
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    if shutil.which("npm") is None:
        apt_install("nodejs", "npm")
    say("installing browser libraries (npm ci)")
    run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel", "error"], quiet=True)
    stamp.write_text(wanted)


def ensure_browser():
    """Debian's chromium, which the browser tests drive through Playwright."""
    if not Path("/usr/bin/chromium").exists():
        apt_install("chromium")


def secret_key():
    """The deployment's SECRET_KEY: the environment's, else one made once and kept in var/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR / "secret_key"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def django_env(**extra):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "drydock.settings",
        "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": secret_key(),
        "DRYDOCK_VAR_DIR": str(VAR),
        "DOCKER_HOST": engine_url(),
        **extra,
    }


def manage(*args, env=None, quiet=False):
    return run([venv_python(), BASE / "manage.py", *args], env=env or django_env(), quiet=quiet)


# --- Redis -----------------------------------------------------------------------


def redis_url():
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def redis_answers(url, timeout=1.0):
    parts = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError:
        return False
    # -NOAUTH means a password-protected server that answers: good enough here.
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


def ensure_redis():
    url = redis_url()
    if redis_answers(url):
        say(f"Redis answers at {url}")
        return
    parts = urllib.parse.urlparse(url)
    if parts.hostname not in LOOPBACK:
        raise SetupError(f"Redis does not answer at {url} (REDIS_URL); start it, or unset REDIS_URL to run a local one")
    ensure_command("redis-server", "redis-server")
    port = parts.port or 6379
    for folder in (VAR / "redis", RUN, LOG):
        folder.mkdir(parents=True, exist_ok=True)
    say(f"starting redis-server on 127.0.0.1:{port} (data in var/redis)")
    run([
        "redis-server", "--bind", "127.0.0.1", "--port", port, "--daemonize", "yes",
        "--dir", VAR / "redis", "--pidfile", RUN / "redis.pid", "--logfile", LOG / "redis.log",
        "--appendonly", "yes", "--save", "",
    ], quiet=True)
    wait_for(lambda: redis_answers(url), 10, f"redis-server did not answer within 10 s (see {LOG / 'redis.log'})")


# --- Docker engine ---------------------------------------------------------------------
#
# Sandboxes run on an engine whose root is not the host's root (user namespaces,
# DESIGN.md "Sandbox isolation"). Unless DOCKER_HOST names one, this script runs
# Drydock's own engine: `dockerd --userns-remap=default` on its own socket,
# bridge and address pool, data under var/, beside any Docker the host already
# has (whose docker0, networks and containers it never touches).

ENGINE_SOCKET = RUN / "docker.sock"
ENGINE_BRIDGE = "drydock0"
USERNS_FIX = (
    'add  "userns-remap": "default"  to /etc/docker/daemon.json and restart dockerd '
    "(its images and containers are then kept apart from the ones made without it), "
    "or unset DOCKER_HOST so that bin/drydock runs an engine of its own"
)


def engine_url():
    return os.environ.get("DOCKER_HOST") or f"unix://{ENGINE_SOCKET}"


def docker_cli(*args, timeout=10):
    """Run the docker CLI against the platform's engine; None when it cannot run or times out."""
    if shutil.which("docker") is None:
        return None
    try:
        return subprocess.run(
            ["docker", *args], env={**os.environ, "DOCKER_HOST": engine_url()},
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None


def docker_answers():
    result = docker_cli("version", "--format", "{{.Server.Version}}")
    return result is not None and result.returncode == 0 and bool(result.stdout.strip())


def engine_uses_user_namespaces():
    result = docker_cli("info", "--format", "{{json .SecurityOptions}}")
    return result is not None and result.returncode == 0 and "name=userns" in result.stdout


def without_user_namespaces_allowed():
    return os.environ.get("SANDBOX_WITHOUT_USER_NAMESPACES", "").strip().lower() in {"1", "true", "yes", "on"}


def ensure_docker():
    if os.environ.get("DOCKER_HOST"):
        if not docker_answers():
            raise SetupError(f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}; start it or unset DOCKER_HOST")
        check_engine_isolation()
        say(f"Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}")
        return
    if docker_answers():
        check_engine_isolation()
        say(f"Drydock's engine answers ({engine_url()})")
        return
    start_engine()
    check_engine_isolation()


def check_engine_isolation():
    if engine_uses_user_namespaces():
        return
    if without_user_namespaces_allowed():
        say("WARNING: the engine does not use user namespaces and SANDBOX_WITHOUT_USER_NAMESPACES is set: "
            "a learner is root on this host. Only for a trusted, single-user machine.")
        return
    raise SetupError(
        f"the Docker engine at {engine_url()} does not use user namespaces, so root in a sandbox would be root "
        f"on this host. Fix: {USERNS_FIX}. On a trusted single-user machine, SANDBOX_WITHOUT_USER_NAMESPACES=1 "
        "accepts it."
    )


def engine_exec_root():
    exec_root = VAR / "engine-exec"
    if len(str(exec_root)) > 60:
        # containerd's sockets live under the exec root; unix socket paths are limited to 108 bytes.
        exec_root = Path("/run/drydock") / hashlib.sha256(str(VAR).encode()).hexdigest()[:12]
    return exec_root


def ensure_engine_bridge():
    """The engine's default bridge, made here: a second dockerd must not take (or delete) the host's docker0."""
    ensure_bridge(ENGINE_BRIDGE, os.environ.get("DRYDOCK_ENGINE_BRIDGE_ADDRESS") or "10.213.0.1/24")


def ensure_bridge(name, address):
    """A bridge `name` holding `address` (and no other), up."""
    ensure_command("ip", "iproute2")
    if run(["ip", "link", "show", name], check=False, quiet=True).returncode != 0:
        run(["ip", "link", "add", name, "type", "bridge"], quiet=True)
    shown = run(["ip", "-4", "-o", "addr", "show", "dev", name], quiet=True).stdout
    if f" {address} " not in shown:
        run(["ip", "addr", "flush", "dev", name], quiet=True)
        run(["ip", "addr", "add", address, "dev", name], quiet=True)
    run(["ip", "link", "set", name, "up"], quiet=True)


def dockerd_command(*, data_root, exec_root, pidfile, socket_path, bridge, pool, iptables=True, tls_port=None, tls_dir=None):
    """dockerd as Drydock runs it: user namespaces, its own socket, folders, bridge and address pool; with `tls_port`,
    also on 127.0.0.1 with TLS, a client's certificate required (`tls_dir`: ca.pem, cert.pem, key.pem of the server)."""
    tls = []
    if tls_port:
        tls = ["-H", f"tcp://127.0.0.1:{tls_port}", "--tlsverify", "--tlscacert", Path(tls_dir) / "ca.pem",
               "--tlscert", Path(tls_dir) / "cert.pem", "--tlskey", Path(tls_dir) / "key.pem"]
    return [
        "dockerd", "--userns-remap=default", "--data-root", data_root, "--exec-root", exec_root, "--pidfile", pidfile,
        "-H", f"unix://{socket_path}", *tls, "--bridge", bridge, "--default-address-pool", f"base={pool},size=24",
        *([] if iptables else ["--iptables=false"]), "--log-opt", "max-size=10m", "--log-opt", "max-file=2",
    ]


def make_tls_certificates(folder, *, name="drydock", address="127.0.0.1"):
    """A CA of its own and, signed by it, a server certificate for `address` and a client certificate, with openssl,
    in `folder`: server/ and client/ each hold ca.pem, cert.pem and key.pem (Docker's DOCKER_CERT_PATH layout).
    The CA's key is deleted once both are signed. Return (server folder, client folder)."""
    if shutil.which("openssl") is None:
        raise SetupError("`openssl` is missing (apt-get install openssl)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # the CA's key is in it while the two are signed
    server, client = folder / "server", folder / "client"
    for where in (server, client):
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key = folder / "ca-key.pem"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", server / "ca.pem", "-days", "30",
         "-subj", f"/CN={name} CA"], quiet=True)
    shutil.copy(server / "ca.pem", client / "ca.pem")
    for where, common_name, extensions in (
        (server, address, f"subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth\n"),
        (client, f"{name} client", "extendedKeyUsage=clientAuth\n"),
    ):
        request, extfile = where / "request.csr", where / "extensions.cnf"
        extfile.write_text(extensions)
        run(["openssl", "req", "-new", *ec, "-keyout", where / "key.pem", "-out", request, "-subj", f"/CN={common_name}"], quiet=True)
        run(["openssl", "x509", "-req", "-in", request, "-CA", server / "ca.pem", "-CAkey", ca_key, "-set_serial", str(secrets.randbits(63)),
             "-days", "30", "-extfile", extfile, "-out", where / "cert.pem"], quiet=True)
        request.unlink()
        extfile.unlink()
        (where / "key.pem").chmod(0o600)
    ca_key.unlink()
    return server, client


def engine_pid():
    """The pid of the engine this script started, if it still runs."""
    try:
        pid = int((RUN / "engine.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid if "dockerd" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") else None


def start_engine():
    if shutil.which("dockerd") is None:
        apt_install("docker.io")
    if shutil.which("docker") is None:
        raise SetupError("the docker CLI is missing after installing docker.io")
    for folder in (VAR / "engine", RUN, LOG):
        folder.mkdir(parents=True, exist_ok=True)
    running = engine_pid()
    if running:
        # Started earlier and still alive, only slow to answer: never a second daemon on the same data.
        say(f"Drydock's engine (pid {running}) is starting; waiting for it")
        wait_for(docker_answers, 120, f"Drydock's engine (pid {running}) did not answer within 120 s (see {LOG / 'engine.log'})")
        return
    ensure_engine_bridge()
    pool = os.environ.get("DRYDOCK_ENGINE_ADDRESS_POOL") or "10.214.0.0/16"
    say(f"starting Drydock's Docker engine: user namespaces, {ENGINE_SOCKET}, bridge {ENGINE_BRIDGE}, data in var/engine")
    ENGINE_SOCKET.unlink(missing_ok=True)
    with open(LOG / "engine.log", "ab") as log:
        command = dockerd_command(data_root=VAR / "engine", exec_root=engine_exec_root(), pidfile=RUN / "engine.pid",
                                  socket_path=ENGINE_SOCKET, bridge=ENGINE_BRIDGE, pool=pool)
        subprocess.Popen([str(c) for c in command], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    wait_for(docker_answers, 60, f"dockerd did not answer within 60 s (see {LOG / 'engine.log'})")
    say("Drydock's engine answers")


# --- A second engine on this machine (issue 16: many Docker hosts, tested on one) ---------------
#
# A dockerd beside Drydock's own, set up as another Docker host would be: user namespaces, the
# sandbox image, the sandboxes' internal network with grader/isolation.py's host rules, and a course
# registry of its own that its sandboxes reach as http://drydock-registry:5000, as on the first.
# It shares nothing with the first engine on the host: its own socket, data and exec roots, pid file,
# bridges and subnets. Everything of it on the host is named after its name (a hash of this
# checkout's var/ and of what the caller gives, so two test sessions never meet); its subnets are
# the first free slot of 10.223.0.0/16 (its default bridge, whose address claims the slot) and
# 10.224.0.0/16 (its networks).
#
# Its images and its registry's content are copied from the first engine (docker save | load, and
# the registry's volume folder): building them again takes minutes, and its containers could not
# reach Debian's mirror anyway, since it runs with --iptables=false. That is on purpose: dockerd
# 20.10 flushes the DOCKER and DOCKER-ISOLATION chains when it starts (libnetwork's
# removeIPChains), which would wipe the first engine's rules. So the rules its sandboxes need are
# put in place here: bridged frames go through iptables and FORWARD's policy is DROP, so the
# sandboxes' bridge must forward between its own ports (sandbox <-> registry), and the isolation
# rules keep everything else out; its other bridges forward nothing (a DROP of their own).

SECOND_ENGINES_RUN = Path("/run/drydock-engines")  # exec roots: containerd's socket paths must stay short
SECOND_ENGINE_SLOTS = 32
SECOND_ENGINE_NAME = re.compile(r"[a-z][a-z0-9]{0,9}")  # + "-sbx": a bridge name has 15 characters at most
SANDBOX_IMAGE = os.environ.get("SANDBOX_IMAGE") or "drydock/sandbox:latest"
# As images/build.py makes them on the first engine.
REGISTRY_IMAGE = "drydock/registry:latest"
REGISTRY_VOLUME = "drydock-registry-data"
REGISTRY_HOST_NETWORK = "drydock-registry-host"


@dataclasses.dataclass(frozen=True)
class SecondEngine:
    """A running second engine: what the platform needs to use it as a Docker host (see worker_env)."""

    name: str
    url: str  # DOCKER_HOST of its worker
    pid: int
    folder: str  # its data root, socket, pid file, log and state, and its sandboxes' folders
    exec_root: str
    bridge: str  # its default bridge, with bridge_address
    bridge_address: str
    address_pool: str  # where its networks' subnets come from: the registry's /24, then the sandboxes' sandbox_subnet
    sandbox_subnet: str
    network: str  # the sandboxes' network on it (SANDBOX_NETWORK), on sandbox_bridge
    sandbox_bridge: str
    registry: str  # its registry container, as its sandboxes reach it: registry_mirror
    registry_mirror: str
    registry_port: int  # the same registry on the host's loopback
    socket_root: str  # SANDBOX_SOCKET_ROOT of its worker
    started_in: float
    timings: dict
    # The same engine on 127.0.0.1 over TLS (dockerd --tlsverify), as an engine on another machine is reached,
    # and the client's folder for it (ca.pem, cert.pem, key.pem: a DockerHost's tls_dir).
    tls_url: str = ""
    tls_dir: str = ""

    def worker_env(self):
        """The settings a Celery worker of this host runs with (the rest as the first host's worker)."""
        return {
            "DOCKER_HOST": self.url, "SANDBOX_NETWORK": self.network, "SANDBOX_BRIDGE": self.sandbox_bridge,
            "SANDBOX_REGISTRY_MIRROR": self.registry_mirror, "SANDBOX_SOCKET_ROOT": self.socket_root,
        }


@dataclasses.dataclass(frozen=True)
class EngineLayout:
    """Where a second engine named `name` lives on the host; everything of it is derived from the name."""

    name: str

    @property
    def folder(self):
        return VAR / "engines" / self.name

    @property
    def socket(self):
        return self.folder / "docker.sock"

    @property
    def url(self):
        return f"unix://{self.socket}"

    @property
    def data_root(self):
        return self.folder / "data"

    @property
    def pidfile(self):
        return self.folder / "engine.pid"

    @property
    def log(self):
        return self.folder / "engine.log"

    @property
    def state(self):
        return self.folder / "engine.json"

    @property
    def socket_root(self):
        return self.folder / "sandboxes"

    @property
    def tls(self):
        return self.folder / "tls"

    @property
    def exec_root(self):
        return SECOND_ENGINES_RUN / self.name

    @property
    def bridge(self):
        return f"{self.name}-br"

    @property
    def sandbox_bridge(self):
        return f"{self.name}-sbx"

    @property
    def registry_bridge(self):
        return f"{self.name}-reg"

    @property
    def bridges(self):
        return (self.bridge, self.sandbox_bridge, self.registry_bridge)

    @property
    def rule_comment(self):
        return f"drydock-engine-{self.name}"


def second_engine_name(*seeds):
    """The name of the second engine of this checkout (var/) and `seeds` (a test session's sandbox prefix)."""
    return "e" + hashlib.sha256(" ".join([str(VAR), *map(str, seeds)]).encode()).hexdigest()[:7]


def docker_at(url, *args, check=True, timeout=120):
    """The docker CLI against the engine at `url`; SetupError with its words when it fails."""
    result = subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": url}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SetupError(f"`docker {' '.join(args)}` on {url} failed: {result.stderr.strip()[-800:]}")
    return result


def copy_images(source, target, images):
    """docker save on `source` | docker load on `target` (the layers, IDs, tags and labels, as they are)."""
    env = os.environ.copy()
    save = subprocess.Popen(["docker", "save", *images], env={**env, "DOCKER_HOST": source},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load = subprocess.run(["docker", "load", "-q"], env={**env, "DOCKER_HOST": target}, stdin=save.stdout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
    save.stdout.close()
    saved_errors = save.stderr.read().decode(errors="replace")
    if save.wait() != 0 or load.returncode != 0:
        raise SetupError(f"copying {', '.join(images)} to {target} failed: {(saved_errors + load.stderr).strip()[-800:]}")


def free_loopback_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _addresses_in_use():
    shown = run(["ip", "-4", "-o", "addr", "show"], quiet=True).stdout.split()
    return [ipaddress.ip_interface(shown[i + 1]).network for i, word in enumerate(shown[:-1]) if word == "inet"]


def _claim_slot(layout):
    """Give the engine's default bridge the address of the first free slot; return (address, pool).

    The address is the claim: a slot whose /24 (or pool) some interface of the host already uses is taken.
    """
    SECOND_ENGINES_RUN.mkdir(parents=True, exist_ok=True)
    with open(SECOND_ENGINES_RUN / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        used = _addresses_in_use()
        for slot in range(SECOND_ENGINE_SLOTS):
            bridge_net = ipaddress.ip_network(f"10.223.{slot}.0/24")
            pool = ipaddress.ip_network(f"10.224.{8 * slot}.0/21")
            if not any(net.overlaps(bridge_net) or net.overlaps(pool) for net in used):
                address = f"10.223.{slot}.1/24"
                ensure_bridge(layout.bridge, address)
                return address, str(pool)
    raise SetupError(f"no free slot for a second engine: {SECOND_ENGINE_SLOTS} are in use (bin/drydock engine2 stop?)")


def _registry_answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog", timeout=2) as reply:
            return reply.status == 200 and bool(json.loads(reply.read()).get("repositories"))
    except (OSError, ValueError):
        return False


def _log_tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_second_engine(name, *, source_url=None):
    """Start the second engine `name` from nothing (leftovers of an earlier one of that name removed first),
    with the first engine's (`source_url`, by default Drydock's) sandbox and registry images and course
    registry content; return its SecondEngine. SetupError, with nothing left behind, if any step fails."""
    if not SECOND_ENGINE_NAME.fullmatch(name):
        raise SetupError(f"{name!r} is not a second engine's name (a letter, then at most 9 letters or digits)")
    if os.geteuid() != 0:
        raise SetupError("a second Docker engine needs root (dockerd, bridges, iptables)")
    for command in ("dockerd", "docker", "ip", "iptables", "ip6tables"):
        if shutil.which(command) is None:
            raise SetupError(f"`{command}` is missing: run bin/drydock setup first")
    source = source_url or engine_url()
    for image in (SANDBOX_IMAGE, REGISTRY_IMAGE):
        if docker_at(source, "image", "inspect", image, check=False).returncode != 0:
            raise SetupError(f"{image} is not on the first engine ({source}): run bin/drydock setup first")
    registry_volume = docker_at(source, "volume", "inspect", "--format", "{{.Mountpoint}}", REGISTRY_VOLUME, check=False)
    if registry_volume.returncode != 0 or not Path(registry_volume.stdout.strip()).is_dir():
        raise SetupError(f"the course registry's volume {REGISTRY_VOLUME} is not on this machine's first engine: run bin/drydock setup first")
    layout = EngineLayout(name)
    stop_second_engine(name)
    started = time.monotonic()
    timings = {}

    def lap(step):
        timings[step] = round(time.monotonic() - started - sum(timings.values()), 2)

    try:
        for folder in (layout.folder, layout.socket_root, layout.exec_root, layout.data_root):
            folder.mkdir(parents=True, exist_ok=True)
        # Its images in memory (~0.8 GB): removing them from a busy disk took 11-15 s of the stop, from here none.
        # Its sandboxes' own images and containers are on their disks, in socket_root, as on the first engine.
        run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=711", f"drydock-engine-{name}", layout.data_root], quiet=True)
        address, pool = _claim_slot(layout)
        server_tls, client_tls = make_tls_certificates(layout.tls, name=f"drydock engine {name}")
        tls_port = free_loopback_port()
        with open(layout.log, "ab") as log:
            command = dockerd_command(data_root=layout.data_root, exec_root=layout.exec_root / "exec", pidfile=layout.pidfile,
                                      socket_path=layout.socket, bridge=layout.bridge, pool=pool, iptables=False,
                                      tls_port=tls_port, tls_dir=server_tls)
            process = subprocess.Popen([str(c) for c in command], stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)

        def answers():
            if process.poll() is not None:
                raise SetupError(f"dockerd of {name} exited with code {process.returncode}:\n{_log_tail(layout.log)}")
            return docker_at(layout.url, "version", "--format", "{{.Server.Version}}", check=False, timeout=10).returncode == 0

        wait_for(answers, 60, f"dockerd of {name} did not answer within 60 s:\n{_log_tail(layout.log)}")
        if "name=userns" not in docker_at(layout.url, "info", "--format", "{{json .SecurityOptions}}").stdout:
            raise SetupError(f"dockerd of {name} runs without user namespaces")
        lap("dockerd")
        copy_images(source, layout.url, [REGISTRY_IMAGE])
        lap("registry image")
        # The sandbox image (the larger) comes over while the registry is set up.
        sandbox_image = {}
        loader = threading.Thread(target=_in_thread, args=(sandbox_image, copy_images, source, layout.url, [SANDBOX_IMAGE]))
        loader.start()
        network_name, registry, registry_port_on_network, mirror = _sandbox_network_settings()
        # Both subnets named: the sandboxes' one holds an address per sandbox the host may run (as images/build.py's
        # SANDBOX_SUBNET on the first engine), not the /24 a pool gives.
        registry_subnet, sandbox_subnet, engine_range = _second_engine_subnets(pool)
        docker_at(layout.url, "network", "create", "--driver", "bridge", "--label", "drydock.network=1", "--label", "drydock.role=registry-host",
                  "--subnet", registry_subnet, "-o", f"com.docker.network.bridge.name={layout.registry_bridge}", REGISTRY_HOST_NETWORK)
        docker_at(layout.url, "network", "create", "--driver", "bridge", "--label", "drydock.network=1", "--internal",
                  "--label", "drydock.role=sandboxes", "--subnet", sandbox_subnet, "--ip-range", engine_range,
                  "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                  "-o", f"com.docker.network.bridge.name={layout.sandbox_bridge}", network_name)
        tag = ["-m", "comment", "--comment", layout.rule_comment]
        run(["iptables", "-A", "FORWARD", "-i", layout.sandbox_bridge, "-o", layout.sandbox_bridge, *tag, "-j", "ACCEPT"], quiet=True)
        # Its other bridges forward nothing either, whatever FORWARD's policy is (DROP only while the first engine sets it).
        for tool in ("iptables", "ip6tables"):
            for bridge in (layout.bridge, layout.registry_bridge):
                run([tool, "-A", "FORWARD", "-i", bridge, *tag, "-j", "DROP"], quiet=True)
        try:
            isolation.apply_host_rules(layout.sandbox_bridge)
            problems = isolation.host_problems(layout.sandbox_bridge)
        except isolation.IsolationError as exc:
            problems = [str(exc)]
        if problems:
            raise SetupError(f"the sandboxes' bridge {layout.sandbox_bridge} of {name} is not isolated: {'; '.join(problems)}")
        lap("networks and host rules")
        docker_at(layout.url, "volume", "create", "--label", "drydock.volume=registry", REGISTRY_VOLUME)
        target = docker_at(layout.url, "volume", "inspect", "--format", "{{.Mountpoint}}", REGISTRY_VOLUME).stdout.strip()
        # Same user-namespace mapping on both engines: the owners copied are the registry's own on this one too.
        run(["cp", "-a", f"{registry_volume.stdout.strip()}/.", target], quiet=True)
        registry_port = free_loopback_port()
        docker_at(layout.url, "create", "--name", registry, "--label", "drydock.role=registry", "--restart", "unless-stopped",
                  "--memory", "256m", "--pids-limit", "256", "--log-opt", "max-size=10m", "--log-opt", "max-file=2",
                  "--network", REGISTRY_HOST_NETWORK, "-p", f"127.0.0.1:{registry_port}:{registry_port_on_network}",
                  "-e", f"REGISTRY_HTTP_ADDR=:{registry_port_on_network}", "-v", f"{REGISTRY_VOLUME}:/var/lib/docker-registry", REGISTRY_IMAGE)
        docker_at(layout.url, "network", "connect", network_name, registry)
        docker_at(layout.url, "start", registry)
        wait_for(lambda: _registry_answers(registry_port), 30, f"the registry of {name} did not serve the course images on 127.0.0.1:{registry_port}")
        lap("registry")
        loader.join()
        if "error" in sandbox_image:
            raise sandbox_image["error"]
        lap("sandbox image")
        engine = SecondEngine(
            name=name, url=layout.url, pid=int(layout.pidfile.read_text().strip()), folder=str(layout.folder), exec_root=str(layout.exec_root),
            bridge=layout.bridge, bridge_address=address, address_pool=pool, sandbox_subnet=sandbox_subnet, network=network_name,
            sandbox_bridge=layout.sandbox_bridge,
            registry=registry, registry_mirror=mirror, registry_port=registry_port, socket_root=str(layout.socket_root),
            started_in=round(time.monotonic() - started, 2), timings=timings,
            tls_url=f"tcp://127.0.0.1:{tls_port}", tls_dir=str(client_tls),
        )
        layout.state.write_text(json.dumps({**dataclasses.asdict(engine), "worker_env": engine.worker_env()}, indent=2) + "\n")
        return engine
    except BaseException:
        stop_second_engine(name)
        raise


def _in_thread(outcome, function, *args):
    try:
        function(*args)
    except Exception as exc:  # handed to the thread that waits for it
        outcome["error"] = exc


def _second_engine_subnets(pool):
    """(the registry's network, the sandboxes' network, Docker's range on it) in a slot's pool: its first /24, its
    second half, that half's first sixteenth (as grader/sandbox_network.engine_range: sandboxes lease the rest)."""
    pool = ipaddress.ip_network(pool)
    registry, sandboxes = next(pool.subnets(new_prefix=24)), list(pool.subnets(prefixlen_diff=1))[1]
    engine_range = next(sandboxes.subnets(prefixlen_diff=4))
    ceiling = int(os.environ.get("SANDBOX_MAX_PER_HOST") or 400)
    # Neither Docker's range, nor the network's own address, nor its broadcast is a sandbox's.
    if sandboxes.num_addresses - engine_range.num_addresses - 1 < ceiling:
        raise SetupError(f"a second engine's sandboxes' network ({sandboxes}) holds fewer than SANDBOX_MAX_PER_HOST={ceiling} sandboxes")
    return str(registry), str(sandboxes), str(engine_range)


def _sandbox_network_settings():
    """(network, registry container, its port there, mirror URL): the platform's settings, as images/build.py reads them."""
    network = os.environ.get("SANDBOX_NETWORK") or "drydock-sandboxes"
    mirror = os.environ.get("SANDBOX_REGISTRY_MIRROR") or "http://drydock-registry:5000"
    parts = urllib.parse.urlsplit(mirror)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SetupError(f"SANDBOX_REGISTRY_MIRROR={mirror!r} must be http://<registry container name>:<port>")
    return network, parts.hostname, parts.port, mirror


def _second_engine_pid(layout):
    """The pid of the dockerd serving this layout's socket, if it runs."""
    try:
        pid = int(layout.pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if "dockerd" in command and str(layout.socket) in command else None


def _processes_of(layout):
    """Pids of this engine's processes a killed dockerd can leave: containerd and its shims (named by the exec
    root), and its containers' own processes (found by their cgroups, named by the container ids in its data root)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                if str(layout.exec_root).encode() in (proc / "cmdline").read_bytes():
                    pids.add(int(proc.name))
            except OSError:
                pass
    for container in _container_ids(layout):
        # In Docker's group or the sandboxes' (SANDBOX_CPU_GROUP, grader/cpu_priority.py).
        for procs in Path("/sys/fs/cgroup").glob(f"*/*/{container}/cgroup.procs"):
            try:
                pids.update(int(pid) for pid in procs.read_text().split())
            except OSError:
                pass
    return pids


def _container_ids(layout):
    return [folder.name for folder in layout.data_root.glob("*/containers/*")]


def _mounts_under(*folders):
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if any(point == str(f) or point.startswith(f"{f}/") for f in folders):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def _rules_on(bridges):
    """(tool, table, rule) of every iptables/ip6tables rule that names one of `bridges` as its in or out interface."""
    found = []
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat"):
            listing = run([tool, "-t", table, "-S"], check=False, quiet=True)
            for line in listing.stdout.splitlines() if listing.returncode == 0 else ():
                words = shlex.split(line)
                if words[:1] == ["-A"] and any(words[i] in ("-i", "-o") and words[i + 1] in bridges for i in range(len(words) - 1)):
                    found.append((tool, table, words[1:]))
    return found


def stop_second_engine(name):
    """Stop the second engine `name` and remove everything of it on the host: its containers (and the sandboxes'
    disks), dockerd and what it ran, its bridges, its iptables rules and its folders. Return what is left (nothing)."""
    layout = EngineLayout(name)
    pid = _second_engine_pid(layout)
    if pid:
        # Containers first, while dockerd still unmounts their layers and network namespaces itself.
        containers = docker_at(layout.url, "ps", "-aq", check=False, timeout=30).stdout.split()
        if containers:
            docker_at(layout.url, "rm", "-f", "-v", *containers, check=False, timeout=300)
        networks = docker_at(layout.url, "network", "ls", "-q", "--filter", "type=custom", check=False, timeout=30).stdout.split()
        if networks:
            docker_at(layout.url, "network", "rm", *networks, check=False, timeout=60)
        _end_process(pid, grace=30)
    for leftover in sorted(_processes_of(layout)):
        _end_process(leftover, grace=0)  # orphans of a dead dockerd: a container's init ignores SIGTERM
    # The cgroups of containers a killed dockerd never removed, empty by now.
    for container in _container_ids(layout):
        for cgroup in Path("/sys/fs/cgroup").glob(f"*/*/{container}"):
            try:
                cgroup.rmdir()
            except OSError:
                pass
    for point in _mounts_under(layout.folder, layout.exec_root):
        run(["umount", "--lazy", point], check=False, quiet=True)
    for bridge in layout.bridges:
        if Path(f"/sys/class/net/{bridge}").exists():
            run(["ip", "link", "delete", bridge], check=False, quiet=True)
    for tool, table, rule in _rules_on(layout.bridges):
        run([tool, "-t", table, "-D", *rule], check=False, quiet=True)
    for folder in (layout.exec_root, layout.folder):
        if folder.exists() and not _mounts_under(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return second_engine_leftovers(layout)


def second_engine_leftovers(layout):
    """What of the second engine `layout.name` is still on the host, in words."""
    left = []
    if _second_engine_pid(layout) or _processes_of(layout):
        left.append(f"processes of {layout.name}: {sorted(_processes_of(layout) | {_second_engine_pid(layout)} - {None})}")
    left += [f"bridge {b}" for b in layout.bridges if Path(f"/sys/class/net/{b}").exists()]
    left += [f"{tool} -t {table} {' '.join(rule)}" for tool, table, rule in _rules_on(layout.bridges)]
    left += [f"mount {point}" for point in _mounts_under(layout.folder, layout.exec_root)]
    left += [f"folder {folder}" for folder in (layout.folder, layout.exec_root) if folder.exists()]
    return left


def _end_process(pid, *, grace):
    """SIGTERM, then SIGKILL after `grace` seconds; wait until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not _alive(pid):
                return
            time.sleep(0.1)
    except ProcessLookupError:
        pass


def _alive(pid):
    """Whether `pid` still runs. A zombie does not: the dockerd a test session started stays one until reaped here."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not a child of this process
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2][:1] != "Z"
    except OSError:
        return False


def second_engines():
    """Names of the second engines this checkout has (their folders under var/engines)."""
    return sorted(folder.name for folder in (VAR / "engines").glob("*") if SECOND_ENGINE_NAME.fullmatch(folder.name))


# --- PostgreSQL (tests run on it too) --------------------------------------------------------

# Another checkout on the same machine (a second worktree, its benchmarks) gives its own port here.
POSTGRES_PORT = int(os.environ.get("DRYDOCK_TEST_POSTGRES_PORT", "5433"))


def postgres_answers():
    try:
        with socket.create_connection(("127.0.0.1", POSTGRES_PORT), timeout=1):
            return True
    except OSError:
        return False


def ensure_postgres():
    """A throw-away PostgreSQL on 127.0.0.1:5433 (DRYDOCK_TEST_POSTGRES_PORT) with its data under var/postgres; return its URL."""
    url = f"postgres://postgres@127.0.0.1:{POSTGRES_PORT}/drydock"
    if postgres_answers():
        return url
    bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bin_dirs:
        apt_install("postgresql")
        bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    pg_bin = bin_dirs[-1]
    data = VAR / "postgres"
    LOG.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        say("initialising PostgreSQL in var/postgres (tests only, trust on loopback)")
        data.mkdir(parents=True, exist_ok=True)
        shutil.chown(data, "postgres", "postgres")
        run(["runuser", "-u", "postgres", "--", pg_bin / "initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8"], quiet=True)
    log = LOG / "postgres.log"
    log.touch()
    shutil.chown(log, "postgres", "postgres")
    say(f"starting PostgreSQL on 127.0.0.1:{POSTGRES_PORT}")
    run(["runuser", "-u", "postgres", "--", pg_bin / "pg_ctl", "-D", data, "-l", log, "-w", "-o",
         f"-p {POSTGRES_PORT} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off", "start"], quiet=True)
    wait_for(postgres_answers, 30, f"PostgreSQL did not answer (see {log})")
    return url


def wait_for(probe, seconds, failure):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.2)
    raise SetupError(failure)


# --- Steps -------------------------------------------------------------------------------


def ensure_services():
    ensure_redis()
    ensure_docker()


def compile_translations():
    ensure_command("msgfmt", "gettext")
    stale = [
        po for po in (BASE / "locale").glob("*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        say("compiling translations")
        manage("compilemessages", "--ignore", ".venv", "--ignore", "var", "--ignore", "node_modules", quiet=True)


def build_images():
    """The base, course, registry and sandbox images; rebuilt only when their files change."""
    say("building images (images/build.py)")
    run([sys.executable, BASE / "images" / "build.py"], env={**os.environ, "DOCKER_HOST": engine_url()})


def setup():
    started = time.monotonic()
    ensure_venv()
    ensure_frontend()
    ensure_services()
    compile_translations()
    build_images()
    say("migrating the database")
    manage("migrate", "--noinput", quiet=True)
    manage("collectstatic", "--noinput", "-v0", quiet=True)
    for pack in sorted((BASE / "content").glob("*/course.yaml")):
        say(f"loading course {pack.parent.relative_to(BASE)}")
        result = manage("load_course", pack.parent, quiet=True)
        for line in result.stdout.strip().splitlines()[-1:]:
            say(f"  {line}")
    say("accounts:")
    for line in manage("ensure_demo_accounts", quiet=True).stdout.rstrip().splitlines():
        say(line)
    say(f"set-up done in {time.monotonic() - started:.1f} s")


# --- Running the platform -------------------------------------------------------------------


class Supervisor:
    """Run the platform's processes, stream their output with a prefix, stop them all together."""

    def __init__(self):
        self.processes = {}
        self.stopping = threading.Event()

    def start(self, name, cmd, env):
        process = subprocess.Popen(
            [str(c) for c in cmd], cwd=BASE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, text=True, bufsize=1,
        )
        self.processes[name] = process
        threading.Thread(target=self._pump, args=(name, process), daemon=True).start()

    def _pump(self, name, process):
        for line in process.stdout:
            say(line.rstrip("\n"), prefix=name)

    def wait(self):
        """Block until Ctrl-C/SIGTERM or until a process dies; return the name of a dead one, if any."""
        while not self.stopping.is_set():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    return name
            self.stopping.wait(0.3)
        return None

    def stop(self, grace=20):
        for process in self.processes.values():
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop within {grace} s: killing it")
                _signal_group(process, signal.SIGKILL)
                process.wait()
        # The process group may hold children the leader did not reap (Celery's pool).
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)


def _signal_group(process, sig):
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def port_is_free(host, port):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def web_concurrency():
    """Web (uvicorn) processes: WEB_CONCURRENCY, by default one per core. One process runs Python on one
    core at a time (the GIL); a class sitting an exam keeps every core busy (bench/exam_burst.py)."""
    value = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise SetupError(f"WEB_CONCURRENCY={value!r}: give a number of web processes from 1 to 64")
    return int(value)


# What uvicorn gives open requests and websockets when it is told to stop (the supervisor's grace is 20 s).
WEB_GRACEFUL_SECONDS = 5


def up(host, port):
    if not port_is_free(host, port):
        raise SetupError(f"{host}:{port} is already in use: stop what holds it or pass --port")
    web_processes = web_concurrency()
    setup()
    env = django_env()
    bin_dir = VENV / "bin"
    supervisor = Supervisor()

    def on_signal(signum, frame):
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # An open terminal's websocket never ends by itself: without a bound, stopping waits on it forever.
    supervisor.start("web", [bin_dir / "uvicorn", "drydock.asgi:application", "--host", host, "--port", port, "--lifespan", "off",
                             "--workers", web_processes, "--timeout-graceful-shutdown", str(WEB_GRACEFUL_SECONDS)], env)
    # One worker per kind of work (drydock/queues.py): a Check never waits behind a provisioning.
    try:
        workers = {queue: worker_queues.worker_command(bin_dir / "celery", queue, env) for queue in worker_queues.CONCURRENCY}
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    for queue, command in workers.items():
        supervisor.start(f"worker-{queue}", command, env)
    supervisor.start("beat", [bin_dir / "celery", "-A", "drydock", "beat", "--loglevel", "INFO", "--pidfile=", "--schedule", VAR / "celerybeat-schedule"], env)
    # Live checks: one asyncio process follows every ready sandbox's daemon events (labs/watcher.py).
    supervisor.start("watcher", [venv_python(), BASE / "manage.py", "watch_sandboxes"], env)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    threading.Thread(target=_announce_when_ready, args=(url, supervisor), daemon=True).start()
    dead = supervisor.wait()
    if dead:
        say(f"{dead} exited with code {supervisor.processes[dead].returncode}: stopping the others")
    else:
        say("stopping web, workers, beat and the watcher")
    supervisor.stop()
    say("stopped")
    return 1 if dead else 0


def _announce_when_ready(url, supervisor):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not supervisor.stopping.is_set():
        try:
            with urllib.request.urlopen(f"{url}/", timeout=2):
                say(f"Drydock is up: {url}   (Ctrl-C stops it; health: {url}/healthz)")
                return
        except OSError:
            time.sleep(0.3)


def down():
    for name in second_engines():
        say(f"stopping the second engine {name}")
        for leftover in stop_second_engine(name):
            say(f"  left behind: {leftover}")
    # "dockerd": the engine without user namespaces that earlier versions of this script started.
    for name in ("engine", "dockerd", "redis"):
        pidfile = RUN / f"{name}.pid"
        if not pidfile.exists():
            continue
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            say(f"stopping {name} (pid {pid})")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.2)
        except (ProcessLookupError, ValueError):
            pass
    # The tests' throw-away PostgreSQL (ensure_postgres): its pid is the first line of postmaster.pid.
    postmaster = VAR / "postgres" / "postmaster.pid"
    if postmaster.exists():
        try:
            pid = int(postmaster.read_text().split()[0])
            os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
            say(f"stopping PostgreSQL (pid {pid})")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.2)
        except (ProcessLookupError, ValueError, IndexError):
            pass
    say("stopped the services this script started")


def test(pytest_args):
    ensure_venv()
    ensure_frontend()
    ensure_browser()
    ensure_services()
    compile_translations()
    build_images()
    (VAR / "static").mkdir(parents=True, exist_ok=True)  # STATIC_ROOT: WhiteNoise warns when it is missing
    # The tests use their own Redis database and sandbox names, so a platform running
    # beside them (bin/drydock up) never receives their tasks or reaps their sandboxes.
    parts = urllib.parse.urlparse(redis_url())
    env = django_env(
        SECRET_KEY=os.environ.get("SECRET_KEY", "tests-only-secret-key-not-for-production"),
        REDIS_URL=parts._replace(path="/15").geturl(),
        SANDBOX_NAME_PREFIX="drydock-test-sandbox",
        SANDBOX_LABELS="drydock.test=1",
    )
    code = subprocess.call([str(VENV / "bin" / "pytest"), *pytest_args], cwd=BASE, env=env)
    if code != 0 or pytest_args:
        return code
    # The same models, queries and migrations on PostgreSQL (what a school server runs).
    say("running the tests that need no Docker again, on PostgreSQL")
    env["DATABASE_URL"] = ensure_postgres()
    return subprocess.call([str(VENV / "bin" / "pytest"), "-q", "-m", "not integration", "-p", "no:cacheprovider"], cwd=BASE, env=env)


# --- Compose: a school server (docker-compose.yaml) ---------------------------------------------

COMPOSE_PLUGIN = Path("/usr/local/lib/docker/cli-plugins/docker-compose")
# Debian 13's Compose v2 (2.26), taken from its package in a throw-away container of the base image
# images/build.py makes: Debian 12 has only the old Python docker-compose 1.29.
COMPOSE_SOURCE_IMAGE = "debian:trixie-slim"


def compose_answers():
    result = docker_cli("compose", "version", "--short")
    return result is not None and result.returncode == 0 and result.stdout.strip().startswith("2.")


def ensure_compose():
    if compose_answers():
        return
    if os.geteuid() != 0:
        raise SetupError("`docker compose` (Compose v2) is missing: install Debian's docker-compose (trixie) or run as root")
    present = docker_cli("image", "inspect", COMPOSE_SOURCE_IMAGE)
    if present is None or present.returncode != 0:
        raise SetupError(f"{COMPOSE_SOURCE_IMAGE} is not on the engine: run python3 images/build.py (or bin/drydock setup) first")
    say(f"installing Compose v2 from Debian 13's docker-compose package into {COMPOSE_PLUGIN}")
    result = subprocess.run(
        ["docker", "run", "--rm", "--label", "drydock.build=1", COMPOSE_SOURCE_IMAGE, "sh", "-c",
         "apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1 "
         "&& cat /usr/libexec/docker/cli-plugins/docker-compose"],
        env={**os.environ, "DOCKER_HOST": engine_url()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
    )
    if result.returncode != 0 or len(result.stdout) < 1_000_000:
        raise SetupError(f"could not get docker-compose from Debian 13's package: {result.stderr.decode(errors='replace')[-500:]}")
    COMPOSE_PLUGIN.parent.mkdir(parents=True, exist_ok=True)
    partial = COMPOSE_PLUGIN.with_suffix(".partial")
    partial.write_bytes(result.stdout)
    partial.chmod(0o755)
    partial.replace(COMPOSE_PLUGIN)
    if not compose_answers():
        raise SetupError(f"{COMPOSE_PLUGIN} does not answer `docker compose version`")


def engine_socket_path():
    """The engine's socket on this host, for the Compose services that drive it."""
    url = engine_url()
    if not url.startswith("unix://"):
        raise SetupError(f"docker-compose.yaml mounts the engine's socket; DOCKER_HOST={url} is not a unix socket")
    return url[len("unix://"):]


def compose_env(extra=None):
    """The environment docker compose interpolates docker-compose.yaml with (the shell's, then .env)."""
    env = {**os.environ, "DOCKER_HOST": engine_url(), **(extra or {})}
    env.setdefault("DOCKER_SOCKET", engine_socket_path())
    if "DOCKER_NETNS_DIR" not in env:
        env["DOCKER_NETNS_DIR"] = engine_netns_dir()
    return env


def engine_netns_dir():
    """Where the engine keeps its containers' network namespaces (in its exec root: /var/run/docker/netns
    for a stock engine), asked of a throw-away container since `docker info` does not say."""
    started = docker_cli("run", "-d", "--rm", "--label", "drydock.build=1", "--network", "bridge",
                         "debian:bookworm-slim", "sleep", "60", timeout=60)
    if started is None or started.returncode != 0:
        raise SetupError("could not start a container to find the engine's netns folder: set DOCKER_NETNS_DIR")
    container = started.stdout.strip()
    try:
        key = docker_cli("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", container).stdout.strip()
    finally:
        docker_cli("rm", "-f", container)
    if not key.startswith("/"):
        raise SetupError("the engine did not say where its network namespaces are: set DOCKER_NETNS_DIR")
    return str(Path(key).parent)


def compose(*args, env, quiet=False, check=True, timeout=None):
    return run(["docker", "compose", "--project-directory", BASE, "-f", BASE / "docker-compose.yaml", *args],
               env=env, quiet=quiet, check=check, timeout=timeout)


def build_course_images():
    """The sandbox's, the course's and the base images, as images/build.py builds them (its steps 1-2,
    without its stand-alone registry: Compose runs its own)."""
    spec = importlib.util.spec_from_file_location("drydock_images_build", BASE / "images" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine_url()
    try:
        base, bases, entries = build.load_catalog()
        for tag in bases:
            build.ensure_base(tag, force=False)
        for entry in build.build_order(entries):
            if entry.context is None:
                build.tag_all(entry, build.inspect("image", base)["Id"], None)
            else:
                build.ensure_image(entry, force=False)
    except build.BuildError as exc:
        raise SetupError(f"course images: {exc}") from None
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous


def copy_host_certificates():
    """The host's extra CAs, for builds behind a TLS-inspecting proxy (deploy/ca-certificates/README.md)."""
    target = BASE / "deploy" / "ca-certificates"
    wanted = {path.name: path.read_bytes() for path in Path("/usr/local/share/ca-certificates").glob("**/*.crt") if path.is_file()}
    for stale in target.glob("*.crt"):
        if stale.name not in wanted:
            stale.unlink()
    for name, content in wanted.items():
        if not (target / name).exists() or (target / name).read_bytes() != content:
            (target / name).write_bytes(content)


def compose_build(skip_course_images=False, env=None):
    ensure_docker()
    ensure_compose()
    if skip_course_images:
        say("course images: skipped (--skip-course-images): the engine must already have them")
    else:
        say("building the base, sandbox and course images (images/build.py's steps)")
        build_course_images()
    copy_host_certificates()
    say("building the deployment images (docker compose build)")
    compose("--profile", "tls", "build", env=env or compose_env(), timeout=3600)


def mount_propagation(path):
    """(mount point holding path, its propagation: shared / private / ...)."""
    result = run(["findmnt", "-n", "-o", "TARGET,PROPAGATION", "--target", path], quiet=True)
    target, _, propagation = result.stdout.strip().rpartition(" ")
    return target.strip(), propagation.strip()


def ensure_shared_mounts(env):
    """The sandboxes' folder and the engine's netns folder must sit on shared mounts (systemd makes
    every mount shared; a host without it does not): Docker refuses rshared/rslave binds otherwise."""
    changed = []
    for variable, default in (("SANDBOX_SOCKET_ROOT", "/var/lib/drydock/sandboxes"), ("DOCKER_NETNS_DIR", None)):
        path = Path(env.get(variable) or default)
        path.mkdir(parents=True, exist_ok=True)
        mount_point, propagation = mount_propagation(path)
        if "shared" not in propagation:
            say(f"{mount_point} (holding {path}) is a {propagation or 'private'} mount: making it shared, as systemd does")
            run(["mount", "--make-shared", mount_point], quiet=True)
            changed.append(mount_point)
    return changed


def compose_sandbox_addressing(env):
    """The sandboxes' network as docker-compose.yaml resolves it: SetupError unless Docker's range is in the subnet
    and leaves sandboxes addresses (grader/sandbox_network.py leases the rest)."""
    config = json.loads(compose("config", "--format", "json", env=env, quiet=True).stdout)
    ipam = (config["networks"]["sandboxes"].get("ipam") or {}).get("config") or [{}]
    subnet, engine_range = ipam[0].get("subnet"), ipam[0].get("ip_range")
    try:
        subnet, engine_range = ipaddress.IPv4Network(subnet), ipaddress.IPv4Network(engine_range)
    except (TypeError, ValueError) as exc:
        raise SetupError(f"SANDBOX_SUBNET={subnet} / SANDBOX_ENGINE_RANGE={engine_range}: {exc}") from None
    if not engine_range.subnet_of(subnet) or engine_range.num_addresses * 2 > subnet.num_addresses:
        raise SetupError(f"SANDBOX_ENGINE_RANGE={engine_range} must be a small part of SANDBOX_SUBNET={subnet} "
                         f"(its first sixteenth: {next(subnet.subnets(prefixlen_diff=4)) if subnet.prefixlen <= 28 else 'none, too small a subnet'})")
    registry = ((config["services"]["registry"].get("networks") or {}).get("sandboxes") or {}).get("ipv4_address")
    try:
        registry = ipaddress.IPv4Address(registry)
    except ValueError as exc:
        raise SetupError(f"SANDBOX_REGISTRY_ADDRESS={registry}: {exc}") from None
    if registry not in engine_range or registry in (engine_range.network_address, subnet.network_address + 1):
        raise SetupError(f"SANDBOX_REGISTRY_ADDRESS={registry} must be an address of SANDBOX_ENGINE_RANGE={engine_range} "
                         f"past the gateway {subnet.network_address + 1}")
    name = config["networks"]["sandboxes"].get("name") or "drydock-sandboxes"
    found = docker_cli("network", "inspect", "--format", "{{json .IPAM.Config}}", name)
    if found is not None and found.returncode == 0:
        live = [c for c in json.loads(found.stdout or "[]") if "." in (c.get("Subnet") or "")]
        if live and (live[0].get("Subnet"), live[0].get("IPRange") or "") != (str(subnet), str(engine_range)):
            # Made by an earlier docker-compose.yaml (no ip-range: Docker could give a sandbox's address away), or
            # for another subnet. Docker does not see the sandboxes' ports: removing it under them cuts them off.
            raise SetupError(
                f"the sandboxes' network {name} has subnet {live[0].get('Subnet')} and range {live[0].get('IPRange') or '(all of it)'}, "
                f"not {subnet} and {engine_range}: stop the stack (bin/drydock compose-down, which ends the sandboxes), "
                f"remove it (docker network rm {name}), then run bin/drydock compose-up again")
    return subnet, engine_range


def compose_up(env=None):
    env = env or compose_env()
    ensure_docker()
    ensure_compose()
    compose_sandbox_addressing(env)
    ensure_shared_mounts(env)
    compose("up", "-d", "--wait", "--remove-orphans", env=env, timeout=1800)
    say("up; `docker compose ps` lists the services, `docker compose logs -f web` follows one")


# What a backup holds of a learner's: the database (accounts, progress, Checks, classrooms, LTI keys)
# and the playgrounds' kept disks (README, "Backup and restore"). The platform's services, which
# write to both; postgres, redis and the registry keep running.
PLATFORM_SERVICES = ("web", "worker-grade", "worker-provision", "worker-housekeeping", "worker-lms", "beat")
BACKUP_DUMP = "drydock.dump"
BACKUP_PLAYGROUNDS = "playgrounds"


def compose_playground_root(env):
    """PLAYGROUND_DISK_ROOT as docker-compose.yaml resolves it (from the shell's environment and .env)."""
    config = json.loads(compose("config", "--format", "json", env=env, quiet=True).stdout)
    return Path(config["services"]["worker-provision"]["environment"]["PLAYGROUND_DISK_ROOT"])


def loop_mount_points(image):
    """Where the host has this disk image mounted (a running playground's), through its loop devices."""
    devices = run(["losetup", "--list", "--noheadings", "--output", "NAME", "--associated", image], quiet=True).stdout.split()
    targets = []
    for device in devices:
        found = run(["findmnt", "--noheadings", "--output", "TARGET", "--source", device], quiet=True, check=False)
        targets += found.stdout.split()
    return targets


def copy_sparse(source, target):
    partial = target.with_name(target.name + ".partial")
    run(["cp", "--sparse=always", "--preserve=mode,ownership,timestamps", source, partial], quiet=True)
    partial.replace(target)


def compose_backup(folder, env=None):
    env = env or compose_env()
    ensure_compose()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    say(f"database: pg_dump into {folder / BACKUP_DUMP}")
    partial = folder / (BACKUP_DUMP + ".partial")
    with open(partial, "wb") as out:
        dumped = subprocess.run(["docker", "compose", "--project-directory", BASE, "-f", BASE / "docker-compose.yaml",
                                 "exec", "-T", "postgres", "pg_dump", "-U", "postgres", "-Fc", "drydock"],
                                env=env, cwd=BASE, stdout=out, stderr=subprocess.PIPE, timeout=3600)
    if dumped.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SetupError(f"pg_dump failed: {dumped.stderr.decode(errors='replace').strip()}")
    partial.replace(folder / BACKUP_DUMP)
    root = compose_playground_root(env)
    target = folder / BACKUP_PLAYGROUNDS
    target.mkdir(exist_ok=True)
    images = sorted(root.glob("*.img"))
    for image in images:
        # A running playground's ext4 is frozen while it is copied: the copy is what a clean unmount
        # would leave, not a file changing under cp. Its sandbox's writes wait those seconds.
        frozen = []
        try:
            for mount_point in loop_mount_points(image)[:1]:
                run(["fsfreeze", "--freeze", mount_point], quiet=True)
                frozen.append(mount_point)
            copy_sparse(image, target / image.name)
        finally:
            for mount_point in frozen:
                run(["fsfreeze", "--unfreeze", mount_point], quiet=True, check=False)
    for stale in target.glob("*.img"):
        if not (root / stale.name).exists():
            stale.unlink()
    say(f"playgrounds: {len(images)} kept disk(s) of {root} copied into {target}")
    say(f"keep {folder} with .env (its SECRET_KEY signs sessions and links) somewhere else than this server")


def compose_restore(folder, env=None):
    env = env or compose_env()
    ensure_compose()
    folder = Path(folder).resolve()
    dump = folder / BACKUP_DUMP
    if not dump.is_file():
        raise SetupError(f"{dump} is missing: is {folder} a folder made by bin/drydock compose-backup?")
    root = compose_playground_root(env)
    images = sorted((folder / BACKUP_PLAYGROUNDS).glob("*.img"))
    held = [image.name for image in images if loop_mount_points(root / image.name)]
    if held:
        raise SetupError(f"running playgrounds hold {', '.join(held)}: stop their sandboxes first")
    say(f"stopping {', '.join(PLATFORM_SERVICES)}")
    compose("stop", *PLATFORM_SERVICES, env=env, quiet=True)
    say(f"database: pg_restore --clean from {dump}")
    with open(dump, "rb") as source:
        restored = subprocess.run(["docker", "compose", "--project-directory", BASE, "-f", BASE / "docker-compose.yaml",
                                   "exec", "-T", "postgres", "pg_restore", "-U", "postgres", "--clean", "--if-exists",
                                   "--single-transaction", "--exit-on-error", "-d", "drydock"],
                                  env=env, cwd=BASE, stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
    if restored.returncode != 0:
        raise SetupError(f"pg_restore failed (the database is as it was: one transaction); the platform stays stopped: "
                         f"{restored.stderr.decode(errors='replace').strip()[-2000:]}")
    root.mkdir(parents=True, exist_ok=True)
    for image in images:
        copy_sparse(image, root / image.name)
    say(f"playgrounds: {len(images)} kept disk(s) copied into {root}")
    # The restored rows still call "ready" the sandboxes of the backup's time, whose containers this
    # server may not have (a new server has none): the reaper fails those ("Its container stopped or
    # disappeared") and removes containers no row names, before a learner is let in.
    say("sandboxes: the reaper, once, against the restored rows")
    compose("start", "worker-housekeeping", env=env, quiet=True)
    reaped = compose("exec", "-T", "worker-housekeeping", "python", "manage.py", "reap_sandboxes", env=env, quiet=True)
    say(f"sandboxes: {reaped.stdout.strip().splitlines()[-1] if reaped.stdout.strip() else 'nothing to do'}")
    say(f"starting {', '.join(PLATFORM_SERVICES)}")
    compose("start", *PLATFORM_SERVICES, env=env, quiet=True)


def compose_smoke():
    """deploy/test_compose_smoke.py, with what it expects: the venv, the engine, the sandbox and course images."""
    ensure_venv()
    ensure_docker()
    ensure_compose()
    build_images()
    # pytest-django loads the settings, which refuse to run with no SECRET_KEY: the tests' own, as `test` gives them.
    env = {**os.environ, "DOCKER_HOST": engine_url(), "SECRET_KEY": os.environ.get("SECRET_KEY", "tests-only-secret-key-not-for-production")}
    return subprocess.call([str(VENV / "bin" / "pytest"), "-q", "-s", "-p", "no:cacheprovider", "deploy/test_compose_smoke.py"],
                           cwd=BASE, env=env)

def engine2(action, name):
    if action == "start":
        started = start_second_engine(name)
        # The settings alone on stdout (`bin/drydock engine2 start > engine.json`), the words on stderr.
        print(f"drydock | second engine {name} answers at {started.url} (started in {started.started_in} s: "
              + ", ".join(f"{step} {seconds} s" for step, seconds in started.timings.items()) + ")", file=sys.stderr, flush=True)
        print(EngineLayout(name).state.read_text(), end="", flush=True)
        return 0
    left = stop_second_engine(name)
    for leftover in left:
        say(f"left behind: {leftover}")
    say(f"second engine {name} stopped" + (", with leftovers" if left else ", nothing left of it"))
    return 1 if left else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="drydock", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="set up and run the whole platform")
    up_parser.add_argument("--host", default=os.environ.get("DRYDOCK_HOST", "127.0.0.1"))
    up_parser.add_argument("--port", type=int, default=int(os.environ.get("DRYDOCK_PORT", "8000")))
    commands.add_parser("setup", help="only the set-up steps")
    commands.add_parser("services", help="make sure Redis and a Docker engine answer")
    commands.add_parser("down", help="stop the Redis, dockerd and PostgreSQL this script started")
    build_parser = commands.add_parser("compose-build", help="build every image docker-compose.yaml uses")
    build_parser.add_argument("--skip-course-images", action="store_true",
                              help="only the deployment images (the engine already has the sandbox and course images)")
    commands.add_parser("compose-up", help="check the host, then docker compose up -d --wait")
    commands.add_parser("compose-down", help="docker compose down (the volumes stay)")
    backup_parser = commands.add_parser("compose-backup", help="pg_dump and the playgrounds' kept disks, into a folder")
    backup_parser.add_argument("folder")
    restore_parser = commands.add_parser("compose-restore", help="put a compose-backup folder back into the running stack")
    restore_parser.add_argument("folder")
    commands.add_parser("compose-smoke", help="build, bring up, use, back up, restore and remove a whole Compose stack")

    engine2_parser = commands.add_parser("engine2", help="a second Docker engine on this machine, set up as another Docker host")
    engine2_parser.add_argument("action", choices=["start", "stop"])
    engine2_parser.add_argument("--name", help="its name (default: this checkout's); what is on the host is named after it")
    test_parser = commands.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "up":
            return up(args.host, args.port)
        if args.command == "setup":
            setup()
        elif args.command == "services":
            ensure_services()
        elif args.command == "down":
            down()
        elif args.command == "compose-build":
            compose_build(args.skip_course_images)
        elif args.command == "compose-up":
            compose_up()
        elif args.command == "compose-down":
            ensure_compose()
            compose("down", env=compose_env())
        elif args.command == "compose-smoke":
            return compose_smoke()
        elif args.command == "compose-backup":
            compose_backup(args.folder)
        elif args.command == "compose-restore":
            compose_restore(args.folder)
        elif args.command == "engine2":
            return engine2(args.action, args.name or second_engine_name())
        elif args.command == "test":
            return test([*extra, *args.pytest_args])
    except SetupError as exc:
        say(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
