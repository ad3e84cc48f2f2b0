"""The web preview in a real browser: a learner publishes nginx in their playground and opens it; another learner cannot."""

import pytest
from django.contrib.auth.models import User

from grader import engine
from labs import sandboxes
from labs.models import Sandbox
from tests.conftest import BASE_DIR, wait_until
from tests.test_browser import browser  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
OUTPUT = BASE_DIR / "test-results"


def sweep_playground_disks(settings):
    """The web server and the workers keep playground disks in settings.PLAYGROUND_DISK_ROOT: none outlives the test."""
    wait_until(lambda: engine.default().sweep_persistent_disks(settings.PLAYGROUND_DISK_ROOT, deployment=settings.SANDBOX_NAME_PREFIX, keep=()) is not None
               and not list(settings.PLAYGROUND_DISK_ROOT.glob(f"{settings.SANDBOX_NAME_PREFIX}-playground-*")), 30, interval=0.5,
               message="the test's playground disks to be released and deleted")


@pytest.fixture
def two_learners(transactional_db, settings):
    # Rows are numbered from 1 in every test database: a disk left by an earlier run would be this run's playground's.
    sweep_playground_disks(settings)
    User.objects.create_user("lea", "lea@example.com", "un-mot-de-passe-solide")
    User.objects.create_user("max", "max@example.com", "un-autre-mot-de-passe")
    yield
    for row in Sandbox.objects.all():
        engine.default().remove_sandbox(row.container_name, sandboxes.socket_dir(row))
    sweep_playground_disks(settings)


def log_in(page, web_server, username, password, next_path):
    page.goto(f"{web_server.url}/compte/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def test_a_published_port_opens_in_the_preview_for_its_owner_and_is_a_404_for_another_learner(two_learners, web_server, celery_worker, browser):  # noqa: F811
    page = browser.new_page()
    log_in(page, web_server, "lea", "un-mot-de-passe-solide", "/bac-a-sable-libre/")
    assert "jours" in page.locator("main").inner_text()
    page.click("#start-sandbox")
    page.wait_for_selector("#terminal .xterm", timeout=90_000)
    page.wait_for_selector("#terminal[data-ready='1']", timeout=30_000)
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)
    page.click("#terminal")
    page.keyboard.type("docker run -d --name web -p 8080:80 nginx:1.22")
    page.keyboard.press("Enter")

    open_here = page.locator("#preview-ports button", has_text="Ouvrir ici")
    for _ in range(60):
        page.click("#preview-refresh")
        page.wait_for_timeout(1000)
        if open_here.count():
            break
    open_here.first.click()
    frame = page.frame_locator("#preview-frame iframe")
    frame.locator("h1").wait_for(timeout=30_000)
    assert frame.locator("h1").inner_text() == "Welcome to nginx!"
    link = page.locator("#preview-ports a", has_text="Nouvel onglet").first.get_attribute("href")
    signed = next(f.url for f in page.frames if "/apercu/" in f.url)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "playground-preview.png"), full_page=True)

    # Another learner, in the same browser once Léa's cookies are gone, with her preview's link.
    browser.clear_cookies()
    intruder = browser.new_page()
    log_in(intruder, web_server, "max", "un-autre-mot-de-passe", "/bac-a-sable-libre/")
    assert intruder.goto(f"{web_server.url}{link}").status == 404
    assert intruder.goto(signed).status == 404


def dialog_text(page):
    page.wait_for_selector("dialog.confirm-dialog[open]", timeout=5_000)
    return page.locator("dialog.confirm-dialog").inner_text()


def test_the_playground_asks_before_it_stops_keeps_its_files_and_asks_before_it_starts_fresh(two_learners, web_server, celery_worker, browser, settings):  # noqa: F811
    page = browser.new_page()
    log_in(page, web_server, "lea", "un-mot-de-passe-solide", "/bac-a-sable-libre/")
    page.click("#start-sandbox")
    page.wait_for_selector("#terminal[data-ready='1']", timeout=90_000)
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)
    assert "min" in page.locator("#expires-in").inner_text()
    page.click("#terminal")
    page.keyboard.type("echo 'mes notes' > /root/notes.txt; echo written=$((40+2))\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('written=42')", timeout=15_000)
    first = Sandbox.objects.get(owner__username="lea", status=Sandbox.Status.READY)

    # Stop asks, in the page's own dialog, and says what is kept; Cancel keeps it running.
    page.click(".sandbox-actions button.danger")
    text = dialog_text(page)
    assert "Arrêter ce bac à sable maintenant ?" in text and f"conservés {settings.PLAYGROUND_RETENTION_DAYS} jours" in text
    page.click("dialog.confirm-dialog button.secondary")
    page.wait_for_selector("dialog.confirm-dialog", state="detached", timeout=5_000)
    first.refresh_from_db()
    assert first.status == Sandbox.Status.READY
    page.click(".sandbox-actions button.danger")
    dialog_text(page)
    page.click("dialog.confirm-dialog button.danger")
    page.wait_for_selector("#start-sandbox", timeout=30_000)
    assert "Bac à sable arrêté." in page.locator(".messages").inner_text()
    assert page.locator("#start-sandbox").inner_text() == "Redémarrer le bac à sable libre"

    # Started again, it holds what it held.
    page.click("#start-sandbox")
    page.wait_for_selector("#terminal[data-ready='1']", timeout=90_000)
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)
    page.click("#terminal")
    page.keyboard.type("cat /root/notes.txt | sed 's/^/kept: /'\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('kept: mes notes')", timeout=15_000)

    # Start fresh asks too; confirmed, it stops the sandbox and moves to an empty disk.
    ground = first.playground
    page.click(".fresh-form button")
    assert "Repartir de zéro ?" in dialog_text(page)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "playground-confirm-fresh.png"))
    page.click("dialog.confirm-dialog button.secondary")
    page.wait_for_selector("dialog.confirm-dialog", state="detached", timeout=5_000)
    ground.refresh_from_db()
    assert ground.generation == 1 and ground.has_storage
    page.click(".fresh-form button")
    dialog_text(page)
    page.click("dialog.confirm-dialog button.danger")  # one question, not a second page asking again
    page.wait_for_selector("#start-sandbox", timeout=30_000)
    assert "Votre bac à sable libre a été vidé" in page.locator(".messages").inner_text()
    ground.refresh_from_db()
    assert ground.generation == 2 and not ground.has_storage
    assert not Sandbox.objects.filter(playground=ground, status__in=Sandbox.LIVE).exists()
