"""What the benchmarks share: a scratch Django set-up, percentiles and one report line."""

import os
import statistics
import sys
import tempfile
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent


def setup_scratch_django(prefix, **env):
    """Point Django at a scratch folder (its own SQLite file, sockets, logs), then set it up.

    Nothing of a platform running beside the benchmark is touched."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    # The engine bin/drydock runs (its socket is under the project's var/, not the scratch folder).
    os.environ.setdefault("DOCKER_HOST", f"unix://{BASE / 'var' / 'run' / 'docker.sock'}")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "drydock.settings",
        "DRYDOCK_VAR_DIR": str(scratch),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"),
        "LOG_LEVEL": "WARNING",
        **env,
    })
    os.environ.pop("DATABASE_URL", None)
    (scratch / "static").mkdir()  # STATIC_ROOT: WhiteNoise warns when it is missing
    sys.path.insert(0, str(BASE))
    import django

    django.setup()
    return scratch


def wait(predicate, timeout, interval=0.01):
    """predicate()'s first true value, asked every `interval` s; the benchmark stops after `timeout` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout} s")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def report(name, seconds, baseline=None, extra=""):
    """Print n, p50, p95 and mean in ms; with a baseline, the ratio of the medians."""
    p50, p95 = percentile(seconds, 50) * 1000, percentile(seconds, 95) * 1000
    line = f"{name:<40} n={len(seconds):<4} p50={p50:8.1f} ms  p95={p95:8.1f} ms  mean={statistics.mean(seconds) * 1000:8.1f} ms"
    if baseline:
        line += f"  ratio p50 vs baseline={p50 / (percentile(baseline, 50) * 1000):.2f}x"
    print(f"{line} {extra}".rstrip(), flush=True)


def drydock_cli():
    """bin/drydock.py as a module (standard library only): its PostgreSQL cluster, its second engine."""
    import importlib.util

    module = sys.modules.get("drydock_cli")
    if module is None:
        spec = importlib.util.spec_from_file_location("drydock_cli", BASE / "bin" / "drydock.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["drydock_cli"] = module  # its dataclasses look their module up by name
        spec.loader.exec_module(module)
    return module


def start_workers(scratch, loglevel="WARNING", host=None, env=None):
    """One Celery worker per queue, as bin/drydock up runs them, logging to the scratch folder.

    `host`: the workers of that Docker host's queues (default: the default host's, with the central queues);
    `env`: what differs in their environment (a second engine's worker_env())."""
    import subprocess
    import time

    from drydock import queues
    from drydock.celery import app

    host = host or queues.DEFAULT_HOST
    if host == queues.DEFAULT_HOST:
        app.control.purge()
    log = open(scratch / f"worker-{host}.log" if host != queues.DEFAULT_HOST else scratch / "worker.log", "wb")
    processes, nodes = [], set()
    for kind in queues.host_worker_kinds(host):
        command = queues.worker_command(BASE / ".venv" / "bin" / "celery", kind, host=host)
        command[command.index("--loglevel") + 1] = loglevel
        nodes.add(command[command.index("-n") + 1].split("@")[0])
        processes.append(subprocess.Popen(
            [*command, "--without-gossip", "--without-mingle"],
            cwd=BASE, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
    deadline = time.monotonic() + 60
    while not nodes <= {name.split("@")[0] for reply in app.control.ping(timeout=0.5) or [] for name in reply}:
        if time.monotonic() > deadline:
            raise SystemExit(f"the Celery workers of host {host} did not answer within 60 s (see {log.name})")
    return processes


def stop_workers(processes):
    import signal

    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def remove_bench_sandboxes():
    """Every sandbox container of the benchmark's deployment, whatever state its run ended in."""
    from django.conf import settings

    from grader import engine

    for container in engine.default().labelled_sandboxes(settings.SANDBOX_NAME_PREFIX):
        engine.default().remove_sandbox(container.name, str(settings.SANDBOX_SOCKET_ROOT / container.name))
    # A removal cut short when the workers stopped leaves a folder and its mounted disk with no container.
    engine.default().sweep_folders(settings.SANDBOX_SOCKET_ROOT, deployment=settings.SANDBOX_NAME_PREFIX, keep=set(), older_than=0)
