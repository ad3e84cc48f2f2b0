"""The run command, end to end: bin/drydock up starts web, worker and beat; Ctrl-C stops them all."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from drydock import queues
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.integration


def platform_env(tmp_path, **extra):
    """A platform of its own: scratch folder, its own Redis database and sandbox names."""
    env = {**os.environ, "DRYDOCK_VAR_DIR": str(tmp_path / "var"), "SANDBOX_NAME_PREFIX": "drydock-uptest-sandbox", **extra}
    env["REDIS_URL"] = env.get("REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/14"
    env.pop("SECRET_KEY", None)
    return env


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with_marker(marker):
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_up_serves_the_course_with_worker_and_beat_then_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    marker = f"drydock-up-test-{uuid.uuid4()}"
    env = platform_env(tmp_path, DRYDOCK_TEST_MARKER=marker)
    process = subprocess.Popen(
        [str(BASE_DIR / "bin" / "drydock"), "up", "--port", str(port)],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines = []
    ready = threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if "Drydock is up" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(240), "never became ready:\n" + "".join(lines[-40:])
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output
        assert "admin / " in output and "demo / " in output
        assert "loading course content/docker-fr" in output

        deadline = time.monotonic() + 60
        while True:
            status, health = get_json(f"http://127.0.0.1:{port}/healthz")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 200, health
        assert health["checks"]["workers"]["ok"]

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cours/docker-fr/", timeout=5) as response:
            assert response.status == 200
            assert "Docker" in response.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/drydock.css", timeout=5) as response:
            assert response.status == 200
        prefixes = {line.split("|")[0].strip() for line in lines if "|" in line}
        # One worker per queue, beat and the event watcher, each with its own log prefix.
        assert {"drydock", "web", "beat", "watcher", *(f"worker-{queue}" for queue in queues.CONCURRENCY)} <= prefixes, prefixes
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            returncode = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    reader.join(5)
    assert returncode == 0, "".join(lines[-30:])
    assert "stopped" in "".join(lines[-5:])
    time.sleep(0.5)
    assert processes_with_marker(marker) == [], "orphan processes left after Ctrl-C"


def test_second_up_reuses_what_exists(tmp_path):
    env = platform_env(tmp_path)
    first = subprocess.run([str(BASE_DIR / "bin" / "drydock"), "setup"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    started = time.monotonic()
    second = subprocess.run([str(BASE_DIR / "bin" / "drydock"), "setup"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Already up to date: nothing changed." in second.stdout
    assert "installing" not in second.stdout and "starting" not in second.stdout
    # Same credentials printed both times: the accounts were reused, not re-created.
    creds = lambda out: [line for line in out.splitlines() if " / " in line]  # noqa: E731
    assert creds(first.stdout) == creds(second.stdout)
    print(f"second set-up took {elapsed:.1f} s")
