"""Issue 14's flow around the course: confirmations before a sandbox is destroyed, a way out of "you already
have a sandbox", messages that say what they are, the 403 page, read marks, onboarding, exports, the admin."""

import csv
import io
import re
from datetime import datetime, timezone as dt_timezone

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from courses.models import LessonProgress
from labs.models import Lab, Sandbox
from quizzes.models import Attempt
from tests.classrooms_fixtures import make_instructor, world  # noqa: F401
from tests.test_lab_access import bob, lab, make_sandbox  # noqa: F401

pytestmark = pytest.mark.django_db


def test_stop_and_reset_ask_first_and_a_get_changes_nothing(learner_client, learner, lab):
    sandbox = make_sandbox(learner, lab)
    for name, question in [("labs:sandbox_stop", "Arrêter ce bac à sable maintenant ?"), ("labs:sandbox_reset", "Remplacer ce bac à sable par un neuf ?")]:
        page = learner_client.get(reverse(name, args=[sandbox.pk]))
        assert page.status_code == 200 and question in page.text
        assert f'<form method="post" class="confirm-actions">' in page.text and lab.get_absolute_url() in page.text
        sandbox.refresh_from_db()
        assert sandbox.status == Sandbox.Status.READY
    lab_page = learner_client.get(lab.get_absolute_url()).text
    # Without JavaScript the buttons lead to those pages; with it, data-confirm opens a dialog.
    assert f'method="get" action="{reverse("labs:sandbox_stop", args=[sandbox.pk])}" data-confirm=' in lab_page
    assert f'method="get" action="{reverse("labs:sandbox_reset", args=[sandbox.pk])}" data-confirm=' in lab_page
    response = learner_client.post(reverse("labs:sandbox_stop", args=[sandbox.pk]), follow=True)
    sandbox.refresh_from_db()
    assert sandbox.status == Sandbox.Status.STOPPED
    assert 'class="message message-success" role="status"' in response.text and "Fait :" in response.text


def test_another_learner_cannot_see_the_confirmation_page(client, learner, bob, lab):
    sandbox = make_sandbox(learner, lab)
    client.force_login(bob)
    assert client.get(reverse("labs:sandbox_stop", args=[sandbox.pk])).status_code == 404


def test_a_running_sandbox_elsewhere_is_linked_and_can_be_stopped_to_start_here(learner_client, learner, lab, bob, django_capture_on_commit_callbacks):
    other_lab = Lab.objects.get(slug="premier-conteneur")
    other = make_sandbox(learner, other_lab)
    page = learner_client.get(lab.get_absolute_url()).text
    assert "Vous avez déjà un bac à sable en marche" in page and f'href="{other_lab.get_absolute_url()}"' in page
    assert f'name="replace" value="{other.pk}"' in page and "L’arrêter et démarrer ici" in page
    # Someone else's sandbox cannot be named to be stopped.
    bobs = make_sandbox(bob, other_lab)
    assert learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), {"replace": bobs.pk}).status_code == 404
    with django_capture_on_commit_callbacks():
        learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), {"replace": other.pk})
    other.refresh_from_db()
    bobs.refresh_from_db()
    assert other.status == Sandbox.Status.STOPPED and bobs.status == Sandbox.Status.READY
    assert Sandbox.objects.filter(owner=learner, lab=lab, status__in=Sandbox.LIVE).exists()


def test_a_refused_start_names_the_running_sandbox_in_json(learner_client, learner, lab):
    other = make_sandbox(learner, Lab.objects.get(slug="premier-conteneur"))
    response = learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert response.json()["running"] == [{"id": other.pk, "lab": "Premier conteneur", "url": other.lab.get_absolute_url()}]


def test_errors_are_alerts_with_their_own_icon_and_word(learner_client, learner, lab):
    make_sandbox(learner, Lab.objects.get(slug="premier-conteneur"))
    page = learner_client.post(reverse("labs:sandbox_start", args=["docker-fr", lab.slug]), follow=True).text
    assert re.search(r'class="message message-error" role="alert">\s*<span class="message-icon" aria-hidden="true">✕</span>\s*<span class="message-kind">Erreur :</span>', page)


def test_task_verdicts_tell_success_from_failure_by_colour_icon_and_word(learner_client, learner, lab):
    from labs.models import Submission

    sandbox = make_sandbox(learner, lab)
    passed, failed, broken, held = lab.tasks.order_by("position")[:4]
    for task, status, message in [(passed, "passed", "Bien tirée."), (failed, "failed", "Pas d’image nginx:1.22."),
                                  (broken, "error", "Le démon ne répond pas."), (held, "regressed", "Ce n’est plus vrai.")]:
        Submission.objects.create(user=learner, task=task, sandbox=sandbox, status=status, message=message)
    page = learner_client.get(lab.get_absolute_url()).text

    def verdict(task):
        found = re.search(rf'id="tache-{task.slug}".*?<div class="verdict ([\w-]+)"[^>]*>(.*?)</div>', page, re.S)
        return found[1], re.sub(r"\s+", " ", found[2]).strip()

    assert verdict(passed) == ("verdict-passed", '<span class="message-icon" aria-hidden="true">✓</span> <span class="verdict-body">'
                                                 '<span class="verdict-kind">Réussi :</span> <span class="verdict-text">Bien tirée.</span></span>')
    assert verdict(failed)[0] == "verdict-failed" and '>✕</span>' in verdict(failed)[1] and "Pas encore :" in verdict(failed)[1]
    assert verdict(broken)[0] == "verdict-error" and '>!</span>' in verdict(broken)[1] and "Erreur :" in verdict(broken)[1]
    assert verdict(held)[0] == "verdict-regressed" and '>✕</span>' in verdict(held)[1] and "Défait :" in verdict(held)[1]
    # lab.js builds the same for the verdicts it shows later, with these words.
    assert 'data-verdict-passed="Réussi :" data-verdict-failed="Pas encore :" data-verdict-regressed="Défait :" data-verdict-error="Erreur :"' in page
    learner_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = learner_client.get(lab.get_absolute_url()).text
    assert 'data-verdict-passed="Passed:" data-verdict-failed="Not yet:" data-verdict-regressed="Undone:" data-verdict-error="Error:"' in english
    assert '<span class="verdict-kind">Passed:</span> <span class="verdict-text">Bien tirée.</span>' in english


def test_the_terminal_names_its_input_and_its_way_out_in_the_learners_language(learner_client, learner, lab):
    make_sandbox(learner, lab)
    page = learner_client.get(lab.get_absolute_url()).text
    assert 'data-input-label="Saisie du terminal : les commandes tapées ici s’exécutent dans votre bac à sable"' in page
    assert "Échap puis Tab sort du terminal" in page and 'id="terminal-help"' in page
    learner_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = learner_client.get(lab.get_absolute_url()).text
    assert 'data-input-label="Terminal input: commands typed here run in your sandbox"' in page
    assert "Esc then Tab leaves the terminal" in page


def test_countdowns_are_hidden_while_provisioning_and_read_as_minutes(learner_client, learner, lab):
    sandbox = make_sandbox(learner, lab, status=Sandbox.Status.PROVISIONING)
    page = learner_client.get(lab.get_absolute_url()).text
    assert '<dl class="countdowns" hidden id="countdowns">' in page
    sandbox.status = Sandbox.Status.READY
    sandbox.save()
    page = learner_client.get(lab.get_absolute_url()).text
    assert re.search(r'id="expires-in" data-seconds="\d+">59 min \d\d s</time>', page)


def test_instructors_area_refuses_learners_with_a_styled_page(client, learner):
    client.force_login(learner)
    response = client.get(reverse("classrooms:list"))
    assert response.status_code == 403
    assert "Accès refusé" in response.text and "réservée aux formateurs" in response.text and 'class="site-header"' in response.text


def test_a_lesson_read_can_be_unmarked_and_waits_a_minimum_time(learner_client, learner, mini_course):
    lesson = mini_course.lessons.get(slug="intro")
    page = learner_client.get(reverse("courses:lesson", args=["mini", "intro"])).text
    minimum = max(10, min(120, lesson.minutes * 60 // 4))
    assert f'data-min-seconds="{minimum}"' in page
    learner_client.post(reverse("courses:mark_read", args=["mini", "intro"]))
    page = learner_client.get(reverse("courses:lesson", args=["mini", "intro"])).text
    assert "Marquer comme non lue" in page
    response = learner_client.post(reverse("courses:mark_unread", args=["mini", "intro"]))
    assert response.status_code == 302 and not LessonProgress.objects.filter(user=learner, lesson=lesson).exists()
    assert 'id="mark-read-form"' in learner_client.get(reverse("courses:lesson", args=["mini", "intro"])).text


def test_sign_up_leads_to_the_onboarding_then_where_the_learner_was_going(client):
    response = client.post(reverse("signup") + "?next=/mon-parcours/", {
        "username": "newbie", "email": "newbie@example.com", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
        "next": "/mon-parcours/",
    })
    assert response["Location"] == reverse("welcome") + "?next=%2Fmon-parcours%2F"
    page = client.get(response["Location"]).text
    assert "Un bac à sable est votre propre machine Docker" in page and "<kbd>Échap</kbd>" in page
    assert 'href="/mon-parcours/"' in page
    assert 'href="/"' in client.get(reverse("welcome") + "?next=https://evil.example/").text


def test_every_page_has_a_favicon(client, mini_course):
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").text


def test_attempts_csv_speaks_the_readers_language_and_local_time(client, world):
    client.force_login(world.ines)
    Attempt.objects.filter(user=world.learners[0]).update(started_at=datetime(2025, 1, 15, 9, 30, 12, 345678, tzinfo=dt_timezone.utc))
    body = client.get(reverse("classrooms:attempts_csv", args=[world.class_a.pk])).content.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header[5] == "Commencée (Europe/Paris)" and header[6] == "Envoyée (Europe/Paris)"
    mine = next(row for row in rows if row[0] == "l1")
    assert mine[4] == "envoyée" and mine[5] == "2025-01-15 10:30:12" and mine[8] == "non"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[6]) for row in rows)


def test_admin_lists_labs_sandboxes_and_checks_read_only(client, learner, lab):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-1234567")
    client.force_login(admin)
    sandbox = make_sandbox(learner, lab)
    for name in ("labs_lab_changelist", "labs_sandbox_changelist", "labs_submission_changelist"):
        assert client.get(reverse(f"admin:{name}")).status_code == 200
    assert client.get(reverse("admin:labs_sandbox_add")).status_code == 403
    page = client.get(reverse("admin:labs_sandbox_change", args=[sandbox.pk])).text
    assert 'name="status"' not in page  # shown, not editable


def test_admin_lists_playgrounds_and_their_sandboxes_read_only(client, learner):
    from django.utils import timezone

    from labs.models import Playground

    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-1234567")
    client.force_login(admin)
    now = timezone.now()
    ground = Playground.objects.create(owner=learner, has_storage=True, last_used_at=now)
    run = Sandbox.objects.create(owner=learner, playground=ground, status=Sandbox.Status.STOPPED, expires_at=now, last_activity_at=now)
    listing = client.get(reverse("admin:labs_playground_changelist"), {"q": learner.username}, HTTP_ACCEPT_LANGUAGE="fr")
    assert listing.status_code == 200 and learner.username in listing.text
    page = client.get(reverse("admin:labs_playground_change", args=[ground.pk]), HTTP_ACCEPT_LANGUAGE="fr").text
    assert "Stockage conservé jusqu’au" in page and ground.disk_path in page
    assert reverse("admin:labs_sandbox_change", args=[run.pk]) in page  # its sandboxes, each a link to its record
    assert 'name="generation"' not in page and 'name="sandboxes-0-status"' not in page  # shown, not editable
    assert client.get(reverse("admin:labs_playground_add")).status_code == 403
    assert client.get(reverse("admin:labs_playground_delete", args=[ground.pk])).status_code == 403
    sandboxes = client.get(reverse("admin:labs_sandbox_changelist"), {"kind": "playground"}).text
    assert reverse("admin:labs_sandbox_change", args=[run.pk]) in sandboxes
    assert Playground.objects.get().generation == 1
