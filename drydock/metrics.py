"""/metrics: the platform's state in Prometheus's text format, for a school's monitoring.

Read from the state of record at each scrape, so one web process answers for
every worker: sandboxes live by status and the learners waiting for room (the
Sandbox rows), the messages waiting in each Celery queue (Redis), and how long
Checks took from click to verdict (the Submission rows; cumulative, as a
Prometheus histogram must be). Only for the operator's monitoring: with
METRICS_TOKEN set a scrape sends `Authorization: Bearer <token>`; without it,
only a client on the host's loopback that did not come through a proxy
(no X-Forwarded-For) is answered.
"""

import hmac
import ipaddress
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from drydock import queues
from drydock.cache import redis_client
from labs import hosts
from labs.models import DockerHost, Sandbox, Submission

# Seconds from a Check's click to its stored verdict (README figures: p50 22 ms through Celery;
# a queue behind a class shows up in the upper buckets).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# kombu's Redis transport keeps a queue's messages of priority 0 in a list named after the queue,
# and each other priority step in "<queue>\x06\x16<step>".
PRIORITY_STEPS = (0, 3, 6, 9)


def queue_keys(queue):
    return [queue if step == 0 else f"{queue}\x06\x16{step}" for step in PRIORITY_STEPS]




def queue_lengths(client):
    """Messages waiting in each Celery queue (drydock/queues.py: the central ones and each Docker host's), from Redis."""
    names = list(DockerHost.objects.values_list("name", flat=True)) or [queues.DEFAULT_HOST]
    return {queue: sum(client.llen(key) for key in queue_keys(queue)) for queue in queues.all_queues(names)}


def sandbox_counts():
    counts = dict(Sandbox.objects.filter(status__in=Sandbox.LIVE).values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in Sandbox.LIVE}


def learners_waiting():
    return Sandbox.objects.filter(status=Sandbox.Status.WAITING, owner__isnull=False).values("owner").distinct().count()


def grading_latency():
    """(cumulative count per bucket bound, total count, sum in seconds) of every graded Check."""
    latency = ExpressionWrapper(F("graded_at") - F("created_at"), output_field=DurationField())
    # A regression (a must-hold pass undone by the watcher) is no Check: nobody waited for it.
    graded = Submission.objects.filter(status__in=Submission.DONE, graded_at__isnull=False).exclude(status=Submission.Status.REGRESSED).annotate(latency=latency)
    aggregates = {f"le_{i}": Count("pk", filter=Q(latency__lte=timedelta(seconds=bound))) for i, bound in enumerate(LATENCY_BUCKETS)}
    found = graded.aggregate(total=Count("pk"), seconds=Sum("latency"), **aggregates)
    buckets = [(bound, found[f"le_{i}"]) for i, bound in enumerate(LATENCY_BUCKETS)]
    total_seconds = found["seconds"].total_seconds() if found["seconds"] is not None else 0.0
    return buckets, found["total"], total_seconds


class PlatformCollector:
    """Every metric, read when Prometheus scrapes."""

    def __init__(self, redis_client):
        self.redis_client = redis_client

    def collect(self):
        sandboxes = GaugeMetricFamily("drydock_sandboxes", "Sandboxes live now, by status (waiting: for room on the host).", labels=["status"])
        for status, count in sandbox_counts().items():
            sandboxes.add_metric([str(status)], count)
        yield sandboxes
        yield GaugeMetricFamily("drydock_learners_waiting", "Learners whose sandbox waits for room on the host.", value=learners_waiting())

        states = GaugeMetricFamily("drydock_docker_host_up", "1 for each Docker host in its state (active, draining, down).", labels=["host", "state"])
        on_hosts = GaugeMetricFamily("drydock_docker_host_sandboxes", "Sandboxes on each Docker host now (starting or ready).", labels=["host"])
        for host, live in hosts.summary():
            states.add_metric([host.name, host.state], 1)
            on_hosts.add_metric([host.name], live)
        yield states
        yield on_hosts

        up = GaugeMetricFamily("drydock_redis_up", "1 when Redis answered this scrape (queue lengths need it).")
        lengths = GaugeMetricFamily("drydock_celery_queue_length", "Tasks waiting in each Celery queue.", labels=["queue"])
        try:
            found = queue_lengths(self.redis_client)
        except redis.RedisError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for queue, length in found.items():
                lengths.add_metric([queue], length)
        yield up
        yield lengths

        buckets, count, total = grading_latency()
        histogram = HistogramMetricFamily(
            "drydock_grading_latency_seconds", "Seconds from a Check's click to its verdict stored (queue wait included).",
        )
        histogram.add_metric([], [(str(bound), n) for bound, n in buckets] + [("+Inf", count)], sum_value=total)
        yield histogram


def allowed(request):
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@require_GET
def metrics(request):
    if not allowed(request):
        return HttpResponse(
            "Forbidden: /metrics answers the host's loopback, or a scrape with the METRICS_TOKEN bearer token.\n",
            status=403, content_type="text/plain; charset=utf-8",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(redis_client(settings.REDIS_URL)))
    body = generate_latest(registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
