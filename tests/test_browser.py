"""End to end in a real browser (Debian's chromium driven by Playwright): a learner does a lab task."""

import json
import re
import time
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


def told_changed(frames):
    """What the lab page's live channel said had changed (labs/push.py), in order."""
    messages = [json.loads(frame) for frame in frames if isinstance(frame, str) and frame.startswith("{")]
    return [message for message in messages if message.get("type") == "changed"]


def until(page, condition, timeout, message):
    """Wait for a condition on what the page's event handlers record (they run while Playwright waits)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        page.wait_for_timeout(50)


def test_learner_pulls_a_tag_in_the_browser_terminal_and_the_task_turns_green(learner_lea, web_server, celery_worker, browser):
    page = browser.new_page()
    heard = []  # the frames the page's websockets received, in order
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: heard.append(frame)))
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
    task.locator(".check-form button[type=submit]").click()
    page.wait_for_selector("#tache-tirer-nginx-1-22.is-passed", timeout=30_000)
    submission = Submission.objects.get(task__slug="tirer-nginx-1-22", automatic=False)
    assert submission.status == Submission.Status.PASSED
    # The verdict was told to the page as soon as the worker stored it.
    told = {"type": "changed", "what": "check", "task": "tirer-nginx-1-22", "submission": submission.pk}
    until(page, lambda: told in told_changed(heard), 15, "the Check's verdict to be told to the page")
    assert "nginx:1.22 est bien présente" in task.locator(".verdict").inner_text()

    assert page.locator("#terminal-status").inner_text() == "Connecté"  # no drop along the way

    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "lab-tirer-une-version.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert Path(screenshot).stat().st_size > 10_000


# --- The terminal: history, size, focus, tabs (on a sandbox provisioned in the test, no queue).

@pytest.fixture
def lab_page(learner_lea, web_server, browser, ready_sandbox_for):
    """Léa's lab page with a ready sandbox and its terminal connected, in a 1366×900 window."""
    sandbox = ready_sandbox_for(learner_lea, "tirer-une-version")
    page = browser.new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{web_server.url}/compte/login/?next=/cours/docker-fr/tp/tirer-une-version/")
    page.fill("#id_username", "lea")
    page.fill("#id_password", "un-mot-de-passe-solide")
    page.click("main button[type=submit]")
    page.wait_for_url("**/tp/tirer-une-version/")
    page.wait_for_selector("#terminal[data-ready='1']", timeout=30_000)
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)
    page.sandbox = sandbox
    yield page
    page.close()


def columns(page, marker, box="#terminal"):
    """What `tput cols` answers in the focused terminal's shell (`marker` tells this answer from earlier ones)."""
    page.keyboard.type(f"clear; echo {marker}=$(tput cols)\n")
    pattern = marker + r"=(\d+)"
    page.wait_for_function(
        "([box, pattern]) => new RegExp(pattern).test(document.querySelector(box).innerText)", arg=[box, pattern], timeout=15_000,
    )
    return int(re.search(pattern, page.locator(box).inner_text())[1])


def numbers_on_screen(page):
    """The rows of the terminal that hold only a number (what `seq` printed)."""
    rows = page.eval_on_selector_all("#terminal .xterm-rows > div", "rows => rows.map(r => r.textContent.trim())")
    return [int(row) for row in rows if row.isdigit()]


def test_the_terminal_fills_its_box_grows_with_the_window_and_tells_tmux(lab_page):
    page = lab_page
    page.click("#terminal")
    at_1366 = columns(page, "at1366")
    assert at_1366 > 58
    # The rows fit in the box: nothing overflows below it.
    screen = page.eval_on_selector("#terminal .xterm-screen", "n => n.getBoundingClientRect().bottom")
    box = page.eval_on_selector("#terminal", "n => n.getBoundingClientRect().bottom")
    assert screen <= box + 0.5

    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(500)
    at_1920 = columns(page, "at1920")
    assert at_1920 > at_1366 + 20  # tmux was told: the shell sees the new width

    page.click("#terminal-layout")  # instructions above: the terminal takes the page's width
    assert page.get_attribute("#terminal-layout", "aria-pressed") == "true"
    page.wait_for_timeout(500)
    page.click("#terminal")
    stacked = columns(page, "stacked")
    assert stacked > at_1920
    page.click("#terminal-layout")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.click("#terminal-fullscreen")
    page.wait_for_timeout(500)
    page.click("#terminal")
    full = columns(page, "full")
    assert full > at_1366
    height = page.eval_on_selector("#terminal-panel", "n => n.getBoundingClientRect().height")
    assert height > 850
    page.click("#terminal-fullscreen")
    assert page.get_attribute("#terminal-fullscreen", "aria-pressed") == "false"


def test_the_wheel_and_shift_pgup_reach_the_start_of_a_long_output(lab_page):
    page = lab_page
    page.click("#terminal")
    page.keyboard.type("seq 1 6000\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('6000')", timeout=15_000)
    page.wait_for_timeout(300)
    scrolled_before = page.evaluate("window.scrollY")

    box = page.locator("#terminal").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(30):
        page.mouse.wheel(0, -16_500)  # 500 lines a turn
        page.wait_for_timeout(150)
        if numbers_on_screen(page) and min(numbers_on_screen(page)) <= 1000:
            break
    assert min(numbers_on_screen(page)) <= 1000
    assert page.evaluate("window.scrollY") == scrolled_before  # the wheel scrolled the terminal, not the page

    page.keyboard.type("echo back=$((40+2))\n")  # typing leaves the history
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('back=42')", timeout=15_000)

    page.keyboard.type("seq 1 6000\n")
    page.wait_for_timeout(1000)
    for _ in range(40):
        for _ in range(10):
            page.keyboard.press("Shift+PageUp")
        page.wait_for_timeout(150)
        if numbers_on_screen(page) and min(numbers_on_screen(page)) <= 1000:
            break
    assert min(numbers_on_screen(page)) <= 1000
    page.keyboard.press("Shift+PageDown")
    page.keyboard.type("echo again=$((6*7))\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('again=42')", timeout=15_000)


def test_tab_stays_in_the_terminal_and_esc_then_tab_leaves_it(lab_page):
    page = lab_page
    in_terminal = "document.activeElement === document.querySelector('#terminal .xterm-helper-textarea')"
    assert not page.evaluate(in_terminal)  # no focus grabbed on load
    label = page.get_attribute("#terminal .xterm-helper-textarea", "aria-label")
    assert label.startswith("Saisie du terminal")

    page.click("#terminal")
    assert page.evaluate(in_terminal)
    page.keyboard.type("echo compl")
    page.keyboard.press("Tab")  # completes in the shell, focus stays
    assert page.evaluate(in_terminal)
    page.keyboard.press("Control+U")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate(in_terminal)
    page.click("#terminal")
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Tab")  # back to the control before the terminal
    assert page.evaluate("document.activeElement.id") == "terminal-screen-reader"


def test_a_second_tab_opens_a_second_terminal_on_the_same_sandbox(lab_page):
    page = lab_page
    page.click("#terminal")
    page.keyboard.type("touch /root/from-tab-1; echo one=$((0+1))\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('one=1')", timeout=15_000)

    page.click("#terminal-new")
    page.wait_for_selector("#terminal-2[data-ready='1']", timeout=30_000)
    assert page.is_hidden("#terminal")
    assert page.get_attribute("#terminal-tab-2", "aria-selected") == "true"
    page.wait_for_function("document.querySelector('#terminal-2').innerText.includes('#')", timeout=30_000)
    # Its own shell (tmux session drydock-2), on the same sandbox: it sees the first tab's file.
    page.keyboard.type("echo session=$(tmux display-message -p '#S') seen=$(ls /root/from-tab-1 | wc -l)\n")
    page.wait_for_function("document.querySelector('#terminal-2').innerText.includes('seen=1')", timeout=15_000)
    assert "session=drydock-2" in page.locator("#terminal-2").inner_text()

    page.click("#terminal-theme")  # a light background, for the screenshot
    page.click("#terminal-font-larger")
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "lab-terminal-tabs.png"
    page.screenshot(path=str(screenshot))
    assert Path(screenshot).stat().st_size > 10_000

    page.click("#terminal-tab-1")
    assert page.is_visible("#terminal") and page.is_hidden("#terminal-2")
    assert "one=1" in page.locator("#terminal").inner_text()
    page.click("#terminal-new")  # the third, the learner's limit (TERMINALS_PER_LEARNER=3)
    page.wait_for_selector("#terminal-3[data-ready='1']", timeout=30_000)
    assert page.is_hidden("#terminal-new")
    page.click("#terminal-close")
    assert page.locator("#terminal-3").count() == 0 and page.is_visible("#terminal-new")

    page.reload()  # the open tabs come back, on the same shells
    page.wait_for_selector("#terminal-2[data-ready='1']", state="attached", timeout=30_000)
    page.click("#terminal-tab-2")
    page.wait_for_function("document.querySelector('#terminal-2').innerText.includes('seen=1')", timeout=15_000)
    assert page.locator("#terminal-3").count() == 0


# What the learner sees of the terminal's look: the text's colour and size, and the colour behind it.
LOOK = """() => {
  const rows = getComputedStyle(document.querySelector('#terminal .xterm-rows'));
  const box = document.querySelector('#terminal .xterm-screen').getBoundingClientRect();
  let node = document.elementFromPoint(box.left + 5, box.bottom - 5);
  while (node && getComputedStyle(node).backgroundColor === 'rgba(0, 0, 0, 0)') node = node.parentElement;
  return {text: rows.color, size: rows.fontSize, background: node && getComputedStyle(node).backgroundColor};
}"""


def test_the_font_size_and_the_light_or_dark_theme_change_the_terminal_and_stay_after_a_reload(lab_page):
    page = lab_page
    dark = page.evaluate(LOOK)
    assert dark == {"text": "rgb(230, 237, 243)", "size": "14px", "background": "rgb(15, 27, 42)"}
    page.click("#terminal")
    normal = columns(page, "normal")

    page.click("#terminal-font-larger")
    page.click("#terminal-font-larger")
    assert page.evaluate(LOOK)["size"] == "16px"
    page.click("#terminal")
    larger = columns(page, "larger")
    assert larger < normal  # larger letters, fewer columns: tmux was told
    page.click("#terminal-theme")
    light = page.evaluate(LOOK)
    assert light == {"text": "rgb(27, 36, 48)", "size": "16px", "background": "rgb(255, 255, 255)"}
    assert page.get_attribute("#terminal-theme", "aria-pressed") == "true"

    page.reload()  # both choices are kept (in the browser)
    page.wait_for_selector("#terminal[data-ready='1']", timeout=30_000)
    assert page.evaluate(LOOK) == light and page.get_attribute("#terminal-theme", "aria-pressed") == "true"
    for _ in range(6):  # 16 px down to the smallest, 10 px (16, 15, … 11, 10); then the button is off
        page.click("#terminal-font-smaller")
    assert page.evaluate(LOOK)["size"] == "10px" and page.is_disabled("#terminal-font-smaller")
    page.click("#terminal-theme")
    assert page.evaluate(LOOK)["background"] == dark["background"] and page.get_attribute("#terminal-theme", "aria-pressed") == "false"


def test_a_selection_is_copied_and_pasted_back(lab_page, browser):
    page = lab_page
    browser.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#terminal")
    page.keyboard.type("clear; echo copy-me-$((3*3))\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('copy-me-9\\n')", timeout=15_000)
    row = page.locator("#terminal .xterm-rows > div").nth(0).bounding_box()  # `clear` put the answer on the first row
    page.mouse.move(row["x"] + 2, row["y"] + row["height"] / 2)
    page.mouse.down()
    page.mouse.move(row["x"] + row["width"] - 2, row["y"] + row["height"] / 2, steps=5)
    page.mouse.up()
    page.click("#terminal-copy")
    page.wait_for_timeout(200)
    assert page.evaluate("navigator.clipboard.readText()").strip() == "copy-me-9"
    page.click("#terminal")
    page.keyboard.type("echo pasted-")
    page.keyboard.press("Control+Shift+V")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('echo pasted-copy-me-9')", timeout=15_000)
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('\\npasted-copy-me-9')", timeout=15_000)
    assert "pasted-copy-me-9copy-me-9" not in page.locator("#terminal").inner_text()  # pasted once, not twice
