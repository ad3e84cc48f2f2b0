"""/healthz: does each part the platform needs answer right now?

Anyone may ask (a load balancer, compose's health check, a status page): each part's state and time. What
each part said (the engine's address and TLS folder in its errors, host, queue and worker names, the
isolation problems found) is for the operators: staff signed in, or the monitoring /metrics admits
(METRICS_TOKEN, else the host's own loopback not through the proxy). A part that fails is logged with its
words, so the operator reads them in the web's log too.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django import db
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

from drydock import metrics, queues, sandbox_mode
from drydock.cache import redis_client
from drydock.celery import app as celery_app
from grader import engine
from labs import hosts
from labs.models import DEFAULT_HOST_NAME, DockerHost

log = logging.getLogger(__name__)


# The slow parts' answers are kept (in this process's cache) with when they were asked. One younger than its
# period is the answer. One older, up to STALE_PERIODS periods, is the answer too while a thread of this process
# asks again: the request that found it does not wait (polled every 200 ms at 400 sandboxes, the requests that
# asked were one in thirteen, p95 106 ms). None, or older still (nothing asked for a while): the request asks.
STALE_PERIODS = 3
_refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")


def recent(key, period, ask):
    """ask()'s answer of at most `period` seconds ago (or, while it is asked again, of STALE_PERIODS periods);
    a RuntimeError it raised is kept as its answer and raised again."""
    kept = cache.get(key)
    age = time.time() - kept[0] if kept is not None else None
    if age is None or age > period * STALE_PERIODS:
        kept = _ask_and_keep(key, period, ask)
    elif age > period and cache.add(f"{key}:asking", True, period * STALE_PERIODS):
        _refresher.submit(_ask_again, key, period, ask)
    _asked_at, ok, answer = kept
    if not ok:
        raise RuntimeError(answer)
    return answer


def _ask_and_keep(key, period, ask):
    try:
        kept = (time.time(), True, ask())
    except RuntimeError as exc:
        kept = (time.time(), False, str(exc))
    cache.set(key, kept, period * STALE_PERIODS)
    return kept


def _ask_again(key, period, ask):
    try:
        _ask_and_keep(key, period, ask)
    except Exception:  # noqa: BLE001 - the next request past STALE_PERIODS asks itself, and says what failed
        log.exception("/healthz: asking again for %s failed", key)
    finally:
        cache.delete(f"{key}:asking")
        db.connections.close_all()  # this thread's own, if the answer read the database


def _timed(probe):
    start = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # a health probe reports every failure, whatever its kind
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis():
    redis_client(settings.REDIS_URL).ping()
    return "PONG"


def expected_queues():
    """The central queues and every queue of each Docker host that is not down (a down host's wait for it)."""
    names = [name for name in DockerHost.objects.exclude(state=DockerHost.State.DOWN).values_list("name", flat=True)]
    return queues.all_queues(names or [queues.DEFAULT_HOST])


def _workers():
    """Which worker consumes each queue; a queue nobody consumes is a failure (its work would wait forever)."""
    replies = celery_app.control.inspect(timeout=1.0).active_queues()
    if not replies:
        raise RuntimeError("no Celery worker answered")
    consumers = {queue: sorted(node for node, consumed in replies.items() if any(q.get("name") == queue for q in consumed or ()))
                 for queue in expected_queues()}
    idle = [queue for queue, nodes in consumers.items() if not nodes]
    if idle:
        raise RuntimeError(f"no Celery worker consumes the queue(s) {', '.join(idle)} (workers: {', '.join(sorted(replies))})")
    return "; ".join(f"{queue}: {', '.join(nodes)}" for queue, nodes in consumers.items())


def _workers_recently():
    """_workers, asked at most every 10 s: a broadcast waits its whole timeout for replies, and /healthz
    is polled by load balancers and benchmarks while a class works."""
    return recent(f"drydock:workers:{celery_app.main}", 10, _workers)


def _docker():
    # The engine's /info walks every container: 0.6 s at 400 sandboxes on a loaded host. Its answer of the
    # last few seconds says as well that the engine answers.
    return recent("drydock:engine-info", 5, _engine_version)


def _engine_version():
    try:
        info = engine.default().engine_info()
    except engine.EngineUnavailable as exc:
        raise RuntimeError(str(exc)) from None
    return f"Docker {info.version} (API {info.api_version})"


def _this_machine():
    """(problems, words) of the isolation of the default host's engine and bridge, checked from here."""
    # Each check runs a dozen commands as root: an unauthenticated page must not run them on every request.
    found = recent("drydock:isolation-problems", 15, sandbox_mode.problems)
    if found:
        return found, ""
    if settings.SANDBOX_WITHOUT_USER_NAMESPACES and not engine.default().engine_info().user_namespaces:
        return [], "no user namespaces (SANDBOX_WITHOUT_USER_NAMESPACES): a learner is root on this host; network isolated"
    return [], "user namespaces; network isolated (ports of the sandboxes' bridge isolated, the host takes nothing from it)"


# A host whose worker has not reported its isolation for three of its periods: its worker is stuck or gone, and
# what it said last may no longer hold.
ISOLATION_REPORT_STALE_SECONDS = 3 * hosts.ISOLATION_EVERY_SECONDS


def _isolation():
    """Each host's isolation but a down one's: the default host's checked here when its engine is on this machine,
    every other's as its worker last checked it on its own machine (with a heartbeat). A failure names each host
    with a problem, or with no report yet."""
    hosts.active_hosts()  # a fresh install's default host, made on first use
    now, problems, fine = timezone.now(), [], []
    for host in DockerHost.objects.exclude(state=DockerHost.State.DOWN):
        if host.name == DEFAULT_HOST_NAME and host.is_on_this_machine:
            found, words = _this_machine()
        elif host.isolation_reported_at is None:
            found, words = ["no isolation report yet (its worker sends one with its first heartbeat)"], ""
        else:
            age = (now - host.isolation_reported_at).total_seconds()
            found = list(host.isolation_problems or ())
            if age > ISOLATION_REPORT_STALE_SECONDS:
                found.append(f"its last isolation report is {age:.0f} s old (its worker sends one every "
                             f"{hosts.ISOLATION_EVERY_SECONDS} s): nothing says it is still isolated")
            words = f"isolated (checked by its worker {age:.0f} s ago)"
        if found:
            problems.append(f"{host.name}: {'; '.join(found)}")
        else:
            fine.append(f"{host.name}: {words}")
    if problems:
        raise RuntimeError(" | ".join(problems + fine))
    return " | ".join(fine)


def _hosts():
    """Each Docker host's state and live sandboxes; a failure when none takes new sandboxes."""
    hosts.active_hosts()  # a fresh install's default host, made on first use
    found = hosts.summary()
    if not any(host.state == DockerHost.State.ACTIVE for host, _live in found):
        raise RuntimeError("no Docker host is active: " + ("; ".join(f"{host.name} {host.state}" for host, _live in found) or "none"))
    return "; ".join(f"{host.name}: {host.state}, {live}/{host.ceiling} sandboxes" for host, live in found)


def healthz(request):
    checks = {"database": _timed(_database), "redis": _timed(_redis), "docker": _timed(_docker)}
    checks["hosts"] = _timed(_hosts) if checks["database"]["ok"] else {"ok": False, "detail": "the database does not answer", "ms": 0}
    checks["isolation"] = _timed(_isolation) if checks["docker"]["ok"] else {"ok": False, "detail": "the Docker engine does not answer", "ms": 0}
    if checks["redis"]["ok"]:
        checks["workers"] = _timed(_workers_recently)
    else:
        checks["workers"] = {"ok": False, "detail": "Redis is down, so no worker can be reached", "ms": 0}
    ok = all(check["ok"] for check in checks.values())
    for name, check in checks.items():
        if not check["ok"]:
            log.warning("/healthz: %s fails: %s", name, check["detail"])
    if not shows_details(request):
        checks = {name: {"ok": check["ok"], "ms": check["ms"]} for name, check in checks.items()}
    return JsonResponse({"ok": ok, "checks": checks}, status=200 if ok else 503)


def shows_details(request):
    """Whether the request may read what each part said: staff signed in, or the monitoring /metrics answers."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff) or metrics.allowed(request)
