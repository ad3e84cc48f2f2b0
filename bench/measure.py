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
        command = queues.worker_command(BASE / ".venv" / "bin" / "celery", kind, {**os.environ, **(env or {})}, host=host)
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


# --- Where the machine's CPU went ---------------------------------------------------------------------

HOST_ENGINE = {"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "docker-proxy"}


def _busy_seconds():
    """The machine's CPU seconds so far, all cores, idle and I/O wait left out (/proc/stat)."""
    fields = [int(value) for value in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _cpu_cgroup(text):
    """The cgroup that accounts a process's CPU, from its /proc/<pid>/cgroup: cgroup v1's cpuacct hierarchy, or v2's."""
    unified = ""
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            return ("cpuacct", path)
        if controllers == "":
            unified = path
    return ("", unified)


def _cgroup_usage_seconds(cgroup):
    hierarchy, path = cgroup
    try:
        if hierarchy:
            return int(open(f"/sys/fs/cgroup/{hierarchy}{path}/cpuacct.usage").read()) / 1e9
        for line in open(f"/sys/fs/cgroup{path}/cpu.stat"):
            key, value = line.split()
            if key == "usage_usec":
                return int(value) / 1e6
    except OSError:
        pass
    return 0.0


def cpu_by_part(container_prefix):
    """CPU seconds each part of the machine has used so far: {part: seconds}.

    A sandbox container's part is its cgroup's (whatever ran in it, gone or not: its init, its nested daemon, the
    learner's containers); every other process's, its own and its reaped children's (runc under the engine's
    shims, the nsenter, ip and bridge commands under the workers), sorted by what it is."""
    tick = os.sysconf("SC_CLK_TCK")
    parts = {"sandboxes": 0.0, "host engine (dockerd, containerd, shims)": 0.0, "Celery workers": 0.0, "web (uvicorn)": 0.0,
             "Redis": 0.0, "this benchmark": 0.0, "machine, all of it": _busy_seconds()}
    sandbox_cgroups, processes = set(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            hierarchy, cgroup = _cpu_cgroup(open(f"/proc/{entry}/cgroup").read())
            command = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        seconds = sum(int(value) for value in fields[11:15]) / tick  # utime, stime, cutime, cstime
        if container_prefix in _container_name_of(cgroup):
            sandbox_cgroups.add((hierarchy, _container_cgroup(cgroup)))
            continue
        processes[int(entry)] = (int(fields[1]), name, command, seconds)
    for pid, (parent, name, command, seconds) in processes.items():
        # uvicorn's worker processes are multiprocessing's spawned children: theirs is their parent's command line.
        lineage = command + " " + processes.get(parent, (0, "", "", 0))[2]
        if pid == os.getpid():
            parts["this benchmark"] += seconds
        elif name in HOST_ENGINE:
            parts["host engine (dockerd, containerd, shims)"] += seconds
        elif "celery" in command and " worker" in command:
            parts["Celery workers"] += seconds
        elif "uvicorn" in lineage:
            parts["web (uvicorn)"] += seconds
        elif name == "redis-server":
            parts["Redis"] += seconds
    parts["sandboxes"] = sum(_cgroup_usage_seconds(cgroup) for cgroup in sandbox_cgroups)
    return parts


_CONTAINER_NAMES = {}


def _container_cgroup(cgroup):
    """The container's own cgroup of a path inside it (/docker/<id>/init/... -> /docker/<id>)."""
    parts = cgroup.split("/")
    for index, part in enumerate(parts):
        if len(part.removeprefix("docker-").removesuffix(".scope")) == 64:
            return "/".join(parts[:index + 1])
    return cgroup


def _container_name_of(cgroup):
    """The name of the container whose cgroup holds `cgroup` ("" for a process of no container)."""
    container = _container_cgroup(cgroup)
    identifier = container.rpartition("/")[2].removeprefix("docker-").removesuffix(".scope")
    if len(identifier) != 64:
        return ""
    if identifier not in _CONTAINER_NAMES:
        import subprocess

        found = subprocess.run(["docker", "inspect", "--format", "{{.Name}}", identifier], capture_output=True, text=True)
        _CONTAINER_NAMES[identifier] = found.stdout.strip().lstrip("/")
    return _CONTAINER_NAMES[identifier]


def print_cpu_by_part(title, before, after):
    """One line per part: the core-seconds it used between two cpu_by_part() samples, and its share of the machine's."""
    machine = max(1e-9, after["machine, all of it"] - before["machine, all of it"])
    counted = 0.0
    print(f"  {title}: where the machine's {machine:.1f} core-s went", flush=True)
    for part in after:
        if part == "machine, all of it":
            continue
        used = after[part] - before.get(part, 0.0)
        counted += used
        print(f"    {part:<42} {used:7.1f} core-s  {used / machine * 100:5.1f} %")
    print(f"    {'the rest (the kernel, processes gone, others)':<42} {machine - counted:7.1f} core-s  {(machine - counted) / machine * 100:5.1f} %", flush=True)
