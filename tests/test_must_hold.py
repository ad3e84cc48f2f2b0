"""Tasks that must still hold at the end (`must_hold`), on the in-memory engine: a pass is judged again on later
events, when the lab is finished and when the sandbox ends; one that no longer holds is undone by a new
Submission (the pass kept), everywhere a pass is counted. And the pack field that asks for it."""

import shutil
from pathlib import Path

import pytest
import yaml
from django.urls import reverse
from django.utils import timezone

from classrooms import matrix, statistics
from classrooms.models import Classroom, Membership
from courses.models import Chapter, Course
from courses.packs import PackError, read_pack
from grader import events
from grader.snapshot import Image, Snapshot
from labs import grading, holding, live, sandboxes
from labs.models import Lab, LabTask, Submission
from lti import scores
from tests.classrooms_fixtures import make_instructor
from tests.test_live_checks import ready  # noqa: F401 (a fixture, on this module's lab)

NGINX = Image(id="sha256:" + "a" * 64, tags=("nginx:1.22",), digests=("nginx@sha256:" + "d" * 64,))
REDIS = Image(id="sha256:" + "b" * 64, tags=("redis:7.0",), digests=("redis@sha256:" + "e" * 64,))


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lab = Lab.objects.create(course=course, chapter=chapter, slug="garder", title="Garder", minutes=5, position=1,
                             source_path="labs/garder.yaml", instructions_markdown="", instructions_html="")
    LabTask.objects.create(lab=lab, slug="garder-nginx", title="Garder nginx", position=1, prompt_html="", check_name="image_present",
                           check_params={"image": "nginx:1.22"}, must_hold=True)
    LabTask.objects.create(lab=lab, slug="tirer-redis", title="Tirer redis", position=2, prompt_html="", check_name="image_present",
                           check_params={"image": "redis:7.0"})
    return lab




def holds(fake, sandbox, *images):
    fake.sandboxes[sandbox.container_name].state = Snapshot(images=images)


def event(ref, action="pull"):
    return (events.parse_event({"Type": "image", "Action": action, "Actor": {"ID": ref, "Attributes": {}}, "timeNano": int(timezone.now().timestamp() * 1e9)}), True)


def passed_slugs(user, lab):
    return [task.slug for task in grading.tasks_with_progress(user, lab) if task.passed]


def test_a_pass_that_no_longer_holds_is_undone_by_a_new_submission_and_the_page_is_told(ready, lab):
    fake, user, sandbox = ready
    holds(fake, sandbox, NGINX)
    first = live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    assert [s.task.slug for s in first.passed] == ["garder-nginx"] and passed_slugs(user, lab) == ["garder-nginx"]

    holds(fake, sandbox)
    undone = live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22", "delete")])
    assert undone.passed == [] and [s.task.slug for s in undone.regressed] == ["garder-nginx"]
    regression = undone.regressed[0]
    assert regression.status == Submission.Status.REGRESSED and regression.automatic and regression.sandbox_id == sandbox.pk
    assert regression.message.startswith("Ce n'est plus vrai : ") and "nginx:1.22" in regression.message
    # The history is honest: the pass is kept as it was, the regression comes after it.
    history = list(Submission.objects.filter(task__slug="garder-nginx").order_by("pk").values_list("status", flat=True))
    assert history == ["passed", "regressed"]
    assert undone.message()["regressed"] == [{"task": "garder-nginx", "message": regression.message, "id": regression.pk}]
    assert [line["kind"] for line in undone.lines][-1] == "regressed"
    assert undone.lines[-1]["text"].startswith("tâche 1 plus réussie (Garder nginx) : ")
    assert passed_slugs(user, lab) == []

    # Open again: doing it again passes it again.
    holds(fake, sandbox, NGINX)
    again = live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    assert [s.task.slug for s in again.passed] == ["garder-nginx"] and passed_slugs(user, lab) == ["garder-nginx"]
    tasks_lines = [entry["text"].split(" : ")[0] for entry in live.timeline(user, lab) if entry["text"].startswith("tâche")]
    assert tasks_lines == ["tâche 1 réussie (Garder nginx)", "tâche 1 plus réussie (Garder nginx)", "tâche 1 réussie (Garder nginx)"]


def test_a_task_without_must_hold_stays_passed_and_a_finished_labs_passes_are_final(ready, lab):
    fake, user, sandbox = ready
    holds(fake, sandbox, REDIS)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("redis:7.0")])
    holds(fake, sandbox)
    assert live.record_and_regrade(sandbox.pk, engine=fake, events=[event("redis:7.0", "delete")]).regressed == []
    assert passed_slugs(user, lab) == ["tirer-redis"]

    # Both done in one burst: the lab is finished, nginx held at the finish, and its pass is now final.
    holds(fake, sandbox, NGINX)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    assert holding.lab_finished(user.pk, lab.pk)
    holds(fake, sandbox)
    assert live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22", "delete")]).regressed == []
    assert passed_slugs(user, lab) == ["garder-nginx", "tirer-redis"]


def test_the_check_that_finishes_the_lab_judges_what_must_hold(ready, lab):
    fake, user, sandbox = ready
    holds(fake, sandbox, NGINX)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    # Undone while no watcher saw it, then the last task passed on Check: the finish is judged on the whole lab.
    holds(fake, sandbox, REDIS)
    check = grading.submit(user=user, task=LabTask.objects.get(slug="tirer-redis"), sandbox=sandbox)
    assert grading.grade(check.pk, engine=fake).status == Submission.Status.PASSED
    assert passed_slugs(user, lab) == ["tirer-redis"] and not holding.lab_finished(user.pk, lab.pk)
    assert Submission.objects.filter(task__slug="garder-nginx", status=Submission.Status.REGRESSED).count() == 1


def test_the_sandboxs_end_judges_what_must_hold_a_last_time(ready, lab):
    fake, user, sandbox = ready
    holds(fake, sandbox, NGINX)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    # Still live: the end's judgement waits for the end.
    assert holding.judge_at_end(sandbox.pk, engine=fake) == []
    holds(fake, sandbox)
    sandboxes.stop(sandbox)
    [regression] = holding.judge_at_end(sandbox.pk, engine=fake)
    assert regression.task.slug == "garder-nginx" and passed_slugs(user, lab) == []
    # A removal delivered twice judges nothing twice.
    assert holding.judge_at_end(sandbox.pk, engine=fake) == []


def test_a_pass_that_held_until_the_sandboxs_end_stays_and_a_dead_daemon_undoes_nothing(ready, lab):
    fake, user, sandbox = ready
    holds(fake, sandbox, NGINX)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    sandboxes.stop(sandbox)
    assert holding.judge_at_end(sandbox.pk, engine=fake) == []
    fake.sandboxes[sandbox.container_name].daemon_answers = False
    holds(fake, sandbox)
    assert holding.judge_at_end(sandbox.pk, engine=fake) == []
    assert passed_slugs(user, lab) == ["garder-nginx"]


def test_every_count_of_passes_leaves_out_an_undone_one(ready, lab, client):
    fake, user, sandbox = ready
    holds(fake, sandbox, NGINX, REDIS)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    # Passed and undone in the same burst is impossible; a second task keeps the lab unfinished.
    Submission.objects.filter(task__slug="tirer-redis").delete()
    holds(fake, sandbox)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22", "delete")])

    ines = make_instructor("ines")
    classroom = Classroom.objects.create(course=lab.course, owner=ines, title="Classe A")
    Membership.objects.create(classroom=classroom, user=user)
    assert matrix.build(classroom).rows[0].tasks_passed == 0
    assert scores.lab_fraction(user, lab) == 0
    assert grading.labs_with_progress(user, lab.course)[0].passed_count == 0
    [(_, stats)] = statistics.lab_statistics(classroom)
    assert (stats[0].learners_passed, stats[0].learners_regressed) == (0, 1)

    client.force_login(ines)
    page = client.get(reverse("classrooms:learner", args=[classroom.pk, user.pk])).text
    assert "<strong>Garder — Garder nginx</strong> n'est plus réussie (elle devait rester vraie jusqu'à la fin)" in page
    assert "tâche 1 plus réussie (Garder nginx)" in page
    stats_page = client.get(reverse("classrooms:lab_statistics", args=[classroom.pk])).text
    assert "(1 défaite)" in stats_page and "doit rester vrai jusqu'à la fin" in stats_page


def test_the_lab_page_says_which_tasks_must_stay_true_and_shows_what_undid_one(ready, lab, client):
    fake, user, sandbox = ready
    holds(fake, sandbox, NGINX)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22")])
    holds(fake, sandbox)
    live.record_and_regrade(sandbox.pk, engine=fake, events=[event("nginx:1.22", "delete")])
    client.force_login(user)
    page = client.get(lab.get_absolute_url()).text
    assert page.count('class="must-hold"') == 1 and "doit rester vrai jusqu'à la fin" in page
    assert 'class="task" id="tache-garder-nginx"' in page and "verdict-regressed" in page and "Ce n&#x27;est plus vrai" in page


# --- The pack field -------------------------------------------------------------------------------------------


def test_the_pack_loads_must_hold_and_refuses_a_value_that_is_not_true_or_false(tmp_path):
    pack = Path(__file__).resolve().parent.parent / "content" / "docker-fr"
    lab = yaml.safe_load((pack / "labs" / "faire-le-menage.yaml").read_text())
    loaded = {task.slug: task.must_hold for item in read_pack(pack).activities("labs") if item.slug == "faire-le-menage" for task in item.tasks}
    assert loaded == {"mesurer": False, "conteneurs-arretes": True, "images-pendantes": True, "supprimer-vieux-site": False}

    copy = tmp_path / "pack"


    shutil.copytree(pack, copy)
    text = (copy / "labs" / "faire-le-menage.yaml").read_text()
    (copy / "labs" / "faire-le-menage.yaml").write_text(text.replace("    must_hold: true\n", "    must_hold: oui jusqu'au bout\n", 1))
    with pytest.raises(PackError) as refused:
        read_pack(copy)
    [problem] = refused.value.problems
    line = text.splitlines().index("    must_hold: true") + 1
    assert (problem.file.endswith("labs/faire-le-menage.yaml"), problem.line, problem.field) == (True, line, "tasks[1].must_hold")
    assert "is not true or false" in problem.message
    assert lab["tasks"][1]["must_hold"] is True
