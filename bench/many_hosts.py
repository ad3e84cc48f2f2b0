#!/usr/bin/env python3
"""Many Docker hosts: where new sandboxes go, and how long a learner waits when their host goes down.

    .venv/bin/python bench/many_hosts.py [--learners 8] [--same-engine]

Two Docker hosts on a scratch database, each with its own queues and real Celery
workers: "local" on DOCKER_HOST and "b" on a second Docker engine this bench
starts on this machine and stops at the end (bin/drydock.py start_second_engine:
its own dockerd, bridges, subnets and course registry; ~20 s, not counted).
--same-engine puts b on local's engine instead (the routing, workers, heartbeats
and failover are real, the second daemon is not). Prints:
  placement: sandboxes per host = a / b    (--learners sandboxes requested at once, every host equal)
  failover (host down -> learner restarted elsewhere): X s
counted from b's workers killed (SIGKILL, as a crash) to the learner's new sandbox
ready on local: HOST_HEARTBEAT_TIMEOUT_SECONDS of silence (5 here), the check that
marks b down (asked every second here, as beat does every HOST_HEARTBEAT_EVERY_SECONDS),
and the learner's Start, at once, through the queues.
"""

import argparse
import os
import signal
import time

from measure import BASE, drydock_cli, remove_bench_sandboxes, setup_scratch_django, start_workers, stop_workers, wait  # noqa: E402

TIMEOUT_SECONDS = 5
SCRATCH = setup_scratch_django(
    "drydock-bench-hosts-",
    SANDBOX_NAME_PREFIX="drydock-bench-hosts",
    SANDBOX_LABELS="drydock.test=1",
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
    SANDBOX_POOL_BLANK="0",
    HOST_HEARTBEAT_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
)

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from drydock import queues  # noqa: E402
from grader import engine  # noqa: E402
from labs import hosts, sandboxes, tasks  # noqa: E402
from labs.models import DockerHost, Lab, Sandbox  # noqa: E402

DONE = [Sandbox.Status.READY, Sandbox.Status.FAILED]


def ready(sandbox, timeout=120):
    row = wait(lambda: Sandbox.objects.select_related("host").filter(pk=sandbox.pk, status__in=DONE).first(), timeout)
    if row.status != Sandbox.Status.READY:
        raise SystemExit(f"sandbox {row.pk} failed on {row.host.name}: {row.failure}")
    return row


def heartbeats_of(*names):
    before = dict(DockerHost.objects.values_list("name", "last_heartbeat"))
    tasks.check_hosts()
    wait(lambda: all(DockerHost.objects.get(name=n).last_heartbeat not in (None, before.get(n)) for n in names), 30, 0.1)


def kill(processes):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def remove_sandboxes_of(host, socket_root):
    """Every sandbox of the bench on `host`, through its own engine (its URL and TLS folder, as its workers speak to
    it), with their folders and disks under its socket root: nothing of them is left when the bench ends."""
    host = DockerHost.objects.get(pk=host.pk)
    spoken = hosts.engine_for(host)
    try:
        for container in spoken.labelled_sandboxes(settings.SANDBOX_NAME_PREFIX):
            spoken.remove_sandbox(container.name, f"{socket_root}/{container.name}")
        # A removal cut short when its workers were killed leaves a folder and its mounted disk with no container.
        spoken.sweep_folders(socket_root, deployment=settings.SANDBOX_NAME_PREFIX, keep=set(), older_than=0)
    except engine.EngineUnavailable as exc:
        print(f"the sandboxes of {host.name} could not be removed through its engine ({exc}): its engine's stop removes them")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--same-engine", action="store_true", help="host b on local's engine (no second dockerd)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
    lab = Lab.objects.get(slug="premier-conteneur")
    local = hosts.default_host()
    cli, second, socket_root = drydock_cli(), None, settings.SANDBOX_SOCKET_ROOT
    if args.same_engine:
        b = DockerHost.objects.create(name="b", engine_url=settings.DOCKER_HOST)
    else:
        # Its data root is under the scratch folder (DRYDOCK_VAR_DIR): the remapped root must be able to pass through.
        SCRATCH.chmod(0o711)
        second = cli.start_second_engine(cli.second_engine_name("bench-many-hosts"))
        socket_root = second.socket_root
        b = DockerHost.objects.create(
            name="b", engine_url=second.url, network=second.network, bridge=second.sandbox_bridge, registry_mirror=second.registry_mirror,
        )
    local_workers = start_workers(SCRATCH)
    b_workers = start_workers(SCRATCH, host="b", env=second.worker_env() if second else None)
    try:
        same = "the same engine" if b.engine == local.engine else b.engine
        print(f"hosts: local on {local.engine}, b on {same}; {os.cpu_count()} cores; {args.learners} learners", flush=True)
        learners = [User.objects.create_user(f"bench{n}") for n in range(args.learners)]
        started = [sandboxes.request_sandbox(user=user, lab=lab) for user in learners]
        placed = [ready(sandbox) for sandbox in started]
        per_host = {name: sum(1 for row in placed if row.host.name == name) for name in ("local", "b")}
        print(f"placement: sandboxes per host = {per_host['local']} / {per_host['b']}", flush=True)

        heartbeats_of("local", "b")
        victim = next(row for row in placed if row.host.name == "b")
        down_at = time.monotonic()
        kill(b_workers)

        def failed():
            tasks.check_hosts()  # what beat sends every HOST_HEARTBEAT_EVERY_SECONDS
            return Sandbox.objects.filter(pk=victim.pk, status=Sandbox.Status.FAILED).exists()

        wait(failed, TIMEOUT_SECONDS + 60, 1.0)
        failed_at = time.monotonic()
        again = ready(sandboxes.request_sandbox(user=victim.owner, lab=lab))
        back_at = time.monotonic()
        assert again.host.name == "local", again.host.name
        print(
            f"failover (host down -> learner restarted elsewhere): {back_at - down_at:.1f} s "
            f"(b marked down and the sandbox failed after {failed_at - down_at:.1f} s with HOST_HEARTBEAT_TIMEOUT_SECONDS={TIMEOUT_SECONDS}; "
            f"new sandbox on local ready {back_at - failed_at:.2f} s after the Start)",
            flush=True,
        )
    finally:
        stop_workers(local_workers)
        kill(b_workers)
        remove_bench_sandboxes()
        if b.engine != local.engine:
            remove_sandboxes_of(b, socket_root)
        client = redis.Redis.from_url(settings.REDIS_URL)
        for kind in queues.HOST_KINDS:
            client.delete(queues.host_queue(kind, "b"))
        client.close()
        if second:
            left = cli.stop_second_engine(second.name)
            if left:
                print(f"the second engine left: {left}")


if __name__ == "__main__":
    main()
