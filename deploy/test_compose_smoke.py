"""The school server of docker-compose.yaml, for real: built, brought up, used over HTTPS, backed up, brought down.

One test, because each step needs the one before: the deployment images are
built (`bin/drydock compose-build`; the sandbox and course images are the
engine's already, as for every integration test), the stack comes up under
its own Compose project name on free loopback ports, with its own sandboxes'
network, bridge, registry name and sandbox prefix, so it never meets the
platform or the tests beside it on the same engine. A learner signs up
through the TLS proxy, starts a sandbox, runs `docker run --name bonjour
busybox echo Bonjour` in it and passes the task; /healthz (isolation included)
and /metrics say so. The learner leaves a file and a volume in their
playground; `bin/drydock compose-backup` saves the database and the
playground's disk while it runs; the stack goes with its volumes and folders,
a new one comes up, `bin/drydock compose-restore` puts the backup in, and the
learner signs in and finds their work. Then `down -v`, and nothing of the
project is left. About 6 minutes: `bin/drydock compose-smoke`, not CI's suite.
"""

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BASE = Path(__file__).resolve().parent.parent
PROJECT = "drydock-smoke"
PREFIX = "drydock-smoke-sandbox"
BRIDGE = "dd-smoke-sbx"
PLATFORM_WORKERS = ("worker-grade", "worker-provision", "worker-housekeeping", "worker-lms")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def docker(*args, check=True, timeout=120):
    result = subprocess.run(["docker", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def wait_until(probe, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


class Stack:
    """The Compose project of this test, and what it needs of the host."""

    def __init__(self, root):
        self.root = root
        web, postgres, redis, seed, https, http = free_ports(6)
        self.web_port, self.postgres_port, self.https_port = web, postgres, https
        self.sandbox_root = root / "sandboxes"
        self.playground_root = root / "playgrounds"
        tls = root / "tls"
        tls.mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost", "-keyout", tls / "privkey.pem", "-out", tls / "fullchain.pem"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        (tls / "privkey.pem").chmod(0o644)
        self.cafile = tls / "fullchain.pem"
        self.origin = f"https://localhost:{https}"
        env_file = root / "smoke.env"
        env_file.write_text("\n".join([
            "SANDBOX_POOL_BLANK=0", "SANDBOX_DISK_GB=1", "SANDBOX_MEMORY_MB=512", "SANDBOX_HOST_RESERVE_MB=512",
            "CELERY_GRADE_CONCURRENCY=1", "CELERY_PROVISION_CONCURRENCY=1", "LOG_LEVEL=INFO",
            # The lab's sandbox and the playground at once.
            "SANDBOX_MAX_PER_LEARNER=2", "",
        ]))
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": PROJECT,
            "DRYDOCK_ENV_FILE": str(env_file),
            "DRYDOCK_IMAGE_TAG": "smoke",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16) + "'quote",
            "DRYDOCK_WEB_PORT": str(web), "DRYDOCK_WEB_WORKERS": "1",
            "DRYDOCK_POSTGRES_PORT": str(postgres), "DRYDOCK_REDIS_PORT": str(redis),
            "DRYDOCK_REGISTRY_SEED_PORT": str(seed),
            "DRYDOCK_HTTPS_PORT": str(https), "DRYDOCK_HTTP_PORT": str(http),
            "DRYDOCK_SERVER_NAME": "localhost", "DRYDOCK_TLS_DIR": str(tls),
            "ALLOWED_HOSTS": "localhost,127.0.0.1", "CSRF_TRUSTED_ORIGINS": self.origin,
            "BEHIND_TLS_PROXY": "1", "SECURE_COOKIES": "1",
            "SANDBOX_SOCKET_ROOT": str(self.sandbox_root),
            "PLAYGROUND_DISK_ROOT": str(self.playground_root),
            "SANDBOX_NETWORK": "drydock-smoke-sandboxes", "SANDBOX_BRIDGE": BRIDGE,
            # Not the subnet of the sandboxes' network bin/drydock made on the same engine (they may not overlap).
            "SANDBOX_SUBNET": "10.217.0.0/20", "SANDBOX_ENGINE_RANGE": "10.217.0.0/24",
            "SANDBOX_REGISTRY_ADDRESS": "10.217.0.2",
            "DRYDOCK_REGISTRY_NAME": "drydock-smoke-registry",
            "SANDBOX_NAME_PREFIX": PREFIX, "SANDBOX_LABELS": "drydock.test=1",
            "COMPOSE_PROFILES": "tls",
            # Read by docker-compose.yaml's command lines, so from the environment, not the env file.
            "CELERY_GRADE_CONCURRENCY": "1", "CELERY_PROVISION_CONCURRENCY": "1",
        }
        self.env.pop("DATABASE_URL", None)

    def drydock(self, *args, timeout=3600):
        result = subprocess.run([sys.executable, BASE / "bin" / "drydock.py", *args], env=self.env, cwd=BASE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if result.returncode != 0:
            logs = self.compose("logs", "--no-color", "--tail", "60", check=False)
            raise AssertionError(f"bin/drydock {' '.join(args)} failed:\n{result.stdout[-3000:]}\nlogs:\n{logs[-12000:]}")
        return result.stdout

    def compose(self, *args, check=True, timeout=600, stdin=None, binary=False):
        result = subprocess.run(["docker", "compose", "--project-directory", BASE, "-f", BASE / "docker-compose.yaml", *args],
                                env=self.env, cwd=BASE, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=not binary, timeout=timeout)
        if check and result.returncode != 0:
            logs = subprocess.run(["docker", "compose", "--project-directory", BASE, "logs", "--tail", "40"], env=self.env,
                                  cwd=BASE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
            raise AssertionError(f"docker compose {' '.join(map(str, args))} failed: {result.stderr[-3000:]}\nlogs:\n{logs[-6000:]}")
        return result.stdout

    def psql(self, sql):
        return self.compose("exec", "-T", "postgres", "psql", "-U", "postgres", "-d", "drydock", "-At", "-c", sql).strip()

    def leftovers(self):
        label = f"label=com.docker.compose.project={PROJECT}"
        return {
            "containers": docker("ps", "-aq", "--filter", label).split() + docker("ps", "-aq", "--filter", f"name=^{PREFIX}-").split(),
            "volumes": docker("volume", "ls", "-q", "--filter", label).split(),
            "networks": docker("network", "ls", "-q", "--filter", label).split(),
        }

    def tear_down(self):
        # The sandboxes first (the sandboxes' network cannot go while they are on it), then the project.
        for name in docker("ps", "-aq", "--filter", f"name=^{PREFIX}-").split():
            docker("rm", "-f", "-v", name, check=False)
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False, timeout=300)
        for disk in sorted(self.sandbox_root.glob("*/disk"), reverse=True):
            subprocess.run(["umount", "--lazy", disk], stderr=subprocess.DEVNULL)
        sys.path.insert(0, str(BASE))
        from grader import isolation

        for tool, chain, rule in isolation.host_rules(BRIDGE):
            while subprocess.run([tool, "-D", chain, *rule], stderr=subprocess.DEVNULL).returncode == 0:
                pass


class Browser:
    """A learner's browser over HTTPS: cookies, CSRF token, JSON like the lab page's script."""

    def __init__(self, origin, cafile):
        self.origin = origin
        context = ssl.create_default_context(cafile=str(cafile))
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(self.cookies))

    def csrf(self):
        return next(c.value for c in self.cookies if c.name == "csrftoken")

    def request(self, path, data=None, *, json_reply=True, method=None):
        headers = {"Accept": "application/json"} if json_reply else {}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers.update({"X-CSRFToken": self.csrf(), "Referer": self.origin + path, "Content-Type": "application/x-www-form-urlencoded"})
        request = urllib.request.Request(self.origin + path, data=body, headers=headers, method=method or ("POST" if body is not None else "GET"))
        try:
            with self.opener.open(request, timeout=30) as reply:
                text = reply.read().decode()
                return reply.status, (json.loads(text) if json_reply and text.startswith("{") else text)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text.startswith("{") else text)


@pytest.fixture
def stack():
    if docker("images", "-q", "drydock/sandbox:latest").strip() == "" or docker("images", "-q", "busybox:latest").strip() == "":
        pytest.fail("the sandbox and course images are missing: bin/drydock test (or python3 images/build.py) builds them")
    before = subprocess.run(["findmnt", "-n", "-o", "PROPAGATION", "/"], stdout=subprocess.PIPE, text=True).stdout.strip()
    root = Path(tempfile.mkdtemp(prefix="dd-smoke-"))
    built = Stack(root)
    try:
        yield built
    finally:
        built.tear_down()
        if "shared" not in before:
            subprocess.run(["mount", "--make-private", "/"], check=False)
        shutil.rmtree(root, ignore_errors=True)
        left = built.leftovers()
        assert not any(left.values()), f"the smoke test left {left}"


def wait_for_sandbox(browser, started, stack):
    assert started[0] == 202, started
    state = wait_until(lambda: (lambda s: s if s[1]["status"] in ("ready", "failed") else None)(browser.request(started[1]["status_url"])),
                       240, "the sandbox")[1]
    assert state["status"] == "ready", f"{state['failure']}\n{stack.compose('logs', '--tail', '40', 'worker-provision')}"
    return f"{PREFIX}-{state['id']}"


def compose_up(stack):
    started = time.monotonic()
    stack.drydock("compose-up", timeout=900)
    seconds = time.monotonic() - started
    # One JSON object per line (Compose 2.21 and later).
    ps = [json.loads(line) for line in stack.compose("ps", "--format", "json").splitlines() if line.strip()]
    states = {row["Service"]: (row["State"], row.get("Health", "")) for row in ps}
    for service in ("web", *PLATFORM_WORKERS, "beat", "postgres", "redis", "registry", "proxy"):
        assert states.get(service, ("missing",))[0] == "running", states
    for service in ("web", *PLATFORM_WORKERS, "postgres", "redis", "registry"):
        assert states[service][1] == "healthy", states
    return seconds


def test_a_school_server_built_and_run_with_compose_serves_a_learner_end_to_end(stack):
    timings = {}
    started = time.monotonic()
    stack.drydock("compose-build", "--skip-course-images")
    timings["build"] = time.monotonic() - started
    timings["up"] = compose_up(stack)

    browser = Browser(stack.origin, stack.cafile)
    # Every part answers through the proxy, the sandboxes' isolation included (user namespaces, bridge rules).
    status, health = browser.request("/healthz")
    assert status == 200 and health["ok"], health
    assert "detail" not in health["checks"]["isolation"], health  # what each part said: for the operator only
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.web_port}/healthz", timeout=10) as reply:
        assert "user namespaces" in json.loads(reply.read())["checks"]["isolation"]["detail"]

    # Sign-up as a learner does it: the form's CSRF token, then the POST, over HTTPS.
    status, page = browser.request("/compte/inscription/", json_reply=False)
    assert status == 200 and "csrfmiddlewaretoken" in page
    password = secrets.token_urlsafe(12)
    status, _ = browser.request("/compte/inscription/", {
        "username": "eleve1", "email": "eleve1@example.com", "password1": password, "password2": password,
    }, json_reply=False)
    assert status == 200 and any(c.name == "sessionid" and c.secure for c in browser.cookies)

    started = time.monotonic()
    lab = "/cours/docker-fr/tp/premier-conteneur/"
    name = wait_for_sandbox(browser, browser.request(lab + "demarrer/", {}), stack)
    timings["sandbox start"] = time.monotonic() - started

    # The learner's command, typed in the sandbox: busybox comes from the stack's own registry.
    output = docker("exec", name, "docker", "run", "--name", "bonjour", "busybox", "echo", "Bonjour", timeout=180)
    assert "Bonjour" in output
    status, submission = browser.request(lab + "taches/lancer-bonjour/verifier/", {})
    assert status == 202, submission
    done = wait_until(lambda: (lambda s: s if s[1]["status"] not in ("queued", "grading") else None)(browser.request(f"/verifications/{submission['id']}/")), 60, "the verdict")[1]
    assert done["status"] == "passed", done

    # /metrics: on the host's loopback, never through the proxy.
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.web_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    assert 'drydock_sandboxes{status="ready"} 1.0' in text
    assert re.search(r"^drydock_grading_latency_seconds_count 1\.0$", text, re.M)
    assert re.search(r'^drydock_celery_queue_length\{queue="grade\.local"\} 0\.0$', text, re.M)
    assert browser.request("/metrics", json_reply=False)[0] == 404

    # The learner's work that lasts beyond a sandbox: the playground's kept disk (a file in /root, a volume).
    playground = wait_for_sandbox(browser, browser.request("/bac-a-sable-libre/demarrer/", {}), stack)
    docker("exec", playground, "sh", "-c", "echo 'mon travail' > /root/travail.txt && docker volume create donnees")

    # Backup as the README says, the playground still running (its disk is frozen while it is copied).
    backup = stack.root / "backup"
    started = time.monotonic()
    stack.drydock("compose-backup", str(backup))
    timings["backup"] = time.monotonic() - started
    assert (backup / "drydock.dump").stat().st_size > 10_000
    assert len(list((backup / "playgrounds").glob("*.img"))) == 1

    # A new server: nothing of the first one is left (volumes, sandboxes, playgrounds folder), then up again.
    stack.tear_down()
    shutil.rmtree(stack.playground_root)
    shutil.rmtree(stack.sandbox_root)
    assert not any(stack.leftovers().values()), stack.leftovers()
    timings["second up"] = compose_up(stack)
    assert stack.psql("SELECT count(*) FROM auth_user") == "0"
    started = time.monotonic()
    stack.drydock("compose-restore", str(backup))
    timings["restore"] = time.monotonic() - started
    assert stack.psql("SELECT count(*) FROM labs_submission WHERE status = 'passed'") == "1"
    assert stack.psql("SELECT username FROM auth_user") == "eleve1"
    # The backup's sandboxes have no container on this server: the restore's reaper failed them.
    assert stack.psql("SELECT count(*) FROM labs_sandbox WHERE status = 'ready'") == "0"

    # The learner signs in to the restored server and finds their playground as they left it.
    wait_until(lambda: browser.request("/healthz")[0] == 200, 120, "web after the restore")
    browser = Browser(stack.origin, stack.cafile)
    status, page = browser.request("/compte/login/", json_reply=False)
    assert status == 200 and "csrfmiddlewaretoken" in page
    status, page = browser.request("/compte/login/", {"username": "eleve1", "password": password}, json_reply=False)
    assert status == 200 and any(c.name == "sessionid" for c in browser.cookies), page[-2000:]
    playground = wait_for_sandbox(browser, browser.request("/bac-a-sable-libre/demarrer/", {}), stack)
    assert docker("exec", playground, "cat", "/root/travail.txt").strip() == "mon travail"
    assert "donnees" in docker("exec", playground, "docker", "volume", "ls", "-q").split()
    print("compose smoke: " + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in timings.items()))
