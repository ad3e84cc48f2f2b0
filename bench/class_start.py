#!/usr/bin/env python3
"""A class starts together: 30 learners click Start within 10 s, then each does a task and presses Check.

    .venv/bin/python bench/class_start.py [--learners 30] [--within 10]

Through the platform's own code: each learner's browser (a keep-alive HTTP
connection, its session, the lab page's CSRF token) opens the lab page, then
clicks Start and Check on the real web server (uvicorn, two processes, as
bin/drydock up runs it), followed as the lab page follows them (its live
channel open, each asked again when the channel says it changed, or after
2 s; in the baseline run, polled every 300 ms and with the page's back-off,
as before that channel); the
Celery workers of each queue, the real engine and the hardened sandbox. The
learners' threads (their HTTP and their `docker` command, an exec in the
sandbox as the terminal's) are this process's, not the web's. A time is
the row's (its ready_at, its graded_at) less the click's. Runs seven times, on a scratch database and sandbox names of its
own: five times without a warm pool (every sandbox cold), first with each sandbox's
daemon started with it (SANDBOX_DAEMON_ON_DEMAND=0, the same-run baseline), then
as shipped, the daemon started by the learner's first command, with the pages
polling (the baseline of the live channel), then with each sandbox's network
made by Docker's engine (the baseline of grader/sandbox_network.py), then with the sandboxes at the engine's CPU
weight and two starts at a time (SANDBOX_CPU_GROUP=none, CELERY_PROVISION_CONCURRENCY=2: the baseline of
grader/cpu_priority.py), then as shipped; then twice with a pool of blank
sandboxes sized for the class, filled before the clicks and kept at that size by
the workers as a deployment's would be: first refilled after every claim
(SANDBOX_POOL_REFILL_QUIET_SECONDS=0, the same-run baseline), then as shipped,
once the claims pause. Each learner types its task as soon as its sandbox is
ready (the worst case: a real class reads the instructions first). Prints:

  class start (click -> ready), cold, daemon with the sandbox: p50, p95
  class start (click -> ready), cold, pages polling: p50, p95
  class start (click -> ready), cold, network by the engine: p50, p95 (Docker's
                                         endpoint for each sandbox, SANDBOX_NETWORK_BY_ENGINE=1)
  class start (click -> ready), cold, sandboxes at the engine's weight: p50, p95
  class start (click -> ready), cold:    p50, p95 (ratio against the daemon with the sandbox,
                                         against the network by the engine, against the engine's weight)
  class start (click -> ready), warm, refill at every claim: p50, p95
  class start (click -> ready), warm:    p50, p95 (ratio against the line above)
  class start (click -> ready) without a pool / with a pool: p50 = X ms p95 = Y ms
  grading during provisioning:           p95 of Check -> verdict while sandboxes
                                         (learners' or the pool's) were being made
and, for each class, where the machine's CPU went from the first click to the
last verdict: the sandboxes' cgroups, the host engine, the workers, the web.
Targets on this 2-core machine: warm p95 <= 500 ms, cold p95 <= 5 s,
grading p95 <= 300 ms while sandboxes are provisioned.
"""

import argparse
import http.client
import json
import os
import re
import threading
import time

from websockets.sync.client import connect as websocket_connect

from exam_burst import forget_sessions, free_port, process_tree_cpu, seed, start_server, stop_server
from measure import BASE, cpu_by_part, percentile, print_cpu_by_part, remove_bench_sandboxes, report, setup_scratch_django, start_workers, stop_workers, wait

SCRATCH = setup_scratch_django(
    "drydock-bench-class-",
    SANDBOX_NAME_PREFIX="drydock-bench-class-sandbox",
    SANDBOX_LABELS="drydock.test=1",
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
    SANDBOX_POOL_BLANK="0",
    ALLOWED_HOSTS="127.0.0.1",
)

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from grader import engine  # noqa: E402
from labs import sandboxes  # noqa: E402
from labs.models import Lab, Sandbox, Submission  # noqa: E402

LAB = "premier-conteneur"
# How often the lab page asks how its sandbox is doing (static/js/lab.js): with its live channel open, and without.
PAGE_ASKS_AGAIN_SECONDS = 2.0
PAGE_POLL_SECONDS = 0.3
TASK = "lancer-bonjour"
TASK_COMMAND = "docker run --name bonjour busybox:1.35 echo Bonjour"


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
WEB_PROCESSES = 2  # WEB_CONCURRENCY's default on this 2-core machine: one per core


class Browser:
    """One learner's browser on the wire: a keep-alive connection to the web server, its cookies, the page's CSRF token."""

    def __init__(self, port, session_key):
        self.port, self.cookies, self.csrf = port, {"sessionid": session_key}, ""
        self.requests = 0
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def open_page(self, path):
        """The page's HTML; the CSRF token its forms (and lab.js's requests) send is kept."""
        status, body = self.request("GET", path, accept="text/html")
        found = CSRF_INPUT.search(body)
        if status != 200 or not found:
            raise RuntimeError(f"{path}: {status}, no CSRF token in the page")
        self.csrf = found.group(1)
        return body

    def json(self, method, path, expected=(200,)):
        status, body = self.request(method, path)
        if status not in expected:
            raise RuntimeError(f"{method} {path}: {status} {body[:200]}")
        return json.loads(body)

    def request(self, method, path, accept="application/json"):
        headers = {"Accept": accept, "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        if method == "POST":
            headers.update({"X-CSRFToken": self.csrf, "Origin": f"http://127.0.0.1:{self.port}", "Content-Length": "0",
                            "Content-Type": "application/x-www-form-urlencoded"})
        self.requests += 1
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, headers=headers)
                response = self.connection.getresponse()
                body = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed while idle: a browser sends again on a new one.
                self.connection.close()
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie, _, _ = value.partition(";")
                key, _, val = cookie.partition("=")
                self.cookies[key.strip()] = val.strip()
        return response.status, body

    def close(self):
        self.connection.close()


class LiveChannel:
    """The lab page's live channel (labs/live_consumer.py), read by a thread of its own: how many times it said
    that something changed, and what."""

    def __init__(self, port, cookies, lab):
        self.socket = websocket_connect(
            f"ws://127.0.0.1:{port}/ws/tp/{lab.pk}/direct/", origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}, open_timeout=30,
        )
        self.told, self.news = [], threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for frame in self.socket:
                message = json.loads(frame)
                if message.get("type") == "changed":
                    with self.news:
                        self.told.append(message)
                        self.news.notify_all()
        except Exception:  # closed with the page
            return

    def mark(self):
        with self.news:
            return len(self.told)

    def wait_after(self, mark, what, seconds):
        """Until the channel says `what` changed after `mark` (what mark() gave), or `seconds` pass."""
        with self.news:
            self.news.wait_for(lambda: any(m["what"] == what for m in self.told[mark:]), seconds)

    def close(self):
        self.socket.close()


def follow(ask, done, live, what):
    """As static/js/lab.js follows a thing: ask, then again when the live channel says it changed (or after
    PAGE_ASKS_AGAIN_SECONDS); with no live channel (--poll), every PAGE_POLL_SECONDS."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        mark = live.mark() if live else 0
        state = ask()
        if done(state):
            return state
        if live:
            live.wait_after(mark, what, PAGE_ASKS_AGAIN_SECONDS)
        else:
            time.sleep(PAGE_POLL_SECONDS)
    raise RuntimeError(f"the {what} did not change within 300 s")


class Learner(threading.Thread):
    """Opens the lab page, clicks Start at its moment, waits for its sandbox, does the task, presses Check."""

    def __init__(self, user, session_key, lab, click_at, provisioning, port, *, live):
        super().__init__(daemon=True)
        self.user, self.session_key, self.lab, self.click_at, self.provisioning = user, session_key, lab, click_at, provisioning
        self.port, self.live = port, live
        self.start_seconds = self.check_seconds = None
        self.check_during_provisioning = False
        self.error = None

    def run(self):
        try:
            self._run()
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def _run(self):
        from django.db import connection

        browser = self.browser = Browser(self.port, self.session_key)
        browser.open_page(self.lab.get_absolute_url())
        live = LiveChannel(self.port, browser.cookies, self.lab) if self.live else None
        browser.requests = 0  # the class's requests from the click on
        time.sleep(max(0.0, self.click_at - time.monotonic()))
        clicked, clicked_at = time.monotonic(), timezone.now()
        state = browser.json("POST", reverse("labs:sandbox_start", args=[self.lab.course.slug, self.lab.slug]), expected=(202,))
        pk = state["id"]
        if state["status"] == "ready":  # a warm sandbox, claimed by the click itself
            self.start_seconds = time.monotonic() - clicked
        else:
            status_url = reverse("labs:sandbox_status", args=[pk])

            def ready(state):
                if state["status"] == "failed":
                    raise RuntimeError(f"sandbox {pk} failed: {state['failure']}")
                return state["status"] == "ready"

            # As the lab page follows it (static/js/lab.js); the moment it was ready is its row's.
            follow(lambda: browser.json("GET", status_url), ready, live, "sandbox")
            self.start_seconds = (Sandbox.objects.get(pk=pk).ready_at - clicked_at).total_seconds()
        sandbox = Sandbox.objects.get(pk=pk)
        result = engine.default().exec_in_sandbox(sandbox.container_name, TASK_COMMAND)
        if result.exit_code:
            raise RuntimeError(f"the task failed in sandbox {pk}: {result.output[-300:]}")
        checked_at = timezone.now()
        self.check_during_provisioning = self.provisioning() > 0
        submission_url = browser.json("POST", reverse("labs:task_check", args=[self.lab.course.slug, self.lab.slug, TASK]), expected=(202,))["url"]
        verdict = self._follow_check(browser, submission_url, live)
        graded_at = Submission.objects.filter(user=self.user).order_by("-created_at").values_list("graded_at", flat=True).first()
        self.check_seconds = (graded_at - checked_at).total_seconds()
        if not verdict["passed"]:
            raise RuntimeError(f"the check failed in sandbox {pk}: {verdict['message']}")
        if live:
            live.close()
        browser.close()
        connection.close()

    @staticmethod
    def _follow_check(browser, url, live):
        """The verdict, asked as the lab page asks (static/js/lab.js): when the live channel says a Check's verdict
        changed, or 2 s later; with no live channel, after 100 ms, then 1.5 times later each time, at most 1 s."""
        delay, deadline = 0.1, time.monotonic() + 60
        while time.monotonic() < deadline:
            mark = live.mark() if live else 0
            if live:
                live.wait_after(mark, "check", PAGE_ASKS_AGAIN_SECONDS)
            else:
                time.sleep(delay)
            state = browser.json("GET", url)
            if state["done"]:
                return state
            delay = min(delay * 1.5, 1.0)
        raise SystemExit("no verdict within 60 s")


def provisioning_now():
    return Sandbox.objects.filter(status__in=[Sandbox.Status.WAITING, Sandbox.Status.REQUESTED, Sandbox.Status.PROVISIONING]).count()


def one_class(lab, learners, within, run, *, env=None, live=True):
    """The class on a web server of its own, started with `env` (what differs, as for its workers)."""
    users = seed(learners, f"{run}-")
    port = free_port()
    web = start_server(SCRATCH, port, WEB_PROCESSES, "drydock.asgi:application", env=env)
    try:
        start = time.monotonic() + 3  # time for every browser to open the lab page first
        threads = [
            Learner(User.objects.get(username=username), key, lab, start + within * n / max(1, learners - 1), provisioning_now, port, live=live)
            for n, (username, key) in enumerate(users)
        ]
        cpu_before, parts_before = process_tree_cpu(web.pid), cpu_by_part(os.environ["SANDBOX_NAME_PREFIX"])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        cpu, parts_after = process_tree_cpu(web.pid) - cpu_before, cpu_by_part(os.environ["SANDBOX_NAME_PREFIX"])
        requests = sum(thread.browser.requests for thread in threads if hasattr(thread, "browser"))
        print(f"  {run}: the web's processes used {cpu:.1f} core-s for the class's {requests} requests "
              f"({cpu / max(1, requests) * 1000:.1f} ms each; {'live channel open' if live else 'polling'})", flush=True)
        print_cpu_by_part(run, parts_before, parts_after)
    finally:
        stop_server(web)
        forget_sessions()
    errors = [t.error for t in threads if t.error]
    if errors:
        raise SystemExit(f"{len(errors)} learner(s) failed; first: {errors[0]!r}")
    for sandbox in Sandbox.objects.filter(status__in=Sandbox.LIVE):
        sandboxes.stop(sandbox)
    return threads


def fill_pool(size):
    settings.SANDBOX_POOL_BLANK, settings.SANDBOX_POOL_REFILL_QUIET_SECONDS = size, 0
    made = sandboxes.refill_pools()
    wait(lambda: Sandbox.objects.filter(pk__in=made, status=Sandbox.Status.READY).count() == len(made), 60 + 5 * size, 0.1)
    settings.SANDBOX_POOL_BLANK = 0
    return made


def warm_class(lab, learners, within, run, *, quiet_seconds):
    """A class on a full pool that its workers refill as a deployment's do, `quiet_seconds` after the claims pause."""
    env = {"SANDBOX_POOL_BLANK": str(learners), "SANDBOX_POOL_REFILL_QUIET_SECONDS": str(quiet_seconds)}
    workers = start_workers(SCRATCH, env=env)
    try:
        fill_pool(learners)
        return one_class(lab, learners, within, run, env=env)
    finally:
        stop_workers(workers)
        for sandbox in Sandbox.objects.filter(status__in=Sandbox.LIVE):  # the refill's, made or half made
            sandboxes.stop(sandbox)
        # What was stopped is removed by the housekeeping worker: one that only removes.
        cleaners = start_workers(SCRATCH)
        try:
            wait_until_removed()
        finally:
            stop_workers(cleaners)


def cold_class(lab, learners, within, run, *, daemon_on_demand, live=True, network_by_engine=False, cpu_group=True):
    """A class with no pool, on workers that start each sandbox's daemon on demand, or with the sandbox (the baseline);
    its pages follow their sandboxes on the live channel, or poll as they did before it (the baseline); each sandbox's
    network made by the platform, or by Docker's engine (the baseline); the sandboxes in their CPU group, lighter than
    the platform (grader/cpu_priority.py), or at the engine's weight and with two starts at a time (the baseline)."""
    env = {"SANDBOX_DAEMON_ON_DEMAND": "1" if daemon_on_demand else "0", "SANDBOX_NETWORK_BY_ENGINE": "1" if network_by_engine else "0"}
    if not cpu_group:
        env.update(SANDBOX_CPU_GROUP="none", CELERY_PROVISION_CONCURRENCY="2")
    workers = start_workers(SCRATCH, env=env)
    try:
        return one_class(lab, learners, within, run, env=env, live=live)
    finally:
        try:
            wait_until_removed()
        finally:
            stop_workers(workers)


def wait_until_removed():
    wait(lambda: not engine.default().labelled_sandboxes(os.environ["SANDBOX_NAME_PREFIX"]), 300, 0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--within", type=float, default=10.0, help="seconds over which the clicks are spread")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
    lab = Lab.objects.get(slug=LAB)
    shipped_quiet_seconds = settings.SANDBOX_POOL_REFILL_QUIET_SECONDS
    workers = []
    try:
        print(f"engine: {engine.default().engine_info().version}; {args.learners} learners clicking within {args.within:.0f} s; {os.cpu_count()} cores", flush=True)
        at_once = cold_class(lab, args.learners, args.within, "at-once", daemon_on_demand=False)
        by_engine = cold_class(lab, args.learners, args.within, "cold, network by the engine", daemon_on_demand=True, network_by_engine=True)
        weighed_alike = cold_class(lab, args.learners, args.within, "cold, sandboxes at the engine's weight", daemon_on_demand=True, cpu_group=False)
        polled = cold_class(lab, args.learners, args.within, "cold, polled", daemon_on_demand=True, live=False)
        cold = cold_class(lab, args.learners, args.within, "cold", daemon_on_demand=True)
        eager = warm_class(lab, args.learners, args.within, "eager", quiet_seconds=0)
        warm = warm_class(lab, args.learners, args.within, "warm", quiet_seconds=shipped_quiet_seconds)
        report("class start (click -> ready), cold, daemon with the sandbox", [t.start_seconds for t in at_once])
        report("class start (click -> ready), cold, pages polling", [t.start_seconds for t in polled], [t.start_seconds for t in at_once])
        report("class start (click -> ready), cold, network by the engine", [t.start_seconds for t in by_engine])
        report("class start (click -> ready), cold", [t.start_seconds for t in cold], [t.start_seconds for t in at_once])
        report("class start (click -> ready), cold, against the network by the engine", [t.start_seconds for t in cold], [t.start_seconds for t in by_engine])
        report("class start (click -> ready), cold, sandboxes at the engine's weight", [t.start_seconds for t in weighed_alike])
        report("class start (click -> ready), cold, against the sandboxes at the engine's weight", [t.start_seconds for t in cold],
               [t.start_seconds for t in weighed_alike])
        report("class start (click -> ready), warm, refill at every claim", [t.start_seconds for t in eager])
        report("class start (click -> ready), warm", [t.start_seconds for t in warm], [t.start_seconds for t in eager])
        for name, run in (("without a pool", cold), ("with a pool", warm)):
            times = [t.start_seconds for t in run]
            print(f"class start (click -> ready) {name}: p50 = {percentile(times, 50) * 1000:.0f} ms p95 = {percentile(times, 95) * 1000:.0f} ms")
        for name, run in (("cold, daemon with the sandbox", at_once), ("cold, pages polling", polled), ("cold", cold),
                          ("warm, refill at every claim", eager), ("warm", warm)):
            if any(t.check_during_provisioning for t in run):
                baseline = [t.check_seconds for t in polled if t.check_during_provisioning] if run is cold else None
                report(f"grading during provisioning, {name}", [t.check_seconds for t in run if t.check_during_provisioning], baseline)
        # The target's figure: the platform as shipped (the eager refill and the daemon with the sandbox are baselines above).
        during = [t.check_seconds for t in cold + warm if t.check_during_provisioning]
        everything = [t.check_seconds for t in cold + warm]
        if during:
            print(f"grading during provisioning: p95 = {percentile(during, 95) * 1000:.0f} ms (n={len(during)})")
        report("grading (Check -> verdict), all (cold and warm)", everything)
        verdicts = set(Submission.objects.values_list("status", flat=True))
        print(f"verdicts: {', '.join(sorted(verdicts))}")
    finally:
        stop_workers(workers)
        remove_bench_sandboxes()


if __name__ == "__main__":
    main()
