#!/usr/bin/env python3
"""Browser terminal latency: keystroke echo through the websocket, and page load to a usable prompt.

    .venv/bin/python bench/terminal.py [--keys 200]

Starts its own uvicorn on a scratch database, a sandbox, and measures:
  - keystroke echo round trip through the websocket (uvicorn + Channels consumer
    + docker exec + tmux), p50/p95; baseline in the same run: the same echo on
    the docker exec socket directly, without the web layer;
  - page load to a usable prompt in Debian's chromium (Playwright): navigation
    start to the terminal connected and showing the shell prompt.
Target: echo p50 <= 30 ms on loopback.
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import time
from datetime import timedelta

from measure import BASE, report, setup_scratch_django  # noqa: E402

SCRATCH = setup_scratch_django(
    "drydock-bench-terminal-",
    SANDBOX_NAME_PREFIX="drydock-bench-terminal",
    SANDBOX_LABELS="drydock.test=1",
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
)

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from grader import engine  # noqa: E402
from labs import sandboxes  # noqa: E402
from labs.models import Lab, Sandbox  # noqa: E402
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def echo_through_websocket(port, sandbox_id, cookie, keys):
    url = f"ws://127.0.0.1:{port}/ws/bacs-a-sable/{sandbox_id}/terminal/?rows=24&cols=80"
    times = []
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}) as ws:
        while True:
            message = await ws.recv()
            if isinstance(message, str) and '"ready"' in message:
                break
        await asyncio.sleep(1.0)
        while True:  # drain the prompt
            try:
                await asyncio.wait_for(ws.recv(), 0.3)
            except asyncio.TimeoutError:
                break
        for index in range(keys):
            key = "abcdefghij"[index % 10]
            started = time.perf_counter()
            await ws.send('{"type": "input", "data": "%s"}' % key)
            while True:
                message = await ws.recv()
                if isinstance(message, bytes) and key.encode() in message:
                    break
            times.append(time.perf_counter() - started)
            if index % 50 == 49:
                await ws.send('{"type": "input", "data": "\\u0015"}')  # Ctrl-U: clear the line
                await asyncio.sleep(0.05)
                while True:
                    try:
                        await asyncio.wait_for(ws.recv(), 0.05)
                    except asyncio.TimeoutError:
                        break
    return times


def echo_on_exec_socket(name, keys):
    terminal = engine.default().open_terminal(name)
    sock = terminal.socket
    sock.setblocking(True)
    sock.settimeout(5)
    time.sleep(1.0)
    sock.settimeout(0.3)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.settimeout(5)
    times = []
    for index in range(keys):
        key = "klmnopqrst"[index % 10].encode()
        started = time.perf_counter()
        sock.sendall(key)
        while key not in sock.recv(65536):
            pass
        times.append(time.perf_counter() - started)
        if index % 50 == 49:
            sock.sendall(b"\x15")
            time.sleep(0.05)
            sock.settimeout(0.05)
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass
            sock.settimeout(5)
    terminal.close()
    return times


def page_to_prompt(port, lab_url, session_cookie, runs):
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session_cookie, "domain": "127.0.0.1", "path": "/"}])
        page = context.new_page()
        for _ in range(runs):
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}{lab_url}")
            page.wait_for_selector("#terminal[data-ready='1']", timeout=30_000)
            page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)
            times.append(time.perf_counter() - started)
        browser.close()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("load_course", str(BASE / "content" / "docker-fr"), stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench")
    now = timezone.now()
    sandbox = Sandbox.objects.create(owner=user, lab=Lab.objects.get(slug="tirer-une-version"), expires_at=now + timedelta(minutes=30), last_activity_at=now)
    sandbox = sandboxes.provision(sandbox.pk, engine=engine.default())
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    port = free_port()
    log = open(SCRATCH / "web.log", "wb")
    server = subprocess.Popen(
        [str(BASE / ".venv" / "bin" / "uvicorn"), "drydock.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-access-log"],
        cwd=BASE, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        time.sleep(2)
        baseline = echo_on_exec_socket(sandbox.container_name, args.keys)
        report("baseline: echo on the docker exec socket", baseline)
        through_web = asyncio.run(echo_through_websocket(port, sandbox.pk, f"sessionid={session}", args.keys))
        report("keystroke echo through the websocket", through_web, baseline)
        loads = page_to_prompt(port, sandbox.lab.get_absolute_url(), session, args.loads)
        report("page load to a usable prompt", loads)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        engine.default().remove_sandbox(sandbox.container_name, sandboxes.socket_dir(sandbox))
        print(f"settings: output cap {settings.TERMINAL_OUTPUT_BYTES_PER_SECOND} B/s per terminal")


if __name__ == "__main__":
    main()
