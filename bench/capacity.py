#!/usr/bin/env python3
"""How many sandboxes one host holds: start them through the platform until 400 are live or admission stops.

    .venv/bin/python bench/capacity.py [--target 400]

Through the platform's own code: `request_sandbox` as a learner's click does
(one learner per sandbox), the Celery workers of each queue, the real engine,
the hardened sandbox. A real uvicorn serves /healthz, polled every 200 ms for
the whole run. On a scratch database and sandbox names of its own; every
sandbox it made is stopped and removed at the end. Prints:

  sandboxes live: N                (ready at once; admission stops before the host suffers)
  memory per idle sandbox: X MiB   (the engine's figure, mean over a sample; and the host's MemAvailable drop / N)
  start rate: X sandboxes/s
  host healthz during load: p95 = X ms
Target on this 2-core / 24 GiB machine: N = 400 with healthz p95 <= 100 ms.
"""

import argparse
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request

from measure import BASE, percentile, remove_bench_sandboxes, setup_scratch_django, start_workers, stop_workers

SCRATCH = setup_scratch_django(
    "drydock-bench-capacity-",
    SANDBOX_NAME_PREFIX="drydock-bench-capacity-sandbox",
    SANDBOX_LABELS="drydock.test=1",
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
    SANDBOX_POOL_BLANK="0",
    SANDBOX_IDLE_MINUTES="120",
)

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from grader import engine  # noqa: E402
from labs import capacity, sandboxes  # noqa: E402
from labs.models import Lab, Sandbox  # noqa: E402


class HealthPoller(threading.Thread):
    """GET /healthz every 200 ms until stopped; keeps each answer's time and status."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.times, self.failures, self.down = url, [], 0, {}
        self.details = {}  # part down -> the first thing it said
        self.part_ms = {}  # part -> the time /healthz says it took, per answer
        self.stopping = threading.Event()

    def read(self, body):
        """The parts /healthz reports: their times, and which are down (returned)."""
        try:
            checks = json.loads(body)["checks"]
        except (ValueError, KeyError):
            return ["(not JSON)"]
        for name, check in checks.items():
            self.part_ms.setdefault(name, []).append(check.get("ms", 0))
            if not check["ok"]:
                self.details.setdefault(name, str(check.get("detail", ""))[:200])
        return [name for name, check in checks.items() if not check["ok"]]

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    self.read(response.read())
            except urllib.error.HTTPError as error:
                # A 503 (some part reported down) is an answer too: counted, with what was down.
                self.failures += 1
                for name in self.read(error.read()):
                    self.down[name] = self.down.get(name, 0) + 1
            except OSError:
                self.failures += 1
                self.down["(no answer)"] = self.down.get("(no answer)", 0) + 1
            self.times.append(time.monotonic() - started)
            self.stopping.wait(max(0.0, 0.2 - (time.monotonic() - started)))


def start_web():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(SCRATCH / "web.log", "wb")
    process = subprocess.Popen(
        [str(BASE / ".venv" / "bin" / "uvicorn"), "drydock.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"],
        cwd=BASE, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return process, url
        except urllib.error.HTTPError:
            return process, url  # answering, even if some part is reported down
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the web server did not answer")


def counts():
    rows = Sandbox.objects.filter(owner__isnull=False).values_list("status", flat=True)
    found = {}
    for status in rows:
        found[status] = found.get(status, 0) + 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=int, default=400)
    parser.add_argument("--stall", type=float, default=60.0, help="seconds without a new ready sandbox that end the run")
    args = parser.parse_args()
    from django.conf import settings

    call_command("migrate", verbosity=0)
    call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
    lab = Lab.objects.get(slug="premier-conteneur")
    users = [User(username=f"capacity-{n}") for n in range(args.target)]
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith="capacity-").order_by("pk"))
    memory_before = capacity.memory_available_mb()
    workers = start_workers(SCRATCH)
    web, url = start_web()
    poller = HealthPoller(url)
    try:
        print(
            f"engine: {engine.default().engine_info().version}; {os.cpu_count()} cores; MemAvailable {memory_before} MiB; "
            f"ceiling {settings.SANDBOX_MAX_PER_HOST}, reserve {settings.SANDBOX_HOST_RESERVE_MB} MiB, "
            f"{settings.SANDBOX_ADMISSION_MB} MiB asked per sandbox",
            flush=True,
        )
        poller.start()
        started = time.monotonic()
        for user in users:
            sandboxes.request_sandbox(user=user, lab=lab)
        last_ready, last_change = 0, time.monotonic()
        while True:
            found = counts()
            ready = found.get("ready", 0)
            if ready != last_ready:
                last_ready, last_change = ready, time.monotonic()
                if ready % 25 == 0 or ready == args.target:
                    print(f"  {time.monotonic() - started:6.1f} s: {found}", flush=True)
            if ready + found.get("failed", 0) >= args.target or time.monotonic() - last_change > args.stall:
                break
            # What the beat does: admit waiting learners when removals or memory give room.
            sandboxes.admit_waiting()
            time.sleep(0.5)
        elapsed = last_change - started
        time.sleep(10)  # let the nested daemons settle before reading their idle memory
        found = counts()
        live = Sandbox.objects.filter(status=Sandbox.Status.READY)
        sample = list(live[:20])
        memory = [engine.default().memory_usage_bytes(s.container_name) for s in sample]
        memory_after = capacity.memory_available_mb()
        poller.stopping.set()
        poller.join()
        n = found.get("ready", 0)
        print(f"states at the end: {found}")
        if found.get("failed"):
            failed = Sandbox.objects.filter(status=Sandbox.Status.FAILED).first()
            print("first failure:", failed.failure[:200], "|", failed.failure_detail[:300])
        print(f"sandboxes live: {n}")
        if memory:
            drop = (memory_before - memory_after) / n if n and memory_before and memory_after else float("nan")
            print(f"memory per idle sandbox: {sum(memory) / len(memory) / 2**20:.1f} MiB (engine, n={len(memory)}); host MemAvailable drop / N: {drop:.1f} MiB")
        print(f"start rate: {n / elapsed:.2f} sandboxes/s ({n} in {elapsed:.1f} s)")
        print(f"host healthz during load: p95 = {percentile(poller.times, 95) * 1000:.0f} ms (p50 {percentile(poller.times, 50) * 1000:.0f} ms, n={len(poller.times)}, not 200: {poller.failures} {poller.down or ''})")
        print("  its parts, p95: " + ", ".join(f"{name} {percentile(times, 95):.0f} ms" for name, times in poller.part_ms.items()))
        for name, detail in poller.details.items():
            print(f"  first '{name}' down: {detail}")
    finally:
        poller.stopping.set()
        for sandbox in Sandbox.objects.filter(status__in=Sandbox.LIVE):
            sandboxes.stop(sandbox)
        deadline = time.monotonic() + 600
        while engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX) and time.monotonic() < deadline:
            time.sleep(2)
        stop_workers(workers)
        web.terminate()
        web.wait(timeout=30)
        remove_bench_sandboxes()


if __name__ == "__main__":
    main()
