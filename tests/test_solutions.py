"""« Voir la solution »: offered after the hint (or once passed), recorded once, shown to the instructor."""

from datetime import timedelta

import pytest
import yaml
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from classrooms import statistics
from courses.packs import read_pack
from labs.models import Lab, LabTask, SolutionView, Submission
from tests.classrooms_fixtures import T0, world  # noqa: F401
from tests.conftest import SHIPPED_PACK
from tests.test_lab_packs import LAB, lab_pack, problems_of, write_lab  # noqa: F401

pytestmark = pytest.mark.django_db

SOLUTION = "Le tag suit le nom, après deux-points.\n\n```sh\ndocker pull nginx:1.22\n```\n"


# --- The pack field -------------------------------------------------------------------------------


def test_a_tasks_solution_is_read_rendered_and_stored(lab_pack):
    from courses.packs import load_pack

    lab = {**LAB, "tasks": [{**LAB["tasks"][0], "solution": SOLUTION}, LAB["tasks"][1]]}
    pack = read_pack(write_lab(lab_pack, lab))
    first, second = pack.activities("labs")[0].tasks
    assert 'class="runnable language-sh"' in first.solution_html and "docker pull nginx:1.22" in first.solution_html
    assert second.solution_html == ""
    load_pack(pack)
    assert "deux-points" in LabTask.objects.get(slug="tirer-1-22").solution_html


def test_a_solution_block_naming_an_image_the_course_registry_lacks_is_refused(lab_pack):
    bad = "```sh\ndocker run -d postgres:16\n```\n"
    lab = {**LAB, "tasks": [{**LAB["tasks"][0], "solution": bad}]}
    problems = problems_of(write_lab(lab_pack, lab))
    assert any("postgres:16" in problem for problem in problems), problems


def test_a_solution_must_be_text(lab_pack):
    lab = {**LAB, "tasks": [{**LAB["tasks"][0], "solution": ["docker pull"]}]}
    assert any("tasks[0].solution" in problem for problem in problems_of(write_lab(lab_pack, lab)))


def test_every_shipped_task_has_a_solution_with_commands():
    for path in sorted((SHIPPED_PACK / "labs").glob("*.yaml")):
        for task in yaml.safe_load(path.read_text())["tasks"]:
            assert "```sh" in (task.get("solution") or ""), (path.name, task["slug"])


# --- The view and the lab page --------------------------------------------------------------------


@pytest.fixture
def lab(shipped_course):
    return Lab.objects.get(slug="tirer-une-version")


@pytest.fixture
def task(lab):
    return lab.tasks.get(slug="tirer-nginx-1-22")


def solution_url(task):
    return reverse("labs:task_solution", args=["docker-fr", task.lab.slug, task.slug])


def fail_twice(user, task):
    for _ in range(2):
        Submission.objects.create(user=user, task=task, status=Submission.Status.FAILED, message="Image absente")


def task_html(page, task):
    start = page.index(f'id="tache-{task.slug}"')
    return page[start: page.index("</li>", start)]


def test_the_solution_button_appears_only_with_the_hint(learner_client, learner, lab, task):
    html = task_html(learner_client.get(lab.get_absolute_url()).text, task)
    assert 'class="solution-form" hidden' in html and "Voir la solution" in html
    assert "Le tag suit le nom de l" not in html  # the solution itself is not on the page before it is opened
    fail_twice(learner, task)
    html = task_html(learner_client.get(lab.get_absolute_url()).text, task)
    assert 'class="solution-form">' in html and 'class="hint">' in html


def test_the_solution_is_refused_before_the_hint_and_nothing_is_recorded(learner_client, learner, task):
    Submission.objects.create(user=learner, task=task, status=Submission.Status.FAILED)
    response = learner_client.post(solution_url(task), HTTP_ACCEPT="application/json")
    assert response.status_code == 403 and "indice" in response.json()["error"]
    assert not SolutionView.objects.exists()


def test_opening_the_solution_returns_it_and_records_it_once(learner_client, learner, task):
    fail_twice(learner, task)
    first = learner_client.post(solution_url(task), HTTP_ACCEPT="application/json")
    assert first.status_code == 200 and "docker pull nginx:1.22" in first.json()["solution_html"]
    second = learner_client.post(solution_url(task), HTTP_ACCEPT="application/json")
    assert second.json()["seen_at"] == first.json()["seen_at"]
    [view] = SolutionView.objects.all()
    assert (view.user, view.task) == (learner, task)


def test_a_learner_who_passed_may_see_the_solution_and_it_is_still_recorded(learner_client, learner, task):
    Submission.objects.create(user=learner, task=task, status=Submission.Status.PASSED)
    assert learner_client.post(solution_url(task), HTTP_ACCEPT="application/json").status_code == 200
    assert SolutionView.objects.filter(user=learner, task=task).exists()


def test_without_javascript_the_form_leads_back_to_the_page_with_the_solution_open(learner_client, learner, lab, task):
    fail_twice(learner, task)
    response = learner_client.post(solution_url(task))
    assert response.status_code == 302 and response["Location"].endswith(f"#solution-{task.slug}")
    html = task_html(learner_client.get(response["Location"]).text, task)
    assert f'<details class="solution" id="solution-{task.slug}" open>' in html and "docker pull nginx:1.22" in html
    assert "solution-form" not in html


def test_each_learner_opens_only_their_own_record(client, learner, task):
    bob = User.objects.create_user("bob", "bob@example.com", "pw-bob-1234567")
    fail_twice(learner, task)  # alice's failures open nothing for bob
    client.force_login(bob)
    assert client.post(solution_url(task), HTTP_ACCEPT="application/json").status_code == 403
    fail_twice(bob, task)
    assert client.post(solution_url(task), HTTP_ACCEPT="application/json").status_code == 200
    assert list(SolutionView.objects.values_list("user__username", flat=True)) == ["bob"]


def test_the_solution_of_a_task_of_an_unpublished_lab_is_not_found(learner_client, learner, lab, task):
    fail_twice(learner, task)
    Lab.objects.filter(pk=lab.pk).update(is_published=False)
    assert learner_client.post(solution_url(task), HTTP_ACCEPT="application/json").status_code == 404
    LabTask.objects.filter(pk=task.pk).update(is_published=False)
    Lab.objects.filter(pk=lab.pk).update(is_published=True)
    assert learner_client.post(solution_url(task), HTTP_ACCEPT="application/json").status_code == 404
    assert not SolutionView.objects.exists()


def test_the_solution_view_takes_only_post(learner_client, task):
    assert learner_client.get(solution_url(task)).status_code == 405


# --- The instructor -------------------------------------------------------------------------------


def seen(user, task, at):
    view = SolutionView.objects.create(user=user, task=task)
    SolutionView.objects.filter(pk=view.pk).update(seen_at=at)


def test_the_learner_page_marks_the_solutions_seen_with_their_time(client, world):
    l1 = world.learners[0]
    seen(l1, world.tasks[0], T0 + timedelta(seconds=250))
    client.force_login(world.ines)
    page = client.get(reverse("classrooms:learner", args=[world.class_a.pk, l1.pk])).text
    assert "A vu la solution de <strong>Tirer une image — Tirer nginx</strong>" in page
    item = page[: page.index("A vu la solution")]
    at = timezone.localtime(T0 + timedelta(seconds=250))
    assert f'<li class="timeline-solution">\n    <time datetime="{at.isoformat()}">' in item[item.rindex("<li"):]


def test_lab_statistics_count_the_learners_who_saw_each_solution(client, world):
    l1, l2, l3, _l4 = world.learners
    t1, t2 = world.tasks
    for user in (l1, l3):
        seen(user, t1, T0)
    seen(world.zoe, t1, T0)  # another classroom: not counted in A
    seen(l2, t2, T0)
    [(_lab, (s1, s2))] = statistics.lab_statistics(world.class_a)
    assert (s1.solutions_seen, s2.solutions_seen) == (2, 1)
    client.force_login(world.ines)
    page = client.get(reverse("classrooms:lab_statistics", args=[world.class_a.pk])).text
    assert "Solution vue" in page and '<td class="solutions-seen">2</td>' in page and '<td class="solutions-seen">1</td>' in page
