#!/usr/bin/env python3
"""What each request of an exam costs the server in CPU, kind by kind: the figure the exam burst's p99 follows from.

    .venv/bin/python bench/request_cpu.py [--learners 200] [--concurrency 8] [--saves 5] [--profile DIR]

The set-up of bench/exam_burst.py (its PostgreSQL, a database of its own, the shipped course, learners
with sessions in the database and the session cache, uvicorn on loopback), but with one web process and the requests sent kind by kind, each
kind as one phase: every learner opens the quiz, then every learner starts an attempt, and so on, at most
`--concurrency` at once. For each phase it prints the web process's and PostgreSQL's CPU time divided by
the requests served (CPU per request does not depend on what else the machine runs, wall latency does)
and the latency. With `--profile DIR` (py-spy on the PATH), each phase is also sampled by py-spy into
DIR/<kind>.txt: the functions where the web process spent its time, inclusive, most first.
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exam_burst  # noqa: E402
from exam_burst import CSRF_INPUT, DATABASE, Browser, answer_fields, process_tree_cpu, questions_of  # noqa: E402
from measure import drydock_cli, report  # noqa: E402


class Learner:
    def __init__(self, port, session_key, seed):
        import random

        self.browser = Browser(port, session_key, timeout=60)
        self.rng = random.Random(seed)
        self.token = self.attempt_url = self.results_url = None
        self.questions = []
        self.answers = {}


async def quiz_page(learner, quiz_url):
    status, _, page = await learner.browser.request("GET", quiz_url)
    learner.token = CSRF_INPUT.search(page).group(1)
    return status == 200


async def start_attempt(learner, quiz_url):
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": learner.token}).encode()
    status, headers, _ = await learner.browser.request("POST", quiz_url + "commencer/", body=form,
                                                       content_type="application/x-www-form-urlencoded")
    learner.attempt_url = urllib.parse.urlsplit(headers.get("location", "")).path
    return status == 302


async def attempt_page(learner, quiz_url):
    status, _, page = await learner.browser.request("GET", learner.attempt_url)
    learner.token = CSRF_INPUT.search(page).group(1)
    learner.questions = questions_of(page)
    return status == 200


async def autosave(learner, quiz_url):
    question = learner.rng.choice(learner.questions)
    learner.answers[question[0]] = answer_fields(question, learner.rng)
    body = urllib.parse.urlencode(learner.answers[question[0]]).encode()
    status, _, reply = await learner.browser.request("POST", learner.attempt_url + "enregistrer/", body=body,
                                                     content_type="application/x-www-form-urlencoded;charset=UTF-8",
                                                     headers={"X-CSRFToken": learner.token, "Accept": "application/json"})
    return status == 200 and '"saved": true' in reply


async def submit(learner, quiz_url):
    form = [("csrfmiddlewaretoken", learner.token)] + [field for fields in learner.answers.values() for field in fields]
    status, headers, _ = await learner.browser.request("POST", learner.attempt_url + "terminer/", body=urllib.parse.urlencode(form).encode(),
                                                       content_type="application/x-www-form-urlencoded")
    learner.results_url = urllib.parse.urlsplit(headers.get("location", "")).path
    return status == 302


async def results_page(learner, quiz_url):
    status, _, _ = await learner.browser.request("GET", learner.results_url)
    return status == 200


PHASES = [("quiz page", quiz_page, 1), ("start attempt", start_attempt, 1), ("attempt page", attempt_page, 1),
          ("autosave", autosave, None), ("submit", submit, 1), ("results page", results_page, 1)]


async def run_phase(learners, step, quiz_url, repeat, concurrency):
    slots = asyncio.Semaphore(concurrency)
    seconds, failures = [], 0

    async def one(learner):
        nonlocal failures
        for _ in range(repeat):
            async with slots:
                started = time.perf_counter()
                ok = await step(learner, quiz_url)
                seconds.append(time.perf_counter() - started)
                failures += not ok

    await asyncio.gather(*(one(learner) for learner in learners))
    return seconds, failures


def top_functions(raw, limit=40):
    """py-spy's collapsed stacks -> lines 'percent  function (file:line)', inclusive, most first."""
    inclusive, total = Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        total += count
        for frame in set(stack.split(";")):
            inclusive[frame] += count
    return [f"{count * 100 / max(1, total):5.1f}%  {frame}" for frame, count in inclusive.most_common(limit)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--saves", type=int, default=5, help="autosaves per learner")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="folder for py-spy's samples of each phase")
    parser.add_argument("--app", default="drydock.asgi:application")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") if args.profile else None
    if args.profile and not py_spy:
        raise SystemExit("--profile needs py-spy on the PATH (e.g. in a scratch venv: pip install py-spy)")

    cli = drydock_cli()
    server_url, started_postgres = exam_burst.start_postgres(cli)
    exam_burst.admin_sql(server_url, f"CREATE DATABASE {DATABASE}")
    database_url = server_url.rsplit("/", 1)[0] + "/" + DATABASE
    server = None
    try:
        scratch = exam_burst.setup_django(server_url, database_url)
        from django.core.management import call_command
        from django.db import connections

        from quizzes.models import Quiz

        call_command("migrate", verbosity=0)
        call_command("load_course", str(exam_burst.BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
        quiz_url = Quiz.objects.select_related("course").get(slug=exam_burst.QUIZ_SLUG).get_absolute_url()
        warmup, sessions = exam_burst.seed(8, "warmup"), exam_burst.seed(args.learners, "learner")
        connections.close_all()
        port = exam_burst.free_port()
        server = exam_burst.start_server(scratch, port, args.workers, args.app)
        pid_file = cli.VAR / "postgres" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else 0
        print(f"uvicorn {args.app}, {args.workers} process(es); {args.learners} learners, {args.concurrency} requests at once; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

        async def run():
            for group, measured in ((warmup, False), ([Learner(port, key, i) for i, (_, key) in enumerate(sessions)], True)):
                if not measured:
                    group = [Learner(port, key, i) for i, (_, key) in enumerate(group)]
                for kind, step, repeat in PHASES:
                    repeat = repeat or args.saves
                    spy = None
                    if measured and py_spy:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        spy = subprocess.Popen([py_spy, "record", "--pid", str(server.pid), "--subprocesses", "--rate", "250", "--gil", "--format", "raw",
                                                "--output", str(args.profile / f"{kind}.raw"), "--nonblocking"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        await asyncio.sleep(1.0)
                    before = process_tree_cpu(server.pid), process_tree_cpu(postmaster)
                    seconds, failures = await run_phase(group, step, quiz_url, repeat, args.concurrency)
                    after = process_tree_cpu(server.pid), process_tree_cpu(postmaster)
                    if spy is not None:
                        spy.send_signal(2)
                        spy.wait()
                        raw = args.profile / f"{kind}.raw"
                        if raw.exists():
                            (args.profile / f"{kind}.txt").write_text("\n".join(top_functions(raw, 80)) + "\n")
                    if measured:
                        web, database = ((a - b) * 1000 / len(seconds) for a, b in zip(after, before))
                        report(kind, seconds, extra=f"CPU/request: web {web:5.2f} ms  PostgreSQL {database:5.2f} ms"
                                                    + (f"  FAILED {failures}" if failures else ""))
                for learner in group:
                    await learner.browser.close()

        asyncio.run(run())
        print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)
    finally:
        if server is not None:
            exam_burst.stop_server(server)
        try:
            from django.db import connections

            exam_burst.forget_sessions()
            connections.close_all()
        except Exception:
            pass
        exam_burst.admin_sql(server_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if started_postgres:
            exam_burst.stop_postgres(cli)


if __name__ == "__main__":
    main()
