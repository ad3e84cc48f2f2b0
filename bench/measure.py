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
    sys.path.insert(0, str(BASE))
    import django

    django.setup()
    return scratch


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
