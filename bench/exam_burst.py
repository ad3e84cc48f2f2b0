#!/usr/bin/env python3
"""A class sitting an exam at once: 500 learners open a quiz, save answers as they go and submit it, within 60 s.

    .venv/bin/python bench/exam_burst.py [--learners 500] [--workers 2] [--arrival 15] [--think 1.5 4.5]

Runs the real ASGI server (uvicorn, drydock.asgi:application, started here on
a free loopback port) on PostgreSQL: the throw-away cluster of bin/drydock.py
(`ensure_postgres()`, 127.0.0.1:5433, data under var/postgres), in a database
of the benchmark's own, created and dropped here; a cluster this run started
is stopped at the end. The var folder is a scratch one: nothing of a running
platform is touched. Needs no Docker, Redis or Celery.

The learners already have sessions (users, session rows and their copies in
the session cache are made beforehand, as signing in leaves them, so the burst
measures the quiz, not password hashing or first reads of sessions).
Each one, on a keep-alive connection of its own, as a browser with quiz.js:
opens the shipped course's timed quiz (quiz-revision) at a random instant of
the first `--arrival` seconds, starts an attempt, opens its page, answers the
questions one after another with `--think` seconds between them, each answer
autosaved the way quiz.js does it (URL-encoded POST to the save URL, CSRF
header, Accept: application/json), changes its mind on a few, submits the
whole form and opens the results. Baseline in the same run: learners one at a
time, on the same server.

Prints p50/p95 per kind of request, then
`exam burst: requests = N, errors = E, p99 = X ms`. Target on this 2-core
machine: 0 errors and p99 <= 300 ms, every learner done within 60 s.
"""

import argparse
import asyncio
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from datetime import timedelta

from measure import BASE, drydock_cli, percentile, report  # noqa: E402

KINDS = ["quiz page", "start attempt", "attempt page", "autosave", "submit", "results page"]
QUIZ_SLUG = "quiz-revision"
DATABASE = f"drydock_bench_exam_{os.getpid()}"


def start_postgres(cli):
    """(URL of the cluster's `postgres` database, whether this run started the cluster)."""
    started = not cli.postgres_answers()
    try:
        url = cli.ensure_postgres()
    except cli.SetupError as error:
        raise SystemExit(f"PostgreSQL: {error}") from None
    return url.rsplit("/", 1)[0] + "/postgres", started


def stop_postgres(cli):
    pg_ctl = sorted(cli.Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    subprocess.run(["runuser", "-u", "postgres", "--", str(pg_ctl), "-D", str(cli.VAR / "postgres"), "-m", "fast", "-w", "stop"],
                   check=False, capture_output=True)


def admin_sql(url, sql):
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql)


def setup_django(server_url, database_url):
    """Django on the benchmark's database, with a scratch var folder (as measure.setup_scratch_django, on PostgreSQL)."""
    import tempfile
    from pathlib import Path

    scratch = Path(tempfile.mkdtemp(prefix="drydock-bench-exam-"))
    (scratch / "static").mkdir()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "drydock.settings",
        "DRYDOCK_VAR_DIR": str(scratch),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"),
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
    })
    sys.path.insert(0, str(BASE))
    import django

    django.setup()
    return scratch


def seed(count, prefix):
    """`count` learners with a live session each, as after signing in: [(username, session key)].

    The session rows are written, and, when the session engine keeps sessions in a cache (cached_db, as
    the settings use), the cache's copies too, as a sign-in leaves them: otherwise the first request of
    each learner misses the cache, reads its row and writes the cache, which no learner of an exam does.
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    password = make_password(None)
    users = User.objects.bulk_create([User(username=f"{prefix}{i:04d}", password=password) for i in range(count)])
    store_class = _session_store_class()
    store = store_class()
    lifetime = timedelta(days=1)
    expires = timezone.now() + lifetime
    data = {
        secrets.token_hex(16): {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                                HASH_SESSION_KEY: user.get_session_auth_hash()}
        for user in users
    }
    Session.objects.bulk_create([Session(session_key=key, session_data=store.encode(values), expire_date=expires) for key, values in data.items()])
    _SEEDED.extend(data)
    cache = _session_cache()
    if cache is not None:
        cache.set_many({store_class.cache_key_prefix + key: values for key, values in data.items()}, timeout=int(lifetime.total_seconds()))
    return [(user.username, key) for user, key in zip(users, data)]


_SEEDED = []  # the session keys seed() made in this process


def forget_sessions():
    """Remove the seeded sessions' copies from the session cache: it is shared (Redis), the database they name is not."""
    cache = _session_cache() if _SEEDED else None
    if cache is not None:
        cache.delete_many([_session_store_class().cache_key_prefix + key for key in _SEEDED])
    _SEEDED.clear()


def _session_store_class():
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore


def _session_cache():
    """The cache the session engine reads sessions from, or None when it reads them from the database alone."""
    from django.conf import settings
    from django.core.cache import caches

    return caches[settings.SESSION_CACHE_ALIAS] if hasattr(_session_store_class(), "cache_key_prefix") else None


# --- The client: one keep-alive HTTP/1.1 connection per learner, standard library only ---------


class RequestFailed(Exception):
    pass


class Browser:
    """What one learner's browser does on the wire: cookies, one keep-alive connection, CSRF."""

    def __init__(self, port, session_key, timeout):
        self.port = port
        self.cookies = {"sessionid": session_key}
        self.timeout = timeout
        self.reader = self.writer = None
        self.retries = 0

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(self, method, path, *, body=b"", content_type=None, headers=None):
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "User-Agent: exam-burst",
                "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items())]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        if method == "POST":
            head += [f"Origin: http://127.0.0.1:{self.port}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(raw)
                return await asyncio.wait_for(self._response(), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                await self.close()
                # A keep-alive connection the server closed while idle: a browser sends again on a new one.
                if fresh or getattr(error, "partial", b"x") != b"" or attempt == 2:
                    raise RequestFailed(f"connection lost: {error!r}") from None
                self.retries += 1
            except asyncio.TimeoutError:
                await self.close()
                raise RequestFailed(f"no answer within {self.timeout} s") from None

    async def _response(self):
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie, _, _ = value.partition(";")
                key, _, val = cookie.partition("=")
                self.cookies[key.strip()] = val.strip()
            headers[name] = value
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, body.decode("utf-8", "replace")


# --- What a learner does ---------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FIELDSET = re.compile(r'<fieldset class="question"[^>]*data-slot="(\d+)">(.*?)</fieldset>', re.S)
INPUT = re.compile(r"<input ([^>]*)>")
SELECT = re.compile(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.S)
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
OPTION = re.compile(r'<option value="([^"]+)"')


def questions_of(page):
    """[(slot id, [(name, value) of its answer fields, as the learner may fill them])] from an attempt page."""
    questions = []
    for slot, html in FIELDSET.findall(page):
        radios, boxes, texts = defaultdict(list), defaultdict(list), []
        for attributes in INPUT.findall(html):
            field = dict(ATTRIBUTE.findall(attributes))
            kind, name = field.get("type", "text"), field.get("name")
            if kind == "radio":
                radios[name].append(field["value"])
            elif kind == "checkbox":
                boxes[name].append(field["value"])
            elif kind == "text":
                texts.append((name, field.get("class", "")))
        selects = [(name, OPTION.findall(options)) for name, options in SELECT.findall(html)]
        questions.append((slot, radios, boxes, texts, selects, 'class="ordering"' in html))
    return questions


def answer_fields(question, rng):
    """The fields quiz.js sends for one question (its hidden `slot` and the learner's answer)."""
    slot, radios, boxes, texts, selects, ordering = question
    fields = [("slot", slot)]
    for name, values in radios.items():
        fields.append((name, rng.choice(values)))
    for name, values in boxes.items():
        fields += [(name, value) for value in rng.sample(values, rng.randint(1, len(values)))]
    for name, css in texts:
        text = str(rng.randint(1, 20)) if "numeric" in css else ("docker images --no-trunc" if "command" in css else "un volume")
        fields.append((name, text))
    positions = list(range(1, len(selects) + 1))
    rng.shuffle(positions)
    for (name, options), position in zip(selects, positions):
        fields.append((name, str(position) if ordering else rng.choice(options)))
    return fields


class Timings:
    def __init__(self):
        self.seconds = defaultdict(list)
        self.errors = []
        self.finished = []
        self.ends = []
        self.retries = 0

    async def timed(self, kind, browser, method, path, *, expect, **kwargs):
        started = time.perf_counter()
        try:
            status, headers, body = await browser.request(method, path, **kwargs)
        except RequestFailed as failure:
            self.errors.append((kind, str(failure)))
            raise
        self.ends.append(time.perf_counter())
        self.seconds[kind].append(self.ends[-1] - started)
        if status != expect:
            self.errors.append((kind, f"HTTP {status}: {body[:200]!r}"))
            raise RequestFailed(f"{kind}: HTTP {status}")
        return headers, body


async def learner(port, session_key, quiz_url, *, timings, rng, arrive_at, think, timeout, clock):
    browser = Browser(port, session_key, timeout)
    try:
        await asyncio.sleep(max(0.0, arrive_at - (time.perf_counter() - clock)))
        _, page = await timings.timed("quiz page", browser, "GET", quiz_url, expect=200)
        token = CSRF_INPUT.search(page).group(1)
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode()
        headers, _ = await timings.timed("start attempt", browser, "POST", quiz_url + "commencer/", expect=302,
                                         body=form, content_type="application/x-www-form-urlencoded")
        attempt_url = urllib.parse.urlsplit(headers["location"]).path
        _, page = await timings.timed("attempt page", browser, "GET", attempt_url, expect=200)
        token = CSRF_INPUT.search(page).group(1)
        questions = questions_of(page)
        answers = {}
        for question in questions:
            await asyncio.sleep(rng.uniform(*think))
            for _ in range(2 if rng.random() < 0.2 else 1):  # a learner who changes their mind saves twice
                answers[question[0]] = answer_fields(question, rng)
                _, reply = await timings.timed("autosave", browser, "POST", attempt_url + "enregistrer/", expect=200,
                                               body=urllib.parse.urlencode(answers[question[0]]).encode(),
                                               content_type="application/x-www-form-urlencoded;charset=UTF-8",
                                               headers={"X-CSRFToken": token, "Accept": "application/json"})
                if '"saved": true' not in reply:
                    timings.errors.append(("autosave", f"not saved: {reply[:200]}"))
        await asyncio.sleep(rng.uniform(*think))
        form = [("csrfmiddlewaretoken", token)] + [field for fields in answers.values() for field in fields]
        headers, _ = await timings.timed("submit", browser, "POST", attempt_url + "terminer/", expect=302,
                                         body=urllib.parse.urlencode(form).encode(), content_type="application/x-www-form-urlencoded")
        await timings.timed("results page", browser, "GET", urllib.parse.urlsplit(headers["location"]).path, expect=200)
        timings.finished.append(time.perf_counter() - clock)
    except RequestFailed:
        pass  # counted in timings.errors; this learner stops there, as one whose browser shows an error page would
    finally:
        await browser.close()
        timings.retries += browser.retries


async def run_learners(port, sessions, quiz_url, *, arrival, think, timeout, seed, concurrent=True):
    timings = Timings()
    rng = random.Random(seed)
    clock = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(
            learner(port, key, quiz_url, timings=timings, rng=random.Random(rng.random()), arrive_at=rng.uniform(0, arrival),
                    think=think, timeout=timeout, clock=clock)
            for _, key in sessions
        ))
    else:
        for _, key in sessions:
            await learner(port, key, quiz_url, timings=timings, rng=random.Random(rng.random()), arrive_at=0,
                          think=think, timeout=timeout, clock=time.perf_counter())
    timings.elapsed = time.perf_counter() - clock
    return timings


# --- The server ----------------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(scratch, port, workers, app, env=None):
    """uvicorn serving `app` on the loopback port with `workers` processes; `env`: what differs in its environment."""
    log = open(scratch / "uvicorn.log", "ab")
    command = [str(BASE / ".venv" / "bin" / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--lifespan", "off", "--no-access-log", "--log-level", "warning",
               # A proxy in front keeps browsers' connections open longer than uvicorn's 5 s default.
               "--timeout-keep-alive", "75"]
    server = subprocess.Popen(command, cwd=BASE, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn stopped (see {scratch / 'uvicorn.log'})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"uvicorn did not answer within 60 s (see {scratch / 'uvicorn.log'})")


def stop_server(server):
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def process_tree_cpu(pid):
    """CPU seconds (user + system) used so far by the children of `pid` alive now: web workers, PostgreSQL backends."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return 0.0
    for child in [pid, *children]:  # uvicorn with one process serves in its own process
        try:
            fields = open(f"/proc/{child}/stat").read().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class ConnectionWatch(threading.Thread):
    """Counts the benchmark database's server connections twice a second: the peak the burst needed."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.peak, self.stopping = url, 0, threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.stopping.wait(0.5):
                count = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [DATABASE]).fetchone()[0]
                self.peak = max(self.peak, count - 1)


def show(label, timings):
    for kind in KINDS:
        if timings.seconds.get(kind):
            report(f"{label}: {kind}", timings.seconds[kind])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes (default 2: one per core)")
    parser.add_argument("--arrival", type=float, default=15.0, help="learners open the quiz within this many seconds")
    parser.add_argument("--think", type=float, nargs=2, default=(1.5, 4.5), metavar=("MIN", "MAX"),
                        help="seconds between two answers of a learner")
    parser.add_argument("--baseline", type=int, default=10, help="learners one at a time, before the burst")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--app", default="drydock.asgi:application", help="the ASGI application uvicorn serves")
    args = parser.parse_args()

    cli = drydock_cli()
    server_url, started_postgres = start_postgres(cli)
    admin_sql(server_url, f"CREATE DATABASE {DATABASE}")
    database_url = server_url.rsplit("/", 1)[0] + "/" + DATABASE
    server = None
    try:
        scratch = setup_django(server_url, database_url)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from quizzes.models import Attempt, AttemptQuestion, Quiz

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
        quiz = Quiz.objects.select_related("course").get(slug=QUIZ_SLUG)
        warmup, baseline, burst = seed(8, "warmup"), seed(args.baseline, "alone"), seed(args.learners, "learner")
        quiz_url = quiz.get_absolute_url()
        pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
        print(f"seeded {args.learners} learners with sessions, quiz {QUIZ_SLUG} ({quiz.pool_size} questions drawn of "
              f"{quiz.questions.count()}) in {time.perf_counter() - started:.1f} s; PostgreSQL "
              f"{connections['default'].cursor().connection.info.server_version}, database {DATABASE}; "
              f"CONN_MAX_AGE={settings.DATABASES['default']['CONN_MAX_AGE']}, pool={pool}; {os.cpu_count()} cores", flush=True)
        connections.close_all()

        port = free_port()
        server = start_server(scratch, port, args.workers, args.app)
        print(f"uvicorn {args.app}, {args.workers} processes, on 127.0.0.1:{port}", flush=True)
        asyncio.run(run_learners(port, warmup, quiz_url, arrival=0.5, think=(0, 0), timeout=args.timeout, seed=1))
        pid_file = cli.VAR / "postgres" / "postmaster.pid"  # absent when the cluster answering is another folder's
        postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else 0
        cpu_before = process_tree_cpu(server.pid), process_tree_cpu(postmaster)
        alone = asyncio.run(run_learners(port, baseline, quiz_url, arrival=0, think=(0, 0), timeout=args.timeout, seed=2, concurrent=False))
        cpu_after = process_tree_cpu(server.pid), process_tree_cpu(postmaster)
        show("baseline, one learner at a time", alone)
        count = max(1, sum(len(seconds) for seconds in alone.seconds.values()))
        print(f"baseline CPU per request: web {(cpu_after[0] - cpu_before[0]) * 1000 / count:.1f} ms, "
              f"PostgreSQL {(cpu_after[1] - cpu_before[1]) * 1000 / count:.1f} ms", flush=True)

        load_before = os.getloadavg()[0]
        cpu_before = process_tree_cpu(server.pid), process_tree_cpu(postmaster), time.process_time()
        watch = ConnectionWatch(server_url)
        watch.start()
        timings = asyncio.run(run_learners(port, burst, quiz_url, arrival=args.arrival, think=tuple(args.think),
                                           timeout=args.timeout, seed=3))
        watch.stopping.set()
        cpu_after = process_tree_cpu(server.pid), process_tree_cpu(postmaster), time.process_time()
        show("burst", timings)
        everything = [s for kind in KINDS for s in timings.seconds[kind]]
        requests = len(everything) + sum(1 for _, message in timings.errors if not message.startswith("HTTP") and "not saved" not in message)
        done = Attempt.objects.filter(user__username__startswith="learner", status=Attempt.Status.SUBMITTED).count()
        saved = AttemptQuestion.objects.filter(attempt__user__username__startswith="learner", answer__isnull=False).count()
        last = max(timings.finished) if timings.finished else float("nan")
        per_second = defaultdict(int)
        for end in timings.ends:
            per_second[int(end)] += 1
        print(f"{len(timings.finished)}/{args.learners} learners done, the last {last:.1f} s after the first click "
              f"(target <= 60 s); {done} attempts submitted, {saved} answers saved; "
              f"{len(everything) / max(1.0, timings.elapsed):.0f} req/s on average, {max(per_second.values(), default=0)} in the busiest second; "
              f"PostgreSQL connections at peak: {watch.peak}; "
              f"keep-alive reconnects: {timings.retries}", flush=True)
        by_kind = defaultdict(int)
        for kind, message in timings.errors:
            by_kind[(kind, message[:120])] += 1
        for (kind, message), count in sorted(by_kind.items(), key=lambda item: -item[1])[:8]:
            print(f"  error x{count}: {kind}: {message}")
        web, database, client = ((after - before) * 1000 / max(1, len(everything)) for before, after in zip(cpu_before, cpu_after))
        print(f"CPU per request: web {web:.1f} ms, PostgreSQL {database:.1f} ms, this client {client:.1f} ms; "
              f"load average {load_before:.1f} before the burst, {os.getloadavg()[0]:.1f} after (other work on the machine counts)")
        p99 = percentile(everything, 99) * 1000 if everything else float("nan")
        print(f"exam burst: requests = {requests}, errors = {len(timings.errors)}, p99 = {p99:.0f} ms", flush=True)
        print(f"scratch folder: {scratch}")
    finally:
        if server is not None:
            stop_server(server)
        try:
            from django.db import connections

            forget_sessions()
            connections.close_all()
        except Exception:
            pass
        admin_sql(server_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if started_postgres:
            stop_postgres(cli)


if __name__ == "__main__":
    main()
