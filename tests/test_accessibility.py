"""axe-core (npm, pinned in package-lock.json, injected from node_modules: never served by the site) finds no
serious or critical violation on the home, lesson, quiz and lab pages, at desktop and phone sizes; screenshots
of each page land in test-results/."""

import json

import pytest
from django.contrib.auth.models import User

from courses.packs import load_pack
from tests.conftest import BASE_DIR
from tests.test_browser import CHROMIUM_FLAGS

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = BASE_DIR / "test-results"
PAGES = [
    ("home", "/"),
    ("lesson", "/cours/docker-fr/virtualisation-lourde/"),
    ("quiz", "/cours/docker-fr/quiz/quiz-revision/"),
    ("lab", "/cours/docker-fr/tp/tirer-une-version/"),
]
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def context(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_FLAGS, locale="fr-FR", viewport=VIEWPORTS["desktop"],
        )
        try:
            yield context
        finally:
            context.close()


def serious_violations(page):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violation_on_the_key_pages(live_server, context, shipped_pack):
    load_pack(shipped_pack)
    User.objects.create_user("lea", "lea@example.com", "un-mot-de-passe-solide")
    page = context.new_page()
    page.goto(f"{live_server.url}/compte/login/")
    page.fill("#id_username", "lea")
    page.fill("#id_password", "un-mot-de-passe-solide")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    OUTPUT.mkdir(exist_ok=True)
    found = {}
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        for name, path in PAGES:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUTPUT / f"a11y-{name}-{size}.png"), full_page=True)
            violations = serious_violations(page)
            if violations:
                found[f"{name} ({size})"] = violations
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)


def test_on_a_phone_figures_open_full_size_and_wide_code_shows_it_scrolls(live_server, context, shipped_pack):
    load_pack(shipped_pack)
    page = context.new_page()
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/cours/docker-fr/virtualisation-lourde/")
    link = page.locator(".prose a.figure-link").first
    assert link.get_attribute("href").endswith(".svg")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing wider than the phone
    scrollable = page.locator(".prose pre.is-scrollable")
    if scrollable.count():
        assert scrollable.first.get_attribute("tabindex") == "0"
