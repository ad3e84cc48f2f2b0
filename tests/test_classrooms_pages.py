"""What an instructor sees: the progress matrix, exports, a learner's timeline, statistics, live sandboxes."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from classrooms import charts
from classrooms import matrix as progress_matrix
from classrooms.models import Classroom
from grader import engine
from grader.fake_engine import FakeEngine
from labs.models import Sandbox
from labs.sandboxes import spec_for
from tests.classrooms_fixtures import T0, add_learners, make_instructor, sandbox, world  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def ines_client(client, world):
    client.force_login(world.ines)
    client.cookies["django_language"] = "en"
    return client


def url(name, world, *args):
    return reverse(f"classrooms:{name}", args=[world.class_a.pk, *args])


def test_the_matrix_holds_each_learners_values_totals_and_progress(world):
    matrix = progress_matrix.build(world.class_a)
    assert [a.kind for a in matrix.activities] == ["lesson", "lesson", "quiz", "lab"]
    l1, l2, l3, l4 = matrix.rows
    lesson1, lesson2, quiz, lab = matrix.activities
    assert l1.values == {lesson1.key: True, lesson2.key: True, quiz.key: 1.0, lab.key: 2}
    # l1: 2 lessons + quiz 1.0 + 2 tasks over 2 + 1 + 2 = 5 → 100 %; l2: 1 + 2/3 + 1 = 2.667/5 → 53 %
    assert l1.percent == 100 and l2.percent == 53
    assert matrix.cell(l1, quiz) == ("100 %", "done") and matrix.cell(l3, quiz) == ("33 %", "low")
    assert matrix.cell(l2, lab) == ("1/2", "mid") and matrix.cell(l4, lab) == ("0/2", "")
    assert (lesson1.done, lesson2.done, quiz.done, lab.done) == (2, 1, 4, 1)
    assert progress_matrix.activity_average(lab, 4) == 38  # 3 tasks passed of 4 × 2


def test_matrix_sorts_by_progress_and_filters_learners_and_activities(world):
    by_progress = progress_matrix.build(world.class_a, sort="-progress")
    assert [r.user.username for r in by_progress.rows] == ["l1", "l2", "l3", "l4"]
    lowest = progress_matrix.build(world.class_a, sort="progress")
    assert [r.user.username for r in lowest.rows] == ["l4", "l3", "l2", "l1"]
    assert [r.user.username for r in progress_matrix.build(world.class_a, search="l3").rows] == ["l3"]
    only_quizzes = progress_matrix.build(world.class_a, kinds=["quiz"])
    assert [a.kind for a in only_quizzes.activities] == ["quiz"]
    assert only_quizzes.rows[0].percent == 100  # totals still cover the whole course


def test_matrix_page_shows_colour_coded_cells_totals_charts_and_exports(ines_client, world):
    page = ines_client.get(url("matrix", world), {"sort": "-progress"}).text
    assert "Learner1 Test" in page and 'class="cell cell-done">100 %' in page
    assert page.index("Learner1") < page.index("Learner4")
    assert url("matrix_csv", world) in page and url("attempts_csv", world) in page
    assert '<svg class="chart"' in page and "<title id=\"completion-title\">" in page and "<desc id=\"scores-desc\">" in page
    filtered = ines_client.get(url("matrix", world), {"q": "l2", "kind": "lab"}).text
    assert "Learner2" in filtered and "Learner1" not in filtered and "Leçon 1" not in filtered


def test_matrix_and_statistics_pages_run_the_same_number_of_queries_for_5_or_30_learners(client, world, django_assert_max_num_queries):
    owner = make_instructor("carla")
    counts = {}
    for size in (5, 30):
        classroom = Classroom.objects.create(course=world.course, owner=owner, title=f"Classe de {size}")
        add_learners(classroom, world.course, size)
        client.force_login(owner)
        for name in ("matrix", "quiz_statistics", "lab_statistics", "detail", "sandboxes", "matrix_csv", "attempts_csv"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(f"classrooms:{name}", args=[classroom.pk])).status_code == 200
            counts[(name, size)] = len(queries)
    for name in ("matrix", "quiz_statistics", "lab_statistics", "detail", "sandboxes", "matrix_csv", "attempts_csv"):
        assert counts[(name, 5)] == counts[(name, 30)], (name, counts[(name, 5)], counts[(name, 30)])
    with django_assert_max_num_queries(15):
        client.get(reverse("classrooms:matrix", args=[classroom.pk]))


def read_csv(response):
    body = response.content
    assert body.startswith("\ufeff".encode("utf-8"))
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_matrix_csv_has_one_row_per_learner_one_column_per_activity_and_totals(ines_client, world):
    response = ines_client.get(url("matrix_csv", world))
    assert response["Content-Type"] == "text/csv; charset=utf-8" and "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header == [
        "Username", "Name", "Lesson: Leçon 1", "Lesson: Leçon 2", "Quiz: Quiz des bases (%)", "Lab: Tirer une image (/2)",
        "Lessons read (/2)", "Quiz average (%)", "Lab tasks passed (/2)", "Progress (%)",
    ]
    assert rows == [
        ["l1", "Learner1 Test", "1", "1", "100", "2", "2", "100", "2", "100"],
        ["l2", "Learner2 Test", "1", "", "67", "1", "1", "67", "1", "53"],
        ["l3", "Learner3 Test", "", "", "33", "", "0", "33", "0", "7"],
        ["l4", "Learner4 Test", "", "", "0", "", "0", "0", "0", "0"],
    ]


def test_attempts_csv_has_one_row_per_attempt(ines_client, world):
    header, *rows = read_csv(ines_client.get(url("attempts_csv", world)))
    assert header[:4] == ["Username", "Name", "Quiz", "Attempt"]
    assert sorted((r[0], r[2], r[3], r[4], r[7]) for r in rows) == [
        ("l1", "Quiz des bases", "1", "submitted", "100"), ("l2", "Quiz des bases", "1", "submitted", "67"),
        ("l3", "Quiz des bases", "1", "submitted", "33"), ("l4", "Quiz des bases", "1", "submitted", "0"),
    ]


def test_learner_page_shows_a_timeline_of_lessons_attempts_and_checks_with_messages(ines_client, world):
    page = ines_client.get(url("learner", world, world.learners[0].pk)).text
    assert "Read the lesson" in page and "Leçon 2" in page
    assert "attempt 1: 100 %" in page
    assert "Tirer une image — Tirer nginx" in page and "Image absente" in page and "Bravo" in page
    assert page.index("Lancer web") < page.index("Leçon 1")  # newest first


def test_quiz_statistics_page_documents_and_shows_the_indices(ines_client, world):
    page = ines_client.get(url("quiz_statistics", world)).text
    assert "Facility index" in page and "Moodle" in page and "rest of the attempt" in page
    assert "71 %" in page and "50 %" in page and "2 (50 %)" in page
    assert "Top wrong answers" in page and "1 (25 %) — <code>ip</code>" in page


def test_lab_statistics_page_shows_medians_and_frequent_failures(ines_client, world):
    page = ines_client.get(url("lab_statistics", world)).text
    assert "2 / 4" in page and "180 s" in page
    assert "3 ×</strong> Image absente" in page and "1 ×</strong> Mauvaise version" in page


def test_live_sandboxes_show_memory_or_a_dash_when_the_engine_does_not_answer(ines_client, world, monkeypatch):
    now = timezone.now()
    first = sandbox(world.learners[0], world.lab, at=now - timedelta(minutes=5), status=Sandbox.Status.READY)
    second = sandbox(world.learners[1], world.lab, at=now - timedelta(minutes=2), status=Sandbox.Status.READY)
    sandbox(world.learners[2], world.lab, at=now, status=Sandbox.Status.STOPPED)
    sandbox(world.zoe, world.lab, at=now, status=Sandbox.Status.READY)

    fake = FakeEngine()  # it runs the first sandbox's container only: the second one's does not answer
    fake.start_sandbox(spec_for(first))
    fake.sandboxes[first.container_name].memory_bytes = 50 * 1024 * 1024
    monkeypatch.setattr(engine, "default", lambda: fake)
    page = ines_client.get(url("sandboxes", world)).text
    assert "Learner1 Test" in page and "Learner2 Test" in page and "Learner3" not in page and "Zoé" not in page
    rows = {row.split("</td>", 1)[0]: row for row in page.split("<tr>")[2:]}
    first_row = next(row for row in rows.values() if "Learner1 Test" in row)
    second_row = next(row for row in rows.values() if "Learner2 Test" in row)
    assert "50.0\xa0MB" in first_row and "Not available" not in first_row
    assert "50.0\xa0MB" not in second_row and '<span title="Not available">—</span>' in second_row
    assert url("sandbox_stop", world, second.pk) in page and url("sandbox_extend", world, second.pk) in page


def test_instructor_stops_and_extends_a_learners_sandbox_row(ines_client, world, settings):
    now = timezone.now()
    live = sandbox(world.learners[0], world.lab, at=now, status=Sandbox.Status.READY)
    before = live.expires_at
    ines_client.post(url("sandbox_extend", world, live.pk))
    live.refresh_from_db()
    assert live.expires_at == before + timedelta(minutes=settings.SANDBOX_EXTEND_MINUTES) and live.extensions == 1
    ines_client.post(url("sandbox_stop", world, live.pk))
    live.refresh_from_db()
    assert live.status == Sandbox.Status.STOPPED
    response = ines_client.post(url("sandbox_stop", world, live.pk), follow=True)
    assert "This sandbox was already stopped." in [str(m) for m in response.context["messages"]]


def test_completion_series_and_histogram_match_figures_worked_out_by_hand():
    day = T0.date()
    series = charts.completion_series([day, day, day + timedelta(days=2)], start=day, end=day + timedelta(days=2), members=2, lessons=2)
    assert series == [(day, 50.0), (day + timedelta(days=1), 50.0), (day + timedelta(days=2), 75.0)]
    assert charts.histogram([0, 0.05, 0.5, 1.0], bins=4) == [(0, 25, 2), (25, 50, 0), (50, 75, 1), (75, 100, 1)]


def test_charts_are_svg_with_a_title_and_a_description():
    svg = charts.bar_chart([(0, 50, 3), (50, 100, 1)], chart_id="x", title="Scores <b>", description="Two bands")
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title id=\"x-title\">Scores &lt;b&gt;</title>" in svg
    assert svg.count('class="chart-bar"') == 2


def test_matrix_sort_links_keep_the_filters(ines_client, world):
    page = ines_client.get(url("matrix", world), {"q": "l2", "kind": "quiz"}).text
    assert 'href="?q=l2&amp;kind=quiz&amp;sort=-progress"' in page


def test_quiz_statistics_page_draws_the_distribution_of_attempt_scores(ines_client, world):
    page = ines_client.get(url("quiz_statistics", world)).text
    assert f'<title id="quiz-{world.quiz.pk}-title">Scores at « Quiz des bases »</title>' in page
    assert page.count('class="chart-bar"') == 10


def test_every_page_of_an_empty_classroom_renders(client, world):
    empty = Classroom.objects.create(course=world.course, owner=world.ines, title="Vide")
    client.force_login(world.ines)
    for name in ("detail", "matrix", "quiz_statistics", "lab_statistics", "sandboxes", "matrix_csv", "attempts_csv"):
        assert client.get(reverse(f"classrooms:{name}", args=[empty.pk])).status_code == 200, name
