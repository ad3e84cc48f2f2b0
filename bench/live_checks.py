#!/usr/bin/env python3
"""Live checks: command in a sandbox -> task passed on the learner's page, with many sandboxes watched.

    .venv/bin/python bench/live_checks.py [--sandboxes 50]

On a scratch database and its own sandbox names, against the real engine and
Redis (DB 9 unless BENCH_REDIS_URL names another: the channel layer the
watcher pushes on): provisions N ready sandboxes of "reseaux-definis-par-l-
utilisateur", whose set-up pulls nginx:1.22 and busybox:1.35 before the sandbox
is ready, runs the real watcher (`manage.py watch_sandboxes`), and for each
sandbox in turn runs two learner commands that download nothing:

    docker network create mon-reseau                                 -> task « creer-le-reseau »
    docker run -d --name serveur --network mon-reseau nginx:1.22     -> task « brancher-le-serveur » (image already there)

timing from the command's start (a `docker exec` into the sandbox) to the
pass reaching the page's channel group (what lab.js turns green): the push,
not only the Submission row. Prints p50/p95, the commands' own time, and the
watcher's memory (RSS) for N sandboxes. Targets: p50 <= 500 ms, p95 <= 1 s,
<= 1 MiB per sandbox.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from measure import BASE, percentile, remove_bench_sandboxes, setup_scratch_django  # noqa: E402

SCRATCH = setup_scratch_django(
    "drydock-bench-live-",
    SANDBOX_NAME_PREFIX="drydock-benchlive-sandbox",
    SANDBOX_LABELS="drydock.test=1",
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
    SANDBOX_MAX_PER_HOST="1000",
    SANDBOX_POOL_BLANK="0",
)

from channels.layers import get_channel_layer  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from grader import engine  # noqa: E402
from labs import push, sandboxes  # noqa: E402
from labs.models import Lab, Sandbox  # noqa: E402

LAB = "reseaux-definis-par-l-utilisateur"
# Nothing to download: the lab's set-up pulled nginx:1.22 before the sandbox was ready.
COMMANDS = [
    ("docker network create mon-reseau", "creer-le-reseau"),
    ("docker run -d --name serveur --network mon-reseau nginx:1.22", "brancher-le-serveur"),
]


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def provision(number, lab):
    close_old_connections()
    user = User.objects.create_user(f"live-{number}")
    now = timezone.now()
    row = Sandbox.objects.create(owner=user, lab=lab, expires_at=now + timedelta(hours=1), last_activity_at=now, steps_total=2 + len(lab.setup))
    row = sandboxes.provision(row.pk, engine=engine.default())
    if row.status != Sandbox.Status.READY:
        raise SystemExit(f"sandbox {row.pk} failed: {row.failure}")
    return row


async def measure(rows):
    layer = get_channel_layer()
    latencies, commands = [], []
    for row in rows:
        channel = await layer.new_channel()
        await layer.group_add(push.group_name(row.owner_id, row.lab_id), channel)
        for command, slug in COMMANDS:
            started = time.monotonic()
            done = asyncio.create_task(asyncio.to_thread(timed_exec, row.container_name, command))
            while True:
                message = await asyncio.wait_for(layer.receive(channel), 10)
                if any(p["task"] == slug for p in message.get("passed", [])):
                    latencies.append(time.monotonic() - started)
                    break
            result, seconds = await done
            commands.append(seconds)
            if result.exit_code != 0:
                raise SystemExit(f"{command}: {result.output}")
        await layer.group_discard(push.group_name(row.owner_id, row.lab_id), channel)
    return latencies, commands


def timed_exec(name, command):
    started = time.monotonic()
    result = engine.default().exec_in_sandbox(name, command)
    return result, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandboxes", type=int, default=50)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
    lab = Lab.objects.get(slug=LAB)
    log = open(SCRATCH / "watcher.log", "wb")
    watcher = subprocess.Popen([sys.executable, "manage.py", "watch_sandboxes"], cwd=BASE, env={**os.environ, "LOG_LEVEL": "INFO"}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        time.sleep(3)
        idle = rss_mib(watcher.pid)
        started = time.monotonic()
        # The first alone: it formats the disk template the others copy (two threads of one process would race on it).
        rows = [provision(0, lab)]
        with ThreadPoolExecutor(4) as pool:
            rows += list(pool.map(lambda n: provision(n, lab), range(1, args.sandboxes)))
        print(f"{len(rows)} sandboxes ready in {time.monotonic() - started:.0f} s; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
        deadline = time.monotonic() + 120
        while (SCRATCH / "watcher.log").read_text().count("watch connected sandbox") < len(rows):
            if time.monotonic() > deadline:
                raise SystemExit(f"the watcher did not follow every sandbox (see {SCRATCH / 'watcher.log'})")
            time.sleep(0.2)
        time.sleep(3)  # the first re-grade of each connection done
        latencies, commands = asyncio.run(measure(rows))
        watched = rss_mib(watcher.pid)
        p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
        print(f"live check (command -> task passed on the page): p50 = {p50:.0f} ms p95 = {p95:.0f} ms  (n={len(latencies)}, from the command's start)")
        print(f"  the docker commands alone (docker exec -> command done): p50 = {percentile(commands, 50) * 1000:.0f} ms p95 = {percentile(commands, 95) * 1000:.0f} ms")
        print(f"watcher memory: {watched:.1f} MiB for {len(rows)} sandboxes ({idle:.1f} MiB watching none: "
              f"{(watched - idle) * 1024 / max(1, len(rows)):.0f} KiB per sandbox)")
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
        Sandbox.objects.filter(status=Sandbox.Status.READY).update(status=Sandbox.Status.STOPPED)
        remove_bench_sandboxes()


if __name__ == "__main__":
    main()
