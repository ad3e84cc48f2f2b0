"""A timed quiz in a real browser (Debian's chromium driven by Playwright): autosave, reload, countdown, auto-submit."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from quizzes.models import Attempt
from courses.packs import load_pack

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def page(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are plain blocking calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_FLAGS, locale="fr-FR",
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def test_answers_survive_a_reload_and_the_countdown_submits_at_the_deadline(live_server, page, shipped_pack):
    load_pack(shipped_pack)
    User.objects.create_user("lea", "lea@example.com", "un-mot-de-passe-solide")
    page.goto(f"{live_server.url}/compte/login/?next=/cours/docker-fr/quiz/quiz-revision/")
    page.fill("#id_username", "lea")
    page.fill("#id_password", "un-mot-de-passe-solide")
    page.click("main button[type=submit]")
    page.wait_for_url("**/quiz/quiz-revision/")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/quiz/tentatives/*/")
    attempt = Attempt.objects.get()
    assert page.locator("fieldset.question").count() == 10
    assert page.locator("#quiz-clock-value").inner_text().startswith(("14:", "15:"))

    # Answer the first question: the choice is saved without pressing any button.
    fields = "input[type=radio], input[type=checkbox], input[type=text], input:not([type]), select"
    slot = attempt.slots.get(position=1)
    field = page.locator("fieldset.question").first.locator(fields).first
    if slot.kind in ("single", "multiple", "true_false"):
        field.check()
        given = "checked"
    elif slot.kind in ("matching", "ordering"):
        field.select_option(index=1)
        given = field.input_value()
    else:
        given = "3" if slot.kind == "numeric" else "docker ps"
        field.fill(given)
    page.wait_for_function("document.querySelector('fieldset.question .save-status').dataset.state === 'saved'")
    assert attempt.slots.get(position=1).answer is not None

    # After a reload the very field answered shows the saved answer (and only it was answered).
    page.reload()
    field = page.locator("fieldset.question").first.locator(fields).first
    shown = "checked" if field.get_attribute("type") in ("radio", "checkbox") and field.is_checked() else field.input_value()
    assert shown == given, (slot.kind, shown, given)
    assert page.locator("fieldset.question").nth(1).locator("input:checked").count() == 0

    # The server moves the deadline close: the page syncs its clock on the next save and submits by itself.
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() + timedelta(seconds=3))
    page.reload()
    page.wait_for_url("**/resultats/", timeout=20_000)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED and not attempt.is_late
    assert "Résultats" in page.content() or "Results" in page.content()
