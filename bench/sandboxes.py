#!/usr/bin/env python3
"""Sandbox start and grading latency, and the memory of an idle sandbox.

    .venv/bin/python bench/sandboxes.py [--starts 20] [--checks 100]

Runs against the real engine, Redis and a real Celery worker, on a scratch
database and its own sandbox names (nothing of a running platform is
touched). Prints p50/p95 of:
  - sandbox start: request -> ready (row status), through Celery;
  - warm start: request -> ready row, claiming a sandbox of the warm pool;
  - grading: Check -> verdict stored, through Celery;
  - the daemon started on demand (SANDBOX_DAEMON_ON_DEMAND) against the daemon
    started with the sandbox, both provisioned in this process one after the
    other: start -> ready, the machine's CPU per start (/proc/stat, so only
    meaningful on a quiet machine), and the first docker command's wait;
and, as baselines measured in the same run: `docker run` of a plain container
that exits at once, and a snapshot + check done in-process with no queue.
Targets on the 2-core machine: start p50 <= 0.6 s, warm start p50 <= 50 ms, grading p50 <= 150 ms.
"""

import argparse
import os
import subprocess
import time

from measure import BASE, remove_bench_sandboxes, report, setup_scratch_django, start_workers, stop_workers, wait  # noqa: E402

SCRATCH = setup_scratch_django(
    "drydock-bench-",
    SANDBOX_NAME_PREFIX="drydock-bench-sandbox",
    SANDBOX_LABELS="drydock.test=1",
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
    SANDBOX_MAX_PER_HOST="1000",
    # Cold starts stay cold: the warm pool is filled by hand for the warm-start figure.
    SANDBOX_POOL_BLANK="0",
    # The grading figure is many Checks by one learner: the per-learner limit would refuse them.
    CHECKS_PER_MINUTE="1000000",
)

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from grader import checks, engine  # noqa: E402
from labs import grading, sandboxes  # noqa: E402
from labs.models import Lab, LabTask, Sandbox, Submission  # noqa: E402
def baseline_plain_run(n):
    times = []
    for _ in range(n):
        started = time.monotonic()
        subprocess.run(["docker", "run", "--rm", "--label", "drydock.test=1", "debian:bookworm-slim", "true"], check=True, capture_output=True)
        times.append(time.monotonic() - started)
    return times


def bench_starts(user, lab, n):
    times = []
    for _ in range(n):
        started = time.monotonic()
        sandbox = sandboxes.request_sandbox(user=user, lab=lab)
        wait(lambda: Sandbox.objects.filter(pk=sandbox.pk, status__in=[Sandbox.Status.READY, Sandbox.Status.FAILED]).first(), 60)
        times.append(time.monotonic() - started)
        sandbox.refresh_from_db()
        if sandbox.status != Sandbox.Status.READY:
            raise SystemExit(f"sandbox failed: {sandbox.failure}")
        Sandbox.objects.filter(pk=sandbox.pk).update(status=Sandbox.Status.STOPPED)
        engine.default().remove_sandbox(sandbox.container_name, sandboxes.socket_dir(sandbox))
    return times


def machine_cpu_seconds():
    """Core-seconds the whole machine has spent working since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def bench_daemon_modes(user, lab, n):
    """{on_demand: (start seconds, CPU core-seconds per start, first docker command seconds)}, in this process."""
    from datetime import timedelta

    from django.utils import timezone

    found = {}
    for on_demand in (False, True):
        settings.SANDBOX_DAEMON_ON_DEMAND = on_demand
        starts, firsts, cpu = [], [], 0.0
        for _ in range(n):
            now = timezone.now()
            row = Sandbox.objects.create(owner=user, lab=lab, expires_at=now + timedelta(minutes=30), last_activity_at=now, steps_total=2)
            busy, started = machine_cpu_seconds(), time.monotonic()
            row = sandboxes.provision(row.pk, engine=engine.default())
            starts.append(time.monotonic() - started)
            cpu += machine_cpu_seconds() - busy
            if row.status != Sandbox.Status.READY:
                raise SystemExit(f"sandbox failed: {row.failure_detail or row.failure}")
            started = time.monotonic()
            first = engine.default().exec_in_sandbox(row.container_name, "docker version --format '{{.Server.Version}}'")
            firsts.append(time.monotonic() - started)
            if first.exit_code != 0:
                raise SystemExit(f"the first docker command failed: {first.output[-300:]}")
            Sandbox.objects.filter(pk=row.pk).update(status=Sandbox.Status.STOPPED)
            engine.default().remove_sandbox(row.container_name, sandboxes.socket_dir(row))
        found[on_demand] = (starts, cpu / n, firsts)
    return found


def bench_warm_starts(lab, n):
    """Fill the blank pool with n sandboxes, then n learners each claim one: request -> ready row."""
    settings.SANDBOX_POOL_BLANK = n
    made = sandboxes.refill_pools()
    wait(lambda: Sandbox.objects.filter(pk__in=made, status=Sandbox.Status.READY).count() == len(made), 60 + 5 * n, 0.05)
    time.sleep(5)  # let the nested daemons settle before reading their idle memory
    idle_memory = engine.default().memory_usage_bytes(Sandbox.objects.get(pk=made[0]).container_name)
    settings.SANDBOX_POOL_BLANK = 0  # no refill while measuring
    times = []
    for number in range(n):
        learner = User.objects.create_user(f"warm-{number}")
        started = time.monotonic()
        sandbox = sandboxes.request_sandbox(user=learner, lab=lab)
        ready = sandbox.status == Sandbox.Status.READY
        times.append(time.monotonic() - started)
        if not ready or sandbox.pk not in made:
            raise SystemExit(f"learner {number} did not get a warm sandbox: {sandbox.status}")
    for sandbox in Sandbox.objects.filter(pk__in=made):
        Sandbox.objects.filter(pk=sandbox.pk).update(status=Sandbox.Status.STOPPED)
        engine.default().remove_sandbox(sandbox.container_name, sandboxes.socket_dir(sandbox))
    return times, idle_memory


def bench_grading(user, lab, n):
    sandbox = sandboxes.request_sandbox(user=user, lab=lab)
    wait(lambda: Sandbox.objects.filter(pk=sandbox.pk, status=Sandbox.Status.READY).first(), 60)
    sandbox.refresh_from_db()
    engine.default().exec_in_sandbox(sandbox.container_name, "docker pull -q nginx:1.22 && docker run -d --name web nginx:1.22")
    task = LabTask.objects.get(lab=lab, slug="tirer-nginx-1-22")
    time.sleep(5)  # let the nested daemon settle before reading its idle memory
    idle_memory = engine.default().memory_usage_bytes(sandbox.container_name)
    through_celery, in_process = [], []
    for _ in range(n):
        started = time.monotonic()
        submission = grading.submit(user=user, task=task, sandbox=sandbox)
        wait(lambda: Submission.objects.filter(pk=submission.pk, status__in=Submission.DONE).first(), 30, 0.002)
        through_celery.append(time.monotonic() - started)
    for _ in range(n):
        started = time.monotonic()
        snapshot = engine.default().take_snapshot(sandbox.container_name, sandboxes.socket_dir(sandbox))
        checks.run_check(task.check_name, snapshot, task.check_params)
        in_process.append(time.monotonic() - started)
    statuses = set(Submission.objects.filter(sandbox=sandbox).values_list("status", flat=True))
    Sandbox.objects.filter(pk=sandbox.pk).update(status=Sandbox.Status.STOPPED)
    engine.default().remove_sandbox(sandbox.container_name, sandboxes.socket_dir(sandbox))
    return through_celery, in_process, idle_memory, statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--checks", type=int, default=100)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench")
    workers = start_workers(SCRATCH)
    try:
        print(f"engine: {engine.default().engine_info().version}; sandbox image {settings.SANDBOX_IMAGE}; {os.cpu_count()} cores", flush=True)
        baseline = baseline_plain_run(max(5, args.starts // 2))
        report("baseline: docker run (plain)", baseline)
        starts = bench_starts(user, Lab.objects.get(slug="premier-conteneur"), args.starts)
        report("sandbox start (request -> ready)", starts, baseline)
        modes = bench_daemon_modes(user, Lab.objects.get(slug="premier-conteneur"), max(5, args.starts // 2))
        at_once, on_demand = modes[False], modes[True]
        report("start, daemon with the sandbox", at_once[0], extra=f"CPU {at_once[1]:.2f} core-s per start")
        report("start, daemon on demand", on_demand[0], at_once[0], extra=f"CPU {on_demand[1]:.2f} core-s per start")
        report("first docker command, daemon on demand", on_demand[2], at_once[2])
        report("first docker command, daemon running", at_once[2])
        warm_starts, warm_memory = bench_warm_starts(Lab.objects.get(slug="premier-conteneur"), max(3, args.starts // 2))
        report("warm start (request -> ready)", warm_starts, starts)
        print(f"{'warm sandbox idle memory':<34} {warm_memory / 2**20:.1f} MiB (nested daemon started ahead, nothing running)")
        through_celery, in_process, idle_memory, statuses = bench_grading(user, Lab.objects.get(slug="tirer-une-version"), args.checks)
        report("baseline: snapshot + check", in_process)
        report("grading (Check -> verdict stored)", through_celery, in_process)
        print(f"{'idle sandbox memory':<34} {idle_memory / 2**20:.1f} MiB (nested daemon + one nginx container)")
        print(f"verdicts: {', '.join(sorted(statuses))}")
    finally:
        stop_workers(workers)
        remove_bench_sandboxes()


if __name__ == "__main__":
    main()
