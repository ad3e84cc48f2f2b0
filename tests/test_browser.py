"""End to end in a real browser (Debian's chromium driven by Playwright): a learner does a lab task."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from courses.packs import load_pack
from labs.models import Submission
from tests.conftest import BASE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
OUTPUT = BASE_DIR / "test-results"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # meanwhile are plain blocking calls, which is what this flag allows.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 950}, locale="fr-FR",
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def learner_lea(transactional_db, shipped_pack):
    load_pack(shipped_pack)
    return User.objects.create_user("lea", "lea@example.com", "un-mot-de-passe-solide")


def test_learner_pulls_a_tag_in_the_browser_terminal_and_the_task_turns_green(learner_lea, web_server, celery_worker, browser):
    page = browser.new_page()
    page.goto(f"{web_server.url}/compte/login/?next=/cours/docker-fr/tp/tirer-une-version/")
    page.fill("#id_username", "lea")
    page.fill("#id_password", "un-mot-de-passe-solide")
    page.click("main button[type=submit]")
    page.wait_for_url("**/tp/tirer-une-version/")

    page.click("#start-sandbox")
    page.wait_for_selector("#terminal .xterm", timeout=90_000)
    page.wait_for_selector("#terminal[data-ready='1']", timeout=30_000)
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)

    # The Run button of the instructions' first block types its commands into the terminal.
    runnable = page.locator(".prose pre > code.runnable")
    assert runnable.count() == page.locator(".run-button").count() >= 3
    assert runnable.first.inner_text().startswith("docker pull nginx:1.22\n")
    page.locator(".run-button").first.click()
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('Downloaded newer image')", timeout=60_000)
    # A line ending in a backslash goes on with the next: one command, as a shell reads it.
    typed = page.evaluate("window.drydockTerminal.commands('docker run -d \\\\\\n  --name web \\\\\\n  nginx:1.26\\n\\n# note\\ndocker ps\\n')")
    assert typed == ["docker run -d --name web nginx:1.26", "docker ps"]

    task = page.locator("#tache-tirer-nginx-1-22")
    task.locator("button[type=submit]").click()
    page.wait_for_selector("#tache-tirer-nginx-1-22.is-passed", timeout=30_000)
    assert "nginx:1.22 est bien présente" in task.locator(".verdict").inner_text()
    assert Submission.objects.filter(status=Submission.Status.PASSED, task__slug="tirer-nginx-1-22").count() == 1

    assert page.locator("#terminal-status").inner_text() == "Connecté"  # no drop along the way

    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "lab-tirer-une-version.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert Path(screenshot).stat().st_size > 10_000
