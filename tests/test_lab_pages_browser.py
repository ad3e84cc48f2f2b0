"""The lab page and the instructor's pages in a real browser (Debian's chromium driven by Playwright): the solution
offered after the hint, the confirmations of Reset and Stop, axe-core with a live terminal, the phone layout, and the
instructor matrix's rotated headers and filters. Screenshots land in test-results/."""

import json

import pytest
from django.contrib.auth.models import User

from classrooms.matrix import activities_of
from classrooms.models import Classroom, Membership
from courses.models import Course
from labs.models import Sandbox, SolutionView, Submission
from tests.classrooms_fixtures import make_instructor
from tests.conftest import BASE_DIR, wait_until
from tests.test_accessibility import serious_violations
from tests.test_browser import browser, columns, lab_page, learner_lea  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
OUTPUT = BASE_DIR / "test-results"
LAB = "/cours/docker-fr/tp/tirer-une-version/"


def log_in(page, web_server, username, password, next_path):
    page.goto(f"{web_server.url}/compte/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def screenshot(page, name, **options):
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), **options)


def fail_check(page, task):
    """Click the task's Check on a sandbox where it cannot pass, and wait for the failed verdict."""
    failures = int(task.get_attribute("data-failures"))
    task.locator(".check-form button[type=submit]").click()
    page.wait_for_function(
        "([id, n]) => document.getElementById(id).dataset.failures == n", arg=[task.get_attribute("id"), str(failures + 1)], timeout=30_000,
    )
    assert "verdict-failed" in task.locator(".verdict").get_attribute("class")
    # Built by lab.js as the server renders it: an icon and a word beside the colour.
    assert task.locator(".verdict .message-icon").inner_text() == "✕" and task.locator(".verdict .verdict-kind").inner_text() == "Pas encore :"


def verdict_colours(task):
    return task.locator(".verdict").evaluate("n => [getComputedStyle(n).backgroundColor, getComputedStyle(n.querySelector('.message-icon')).backgroundColor]")


def test_the_solution_is_offered_after_the_hint_recorded_and_shown_to_the_instructor(lab_page, celery_worker, web_server, browser):  # noqa: F811
    page = lab_page
    task = page.locator("#tache-tirer-nginx-1-22")
    assert task.locator(".hint").is_hidden() and task.locator(".solution-form").is_hidden()

    fail_check(page, task)  # nothing pulled yet: the check fails
    assert task.locator(".hint").is_hidden() and task.locator(".solution-form").is_hidden()
    fail_check(page, task)
    failed_colours = verdict_colours(task)
    assert task.locator(".hint").is_visible()  # the second failure shows the hint, and the solution beside it
    assert task.locator(".solution-form button").inner_text() == "Voir la solution"
    assert "Votre formateur verra que vous l’avez ouverte." in task.locator(".solution-form").inner_text()
    assert SolutionView.objects.count() == 0

    task.locator(".solution-form button").click()
    solution = page.locator("#solution-tirer-nginx-1-22")
    solution.wait_for(timeout=10_000)
    assert solution.get_attribute("open") is not None
    assert "docker pull nginx:1.22" in solution.inner_text()
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"  # focus moves to what just opened
    # Its code block gets the Copy and Run buttons of the instructions' blocks, placed on the block itself.
    block = solution.locator(".code-block")
    assert block.locator(".run-button").count() == 1 and block.locator(".copy-button").count() == 1
    code, run = block.locator("pre").bounding_box(), block.locator(".run-button").bounding_box()
    assert code["x"] <= run["x"] and run["x"] + run["width"] <= code["x"] + code["width"] and code["y"] <= run["y"] <= code["y"] + code["height"]
    view = SolutionView.objects.get()
    assert (view.user.username, view.task.slug) == ("lea", "tirer-nginx-1-22")
    screenshot(page, "lab-solution-revealed", full_page=True)
    block.locator(".run-button").click()  # the solution, run in the terminal, passes the task
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('Downloaded newer image')", timeout=60_000)
    task.locator(".check-form button[type=submit]").click()
    page.wait_for_selector("#tache-tirer-nginx-1-22.is-passed", timeout=30_000)
    assert task.locator(".verdict .message-icon").inner_text() == "✓" and task.locator(".verdict .verdict-kind").inner_text() == "Réussi :"
    passed_colours = verdict_colours(task)
    assert passed_colours[0] != failed_colours[0] and passed_colours[1] != failed_colours[1]

    page.reload()  # recorded: the solution stays open, without asking again
    assert page.locator("#solution-tirer-nginx-1-22[open]").count() == 1
    assert page.locator("#tache-tirer-nginx-1-22 .solution-form").count() == 0
    assert SolutionView.objects.count() == 1

    # Léa's instructor sees it on her page.
    lea = User.objects.get(username="lea")
    ines = make_instructor("ines")
    classroom = Classroom.objects.create(course=Course.objects.get(slug="docker-fr"), owner=ines, title="Classe A")
    Membership.objects.create(classroom=classroom, user=lea)
    browser.clear_cookies()
    instructor = browser.new_page()
    learner_page = f"/classes/{classroom.pk}/apprenants/{lea.pk}/"
    log_in(instructor, web_server, "ines", "pw-instructor-123", learner_page)
    seen = instructor.locator("li.timeline-solution")
    assert seen.count() == 1
    assert "Tirer nginx en version 1.22" in seen.inner_text() and "solution vue" in seen.inner_text()
    checks = instructor.locator("li.timeline-check")
    assert checks.count() == 3  # the two failed checks that led to it, then the one that passed
    screenshot(instructor, "instructor-learner-solution-seen", full_page=True)


def dialog_text(page):
    page.wait_for_selector("dialog.confirm-dialog[open]", timeout=5_000)
    return page.locator("dialog.confirm-dialog").inner_text()


def dialog_gone(page):
    """The dialog is removed on its `close` event, which the browser fires a moment after the answer."""
    page.wait_for_selector("dialog.confirm-dialog", state="detached", timeout=5_000)


def test_reset_and_stop_ask_first_cancel_keeps_the_sandbox_and_confirm_does_it(lab_page, celery_worker):
    page = lab_page
    first = page.sandbox
    page.click("#terminal")
    page.keyboard.type("touch /root/still-here; echo kept=$((40+2))\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('kept=42')", timeout=15_000)

    # Stop, then cancel (the button and Escape): nothing happens.
    page.click(".sandbox-actions button.danger")
    assert "Arrêter ce bac à sable maintenant" in dialog_text(page)
    screenshot(page, "lab-confirm-stop")
    assert page.evaluate("document.activeElement.textContent") == "Annuler"  # the safe answer has the focus
    page.click("dialog.confirm-dialog button.secondary")
    dialog_gone(page)
    page.click(".sandbox-actions button.danger")
    dialog_text(page)
    page.keyboard.press("Escape")
    dialog_gone(page)

    # Reset, then cancel.
    page.click(".sandbox-actions form[action$='/reinitialiser/'] button")
    assert "Remplacer ce bac à sable par un neuf ? Tout ce qu’il contient est effacé" in dialog_text(page)
    screenshot(page, "lab-confirm-reset")
    page.click("dialog.confirm-dialog button.secondary")
    dialog_gone(page)

    first.refresh_from_db()
    assert first.status == Sandbox.Status.READY and page.url.endswith(LAB)
    assert page.locator("#terminal-status").inner_text() == "Connecté"
    page.click("#terminal")
    page.keyboard.type("ls /root/still-here && echo same=$((6*7))\n")  # the same sandbox, its files untouched
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('same=42')", timeout=15_000)

    # Reset, confirmed: the sandbox is replaced by a fresh one, without the file.
    page.click(".sandbox-actions form[action$='/reinitialiser/'] button")
    dialog_text(page)
    page.click("dialog.confirm-dialog button.danger")
    page.wait_for_url(f"**{LAB}")
    first.refresh_from_db()
    assert first.status != Sandbox.Status.READY
    fresh = wait_until(lambda: Sandbox.objects.filter(owner=first.owner, lab=first.lab, status__in=Sandbox.LIVE).exclude(pk=first.pk).first(), 10,
                       message="the fresh sandbox")
    page.wait_for_selector("#terminal[data-ready='1']", timeout=90_000)
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)
    page.click("#terminal")
    page.keyboard.type("ls /root/ | wc -l | sed 's/^/files=/'\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('files=0')", timeout=15_000)

    # Stop, confirmed.
    page.click(".sandbox-actions button.danger")
    dialog_text(page)
    page.click("dialog.confirm-dialog button.danger")
    page.wait_for_url(f"**{LAB}")
    page.wait_for_selector("#start-sandbox")
    fresh.refresh_from_db()
    assert fresh.status not in Sandbox.LIVE
    assert "Bac à sable arrêté." in page.locator(".messages").inner_text()
    assert page.locator("#terminal").count() == 0


def test_axe_finds_no_serious_violation_on_the_lab_page_with_a_live_terminal(lab_page):
    page = lab_page
    page.click("#terminal")
    page.keyboard.type("docker version --format '{{.Server.Version}}'; echo axe=$((1+1))\n")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('axe=2')", timeout=15_000)
    page.wait_for_function("document.querySelectorAll('#preview-ports li').length > 0", timeout=15_000)
    found = {}
    for size, viewport in {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)
        screenshot(page, f"a11y-lab-terminal-{size}", full_page=True)
        violations = serious_violations(page)
        if violations:
            found[size] = violations
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)


@pytest.fixture
def phone_lab_page(learner_lea, web_server, browser, ready_sandbox_for):  # noqa: F811
    sandbox = ready_sandbox_for(learner_lea, "tirer-une-version")
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, web_server, "lea", "un-mot-de-passe-solide", LAB)
    page.wait_for_selector("#terminal[data-ready='1']", timeout=30_000)
    page.sandbox = sandbox
    yield page
    page.close()


def in_viewport(page, selector):
    return page.evaluate("""(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
      return r.top >= -0.5 && r.left >= -0.5 && r.bottom <= window.innerHeight + 0.5 && r.right <= window.innerWidth + 0.5; }""", selector)


def test_on_a_phone_in_portrait_the_terminal_is_below_the_instructions_and_usable(phone_lab_page):
    page = phone_lab_page
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll of the page
    instructions = page.locator(".lab-body .prose").first.bounding_box()
    terminal = page.locator("#terminal").bounding_box()
    assert terminal["y"] >= instructions["y"] + instructions["height"]  # below the instructions
    assert terminal["y"] > 844  # far below: off the first screen
    assert terminal["x"] >= 0 and terminal["x"] + terminal["width"] <= 390 + 0.5  # within the phone's width
    assert terminal["height"] >= 200  # rows enough to read a command's output

    # A link at the top leads there, reached with the keyboard: Tab from the top of the page, then Enter.
    jump = page.locator("#jump-to-terminal")
    assert jump.inner_text() == "Aller au terminal ↓" and in_viewport(page, "#jump-to-terminal")
    screenshot(page, "lab-phone-top")
    for _ in range(25):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "jump-to-terminal":
            break
    assert page.evaluate("document.activeElement.id") == "jump-to-terminal"
    page.keyboard.press("Enter")
    # The terminal is on screen, whole, with the way back to the tasks above it, and it has the keyboard.
    page.wait_for_function("document.querySelector('#terminal').contains(document.activeElement)", timeout=5_000)
    assert in_viewport(page, "#terminal") and in_viewport(page, "#jump-to-tasks")
    assert page.evaluate("document.activeElement.classList.contains('xterm-helper-textarea')")
    page.wait_for_function("document.querySelector('#terminal').innerText.includes('#')", timeout=30_000)  # xterm painted its rows

    heights = page.eval_on_selector_all(".countdowns dd", "nodes => nodes.map(n => n.getBoundingClientRect().height)")
    assert len(heights) == 2 and max(heights) < 30  # each countdown on one line, not "29 / min / 55 / s"
    assert page.is_hidden("#terminal-layout")  # instructions are above the terminal anyway

    cols = columns(page, "phone")  # typed without a click: the link gave the terminal the keyboard
    assert 30 <= cols <= 60  # as wide as the phone, no wider
    page.keyboard.type("docker images --format '{{.Repository}}' | wc -l | sed 's/^/images=/'\n")
    page.wait_for_function("/images=\\d+/.test(document.querySelector('#terminal').innerText)", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # still none once it printed
    screenshot(page, "lab-phone-terminal")
    screenshot(page, "lab-phone-full", full_page=True)

    # And back: the tasks' heading on screen, with the focus, so Tab goes on through the tasks.
    assert page.locator("#jump-to-tasks").inner_text() == "↑ Revenir aux tâches"
    page.locator("#jump-to-tasks").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'tasks-title'", timeout=5_000)
    assert in_viewport(page, "#tasks-title")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.task') !== null")
    screenshot(page, "lab-phone-back-to-tasks")


@pytest.fixture
def matrix_page(shipped_course, web_server, browser):  # noqa: F811
    ines = make_instructor("ines")
    classroom = Classroom.objects.create(course=shipped_course, owner=ines, title="Terminale NSI — groupe 2")
    for i in range(6):
        user = User.objects.create_user(f"eleve{i}", first_name=f"Élève{i}", last_name="Dupont-Martin")
        Membership.objects.create(classroom=classroom, user=user)
    task = shipped_course.labs.first().tasks.first()
    Submission.objects.create(user=User.objects.get(username="eleve0"), task=task, status=Submission.Status.PASSED)
    page = browser.new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, web_server, "ines", "pw-instructor-123", f"/classes/{classroom.pk}/progression/")
    yield page
    page.close()


HEADER_BOXES = """() => {
  const scroller = document.querySelector('.matrix-scroll').getBoundingClientRect();
  return [...document.querySelectorAll('th.matrix-activity')].map(th => {
    const span = th.querySelector('span');
    const range = document.createRange();
    range.selectNodeContents(span);
    const text = range.getBoundingClientRect(), cell = th.getBoundingClientRect(), box = span.getBoundingClientRect();
    return {title: span.textContent, text: [text.left, text.top, text.right, text.bottom], cell: [cell.left, cell.top, cell.right, cell.bottom],
            box: [box.left, box.top, box.right, box.bottom], clipped: span.scrollHeight > span.clientHeight + 1 || span.scrollWidth > span.clientWidth + 1,
            scroller: [scroller.left, scroller.top, scroller.right, scroller.bottom]};
  });
}"""


def inside(inner, outer, slack=0.5):
    return inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack


# Each header scrolled into the matrix's box in turn: is the whole of its text there, on top (the point at the middle of each
# of its lines hits the header's own text, nothing covers it)?
HEADERS_SEEN = """() => {
  const scroller = document.querySelector('.matrix-scroll');
  return [...document.querySelectorAll('th.matrix-activity span')].map(span => {
    span.closest('th').scrollIntoView({block: 'nearest', inline: 'nearest'});
    const box = scroller.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(span);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    const seen = rects.every(r => r.left >= box.left - 0.5 && r.right <= box.right + 0.5 && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5
      && span.contains(document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2)));
    return {title: span.textContent, seen, lines: new Set(rects.map(r => Math.round(r.left))).size};
  });
}"""


def test_the_matrix_rotated_headers_show_whole_titles_and_the_filters_fit_a_laptop_screen(matrix_page, shipped_course):
    page = matrix_page
    headers = page.evaluate(HEADER_BOXES)
    assert len(headers) >= 20  # the shipped course: lessons, quizzes and labs
    # The whole titles, not shortened ("…"): the longest of the course is 67 characters.
    titles = [activity.title for activity in activities_of(shipped_course)]
    assert [h["title"] for h in headers] == titles and max(map(len, titles)) > 60
    cut = [h for h in headers if h["clipped"] or not inside(h["text"], h["box"]) or not inside(h["box"], h["cell"])]
    assert cut == [], json.dumps(cut[:3], indent=1, ensure_ascii=False)
    # The header row sits inside the scrolling box, below its top edge: nothing hidden above it.
    assert all(h["cell"][1] >= h["scroller"][1] - 0.5 for h in headers)
    visible = [h for h in headers if h["cell"][0] < h["scroller"][2]]
    assert visible and all(inside([h["text"][0], h["text"][1], min(h["text"][2], h["scroller"][2]), h["text"][3]], h["scroller"]) for h in visible)
    # The page itself does not scroll sideways: the matrix scrolls in its box.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # A long title wraps beside itself rather than making the header row as tall as its one line: the row stays
    # low enough to leave the box most of its height for the learners.
    header_height = max(h["cell"][3] - h["cell"][1] for h in headers)
    scroller_height = headers[0]["scroller"][3] - headers[0]["scroller"][1]
    assert header_height <= 240 and header_height < scroller_height / 2, (header_height, scroller_height)
    screenshot(page, "instructor-matrix-1366")

    seen = page.evaluate(HEADERS_SEEN)
    hidden = [h for h in seen if not h["seen"]]
    assert hidden == [], json.dumps(hidden[:3], indent=1, ensure_ascii=False)
    assert max(h["lines"] for h in seen) >= 2  # the longest titles took a second line
    # Scrolled to its far right, the learners' column stays on the left edge of the box.
    learner, box = page.evaluate("""() => { const s = document.querySelector('.matrix-scroll'); s.scrollLeft = s.scrollWidth;
      const th = document.querySelector('tbody th.matrix-learner').getBoundingClientRect(), b = s.getBoundingClientRect();
      return [th.left, b.left]; }""")
    assert page.evaluate("document.querySelector('.matrix-scroll').scrollLeft") > 0 and abs(learner - box) <= 1.5
    screenshot(page, "instructor-matrix-1366-scrolled")
    page.evaluate("document.querySelector('.matrix-scroll').scrollLeft = 0; window.scrollTo(0, 0)")

    fields = page.evaluate("""() => [...document.querySelector('.matrix-filters').children].map(n => {
      const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    form = page.evaluate("(() => { const r = document.querySelector('.matrix-filters').getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()")
    assert all(inside(field, form) for field in fields)
    rows = {round(bottom) for _, _, _, bottom in fields}  # the fields line up on their bottom edge
    assert len(rows) <= 2, fields
    overlapping = [(a, b) for i, a in enumerate(fields) for b in fields[i + 1:]
                   if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5]
    assert overlapping == []
    assert serious_violations(page) == []  # axe-core, on the matrix with its whole titles
