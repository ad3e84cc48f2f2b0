import re

import pytest
from django.urls import reverse
from django.utils import timezone

from courses.models import Lesson, LessonProgress
from courses.packs import load_pack, read_pack

pytestmark = pytest.mark.django_db


def lesson_url(course, slug):
    return reverse("courses:lesson", args=[course.slug, slug])


def test_anonymous_visitor_can_read_the_outline_and_a_lesson(client, mini_course):
    outline = client.get(mini_course.get_absolute_url())
    assert outline.status_code == 200
    assert "Les bases" in outline.text and "Introduction" in outline.text
    lesson = client.get(lesson_url(mini_course, "intro"))
    assert lesson.status_code == 200
    assert "Marquer comme lu" not in lesson.text


def test_lesson_page_has_toc_previous_next_and_figure(client, mini_course):
    page = client.get(lesson_url(mini_course, "images")).text
    assert 'href="#lister"' in page
    assert f'rel="prev" href="{lesson_url(mini_course, "intro")}"' in page
    assert f'rel="next" href="{lesson_url(mini_course, "volumes")}"' in page
    first = client.get(lesson_url(mini_course, "intro")).text
    assert 'rel="prev"' not in first
    assert '<img src="/cours/mini/fichiers/figures/carre.svg" alt="Un carré"' in first


def test_figure_is_served_as_svg_that_cannot_run_scripts(client, mini_course):
    response = client.get("/cours/mini/fichiers/figures/carre.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert client.get("/cours/mini/fichiers/figures/absente.svg").status_code == 404


def test_learner_marks_a_lesson_read_and_the_outline_shows_it(learner_client, learner, mini_course):
    response = learner_client.post(reverse("courses:mark_read", args=["mini", "intro"]))
    assert response.status_code == 302
    assert LessonProgress.objects.filter(user=learner, lesson__slug="intro").count() == 1
    outline = learner_client.get(mini_course.get_absolute_url()).text
    assert '<progress max="3" value="1"' in outline
    assert "1 sur 3 lues (33 %)" in outline
    assert re.search(r'class="lesson is-read">\s*<a href="/cours/mini/intro/"', outline)


def test_marking_read_twice_keeps_one_row_and_the_first_date(learner_client, learner, mini_course):
    url = reverse("courses:mark_read", args=["mini", "intro"])
    learner_client.post(url)
    first = LessonProgress.objects.get(user=learner).read_at
    response = learner_client.post(url, HTTP_ACCEPT="application/json")
    assert response.json() == {"lesson": "intro", "read": True}
    assert LessonProgress.objects.get(user=learner).read_at == first


def test_mark_read_redirects_to_the_next_lesson_but_never_off_site(learner_client, mini_course):
    url = reverse("courses:mark_read", args=["mini", "intro"])
    assert learner_client.post(url, {"next": "/cours/mini/images/"})["Location"] == "/cours/mini/images/"
    assert learner_client.post(url, {"next": "https://evil.example/"})["Location"] == "/cours/mini/intro/"


def test_lesson_page_of_a_read_lesson_says_so(learner_client, mini_course):
    learner_client.post(reverse("courses:mark_read", args=["mini", "intro"]))
    page = learner_client.get(lesson_url(mini_course, "intro")).text
    assert "Leçon lue." in page and 'id="mark-read-form"' not in page


def test_anonymous_users_are_sent_to_log_in_from_learner_pages(client, mini_course):
    for method, url in [("get", reverse("courses:my_progress")), ("post", reverse("courses:mark_read", args=["mini", "intro"]))]:
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    assert not LessonProgress.objects.exists()


def test_my_progress_lists_started_courses(learner_client, mini_course):
    assert "pas encore commencé" in learner_client.get(reverse("courses:my_progress")).text
    learner_client.post(reverse("courses:mark_read", args=["mini", "volumes"]))
    page = learner_client.get(reverse("courses:my_progress")).text
    assert "Mini cours" in page and "1 sur 3 lues" in page


def test_unpublished_lesson_is_gone_for_learners_but_their_progress_stays(learner_client, learner, mini_course, pack_builder):
    learner_client.post(reverse("courses:mark_read", args=["mini", "images"]))
    pack_builder.course["chapters"][0]["lessons"].remove("lessons/02-images.md")
    load_pack(read_pack(pack_builder.write()))
    assert learner_client.get(lesson_url(mini_course, "images")).status_code == 404
    assert LessonProgress.objects.filter(user=learner, lesson__slug="images").exists()
    outline = learner_client.get(mini_course.get_absolute_url()).text
    assert '<progress max="2" value="0"' in outline


def test_outline_query_count_does_not_grow_with_lessons(learner_client, django_assert_max_num_queries, shipped_course):
    with django_assert_max_num_queries(8):
        assert learner_client.get(shipped_course.get_absolute_url()).status_code == 200


def test_every_shipped_lesson_renders_with_its_figures(client, shipped_course):
    lessons = list(Lesson.objects.filter(course=shipped_course).order_by("position"))
    assert len(lessons) >= 15
    figures_seen = set()
    for lesson in lessons:
        response = client.get(lesson.get_absolute_url())
        assert response.status_code == 200, lesson.slug
        assert f"<h1 id=\"lesson-title\">{lesson.title}</h1>" in response.text.replace("&#x27;", "'")
        for src, alt in re.findall(r'<img src="([^"]+)" alt="([^"]*)"', response.text):
            assert alt.strip(), f"{lesson.slug}: figure {src} has no text alternative"
            figure = client.get(src)
            assert figure.status_code == 200 and figure["Content-Type"] == "image/svg+xml", src
            figures_seen.add(src)
    assert len(figures_seen) >= 4


def test_the_interface_renders_in_english_once_the_learner_picks_it(client, mini_course):
    response = client.post(reverse("set_language"), {"language": "en", "next": mini_course.get_absolute_url()})
    assert response.status_code == 302
    page = client.get(mini_course.get_absolute_url()).text
    assert '<html lang="en">' in page
    assert "Course outline" in page and "Log in" in page
    assert "Plan du cours" not in page


def test_interface_is_french_by_default(client, mini_course):
    page = client.get(mini_course.get_absolute_url()).text
    assert '<html lang="fr">' in page
    assert "Plan du cours" in page and "Se connecter" in page


def test_browser_language_alone_does_not_switch_the_interface(client, mini_course):
    page = client.get(mini_course.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").text
    assert '<html lang="fr">' in page and "Plan du cours" in page


def test_my_progress_counts_lessons_labs_and_quizzes(learner_client, learner, shipped_course):
    from labs.models import Lab, Sandbox, Submission
    from quizzes.models import Attempt, Quiz

    first = shipped_course.lessons.order_by("chapter__position", "position").first()
    learner_client.post(reverse("courses:mark_read", args=[shipped_course.slug, first.slug]))
    lab = Lab.objects.get(slug="premier-conteneur")
    sandbox = Sandbox.objects.create(owner=learner, lab=lab, status=Sandbox.Status.STOPPED, expires_at=timezone.now(), last_activity_at=timezone.now())
    for task in lab.tasks.all():
        Submission.objects.create(user=learner, task=task, sandbox=sandbox, status=Submission.Status.PASSED)
    quiz = Quiz.objects.filter(course=shipped_course).first()
    Attempt.objects.create(quiz=quiz, user=learner, number=1, seed=1, status=Attempt.Status.SUBMITTED, score=0.5, started_at=timezone.now(), submitted_at=timezone.now())
    page = learner_client.get(reverse("courses:my_progress")).text
    labs, quizzes = Lab.objects.filter(course=shipped_course).count(), Quiz.objects.filter(course=shipped_course).count()
    assert "Leçons lues" in page and f"1 sur {shipped_course.lessons.count()} lues" in page
    assert "Travaux pratiques terminés" in page and f"1 sur {labs} (" in page
    assert "Quiz rendus" in page and f"1 sur {quizzes} (" in page
