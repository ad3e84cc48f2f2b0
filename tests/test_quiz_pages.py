"""Quiz pages: signed-in only, answers hidden until submission, autosave, results, no N+1 queries."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from courses.access import courses_for_user
from quizzes import access, attempts, views
from quizzes.models import Attempt, AttemptQuestion, Question, Quiz
from courses.packs import load_pack, read_pack
from tests.quizzes import QUIZ, add_quiz, quiz, right_answers

pytestmark = pytest.mark.django_db

MARKERS = ("EXPLICATION", "RETOUR", "IPAddress", "no-trunc")


@pytest.fixture
def load_quiz(pack_builder):
    def load(**settings):
        root = add_quiz(pack_builder, quiz(**settings)).write()
        load_pack(read_pack(root))
        return Quiz.objects.select_related("course").get(slug="bases-quiz")
    return load


@pytest.fixture
def the_quiz(load_quiz):
    return load_quiz()


def start(client, the_quiz):
    response = client.post(reverse("quizzes:quiz_start", args=[the_quiz.course.slug, the_quiz.slug]))
    assert response.status_code == 302
    return Attempt.objects.latest("pk")


def form_of(slots, answers):
    """The POST a browser sends for these answers (raw, as `right_answers` gives them)."""
    data = {"slot": [str(s.pk) for s in slots]}
    for slot in slots:
        value = answers.get(slot.pk)
        if isinstance(value, dict):
            data.update({f"q-{slot.pk}-{key}": str(v) for key, v in value.items()})
        elif value is not None:
            data[f"q-{slot.pk}"] = value
    return data


def test_anonymous_visitors_are_sent_to_log_in(client, the_quiz):
    url = the_quiz.get_absolute_url()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(reverse("quizzes:quiz_start", args=[the_quiz.course.slug, the_quiz.slug])).status_code == 302
    assert not Attempt.objects.exists()


def test_quiz_page_shows_settings_and_a_start_button(learner_client, load_quiz):
    the_quiz = load_quiz(attempts=3, time_limit=15, pool=5)
    page = learner_client.get(the_quiz.get_absolute_url()).text
    assert "Quiz des bases" in page
    assert "5 questions tirées au hasard pour chaque tentative" in page
    assert "15 min" in page and "Commencer le quiz" in page


def test_open_attempt_html_holds_no_right_answer_feedback_or_explanation(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    page = learner_client.get(reverse("quizzes:attempt", args=[attempt.pk])).text
    assert page.count('<fieldset class="question"') == 8
    for marker in MARKERS:
        assert marker not in page, marker
    assert "correct" not in page.lower()
    # What the learner needs is there: every choice, every matching answer, every item to order.
    for text in ("Rien&nbsp;: elle reste inerte", "La date du téléchargement", "Hyperviseur"):
        assert text in page


def test_a_reload_shows_the_same_questions_in_the_same_order(learner_client, load_quiz):
    the_quiz = load_quiz(pool=5, shuffle_questions=True, shuffle_choices=True)
    attempt = start(learner_client, the_quiz)
    url = reverse("quizzes:attempt", args=[attempt.pk])

    def visible(page):
        return re.findall(r'name="(q-\d+(?:-\w+)?)" value="(\w+)"|<option value="(\w+)"', page)

    first = learner_client.get(url).text
    assert visible(first) == visible(learner_client.get(url).text)
    assert start(learner_client, the_quiz).pk == attempt.pk


def test_autosave_saves_one_question_and_reports_a_refused_answer(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    url = reverse("quizzes:attempt_save", args=[attempt.pk])
    good = right_answers(slots)
    response = learner_client.post(url, form_of(slots[:1], good), HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["saved"] is True
    assert attempt.slots.get(pk=slots[0].pk).answer == good[slots[0].pk]
    refused = learner_client.post(url, {"slot": str(slots[0].pk), f"q-{slots[0].pk}": "inconnu"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {str(slots[0].pk): "Ce choix ne fait pas partie des choix de la question."}
    assert attempt.slots.get(pk=slots[0].pk).answer == good[slots[0].pk]
    missing = learner_client.post(url, {f"q-{slots[0].pk}": "x"}, HTTP_ACCEPT="application/json")
    assert missing.status_code == 400 and missing.json()["error"] == "Champ manquant : slot."


def test_autosave_takes_json_and_refuses_the_wrong_type(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    url = reverse("quizzes:attempt_save", args=[attempt.pk])
    body = {"answers": {str(slots[4].pk): "12", str(slots[2].pk): ["true"]}}
    response = learner_client.post(url, json.dumps(body), content_type="application/json", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {str(slots[2].pk): "Répondez vrai ou faux."}
    assert attempt.slots.get(pk=slots[4].pk).answer == "12"
    bad = learner_client.post(url, "{", content_type="application/json", HTTP_ACCEPT="application/json")
    assert bad.status_code == 400


def test_without_javascript_the_form_saves_then_submits_and_shows_the_results(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    answers = right_answers(slots)
    answers[slots[7].pk] = "docker image ls"  # a known wrong answer, with its feedback
    saved = learner_client.post(reverse("quizzes:attempt_save", args=[attempt.pk]), form_of(slots, answers))
    assert saved.status_code == 302 and saved["Location"] == reverse("quizzes:attempt", args=[attempt.pk])
    page = learner_client.get(saved["Location"]).text
    assert 'value="docker image ls"' in page
    submitted = learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), form_of(slots, answers))
    assert submitted["Location"] == reverse("quizzes:attempt_results", args=[attempt.pk])
    results = learner_client.get(submitted["Location"]).text
    assert "88 %" in results and "7 sur 8 points" in results
    assert "RETOUR-TRONQUE" in results and "EXPLICATION-LISTER" in results and "RETOUR-INERTE" in results
    assert "docker images --no-trunc" in results
    # Submitting again changes nothing; the attempt page now leads to the results.
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), form_of(slots, {}))
    assert Attempt.objects.get(pk=attempt.pk).score == pytest.approx(0.875)
    assert learner_client.get(reverse("quizzes:attempt", args=[attempt.pk]))["Location"] == reverse("quizzes:attempt_results", args=[attempt.pk])


def test_a_refused_answer_on_submit_keeps_the_attempt_open_with_the_message(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    data = form_of(slots, {slots[6].pk: {item["id"]: "9" for item in slots[6].spec["items"]}})
    response = learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), data)
    assert response.status_code == 400
    assert "Une position est un nombre de 1 à 4." in response.text
    assert Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.IN_PROGRESS


def test_review_options_hide_right_answers_and_explanations(learner_client, load_quiz):
    the_quiz = load_quiz(review={"correct_answers": False, "explanations": False, "feedback": False})
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), form_of(slots, {slots[0].pk: slots[0].order[0]}))
    results = learner_client.get(reverse("quizzes:attempt_results", args=[attempt.pk])).text
    for marker in MARKERS:
        assert marker not in results, marker
    assert "Bonne réponse" not in results
    assert "Question 8" in results


def test_review_after_close_shows_only_the_score_until_then(learner_client, load_quiz):
    the_quiz = load_quiz(review={"when": "after_close"})
    attempt = start(learner_client, the_quiz)
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]))
    results = learner_client.get(reverse("quizzes:attempt_results", args=[attempt.pk])).text
    assert "0 %" in results and "Question 1" not in results
    assert "EXPLICATION" not in results
    Quiz.objects.filter(pk=the_quiz.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    assert "EXPLICATION-IMAGE" in learner_client.get(reverse("quizzes:attempt_results", args=[attempt.pk])).text


def test_countdown_comes_from_the_server_and_a_late_page_submits(learner_client, load_quiz):
    the_quiz = load_quiz(time_limit=10)
    attempt = start(learner_client, the_quiz)
    page = learner_client.get(reverse("quizzes:attempt", args=[attempt.pk])).text
    seconds = int(re.search(r'data-seconds-left="(\d+)"', page).group(1))
    assert 595 <= seconds <= 600
    clock = learner_client.get(reverse("quizzes:attempt_clock", args=[attempt.pk])).json()
    assert clock["status"] == "in_progress" and clock["seconds_left"] <= 600
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    slots = list(attempt.slots.order_by("position"))
    late = learner_client.post(reverse("quizzes:attempt_save", args=[attempt.pk]), form_of(slots, right_answers(slots)), HTTP_ACCEPT="application/json")
    assert late.status_code == 409
    assert learner_client.get(reverse("quizzes:attempt", args=[attempt.pk])).status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED and attempt.is_late and attempt.score == 0


def test_a_learner_cannot_open_another_learners_attempt(client, learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    other = User.objects.create(username="bob")
    client.force_login(other)
    for name in ("attempt", "attempt_results", "attempt_clock"):
        assert client.get(reverse(f"quizzes:{name}", args=[attempt.pk])).status_code == 404
    assert client.post(reverse("quizzes:attempt_save", args=[attempt.pk]), {"slot": "1"}).status_code == 404
    assert client.post(reverse("quizzes:attempt_submit", args=[attempt.pk])).status_code == 404
    assert Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.IN_PROGRESS


def test_a_learner_cannot_save_into_another_learners_questions_by_their_ids(client, learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    slot = attempt.slots.order_by("position").first()
    client.force_login(User.objects.create(username="bob"))
    form = {"slot": str(slot.pk), slot.field_name: "1"}
    assert client.post(reverse("quizzes:attempt_save", args=[attempt.pk]), form, HTTP_ACCEPT="application/json").status_code == 404
    # Nor through an attempt of their own that names the other learner's question.
    own = start(client, the_quiz)
    refused = client.post(reverse("quizzes:attempt_save", args=[own.pk]), form, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and refused.json()["saved"] is False
    assert AttemptQuestion.objects.get(pk=slot.pk).answer is None


def test_unpublished_quiz_is_gone_but_its_attempts_still_render(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]))
    Quiz.objects.update(is_published=False)
    assert learner_client.get(the_quiz.get_absolute_url()).status_code == 404
    assert learner_client.get(reverse("quizzes:attempt_results", args=[attempt.pk])).status_code == 200


def test_a_quiz_of_an_unpublished_course_is_found_by_staff_only(client, learner_client, the_quiz):
    from courses.models import Course

    Course.objects.update(is_published=False)
    start_url = reverse("quizzes:quiz_start", args=[the_quiz.course.slug, the_quiz.slug])
    assert learner_client.get(the_quiz.get_absolute_url()).status_code == 404
    assert learner_client.post(start_url).status_code == 404
    client.force_login(User.objects.create(username="teacher", is_staff=True))
    assert client.get(the_quiz.get_absolute_url()).status_code == 200
    assert client.get(reverse("quizzes:quiz", args=["another-course", the_quiz.slug])).status_code == 404


def test_attempt_limit_shows_on_the_quiz_page(learner_client, load_quiz):
    the_quiz = load_quiz(attempts=1)
    attempt = start(learner_client, the_quiz)
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]))
    page = learner_client.get(the_quiz.get_absolute_url()).text
    assert "Vous avez utilisé toutes vos tentatives" in page and "Commencer le quiz" not in page
    refused = learner_client.post(reverse("quizzes:quiz_start", args=[the_quiz.course.slug, the_quiz.slug]), follow=True)
    assert "Vous avez utilisé toutes vos tentatives" in refused.text
    assert Attempt.objects.count() == 1


def test_outline_shows_each_quiz_with_status_and_best_score(learner_client, load_quiz, learner):
    the_quiz = load_quiz(lesson="images")
    outline = learner_client.get(the_quiz.course.get_absolute_url()).text
    assert "Quiz des bases" in outline and "Pas commencé" in outline
    # Attached to the lesson "images", the quiz comes right after it.
    assert outline.index("Les images") < outline.index("Quiz des bases") < outline.index("La suite")
    attempt = attempts.start_attempt(user=learner, quiz=the_quiz)
    attempts.save_answers(attempt=attempt, answers=right_answers(list(attempt.slots.all())))
    attempts.submit(attempt=attempt)
    assert "Meilleur score : 100 %" in learner_client.get(the_quiz.course.get_absolute_url()).text


def test_attempt_and_results_pages_run_a_fixed_number_of_queries(learner_client, load_quiz, django_assert_max_num_queries):
    the_quiz = load_quiz()
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    with django_assert_max_num_queries(6):
        assert learner_client.get(reverse("quizzes:attempt", args=[attempt.pk])).status_code == 200
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), form_of(slots, right_answers(slots)))
    with django_assert_max_num_queries(6):
        assert learner_client.get(reverse("quizzes:attempt_results", args=[attempt.pk])).status_code == 200
    # Three of these make the pager's path (the lessons, then each kind of activity), whatever the course's size.
    with django_assert_max_num_queries(10):
        assert learner_client.get(the_quiz.get_absolute_url()).status_code == 200


def test_staff_can_browse_quizzes_questions_and_attempts_in_the_admin(client, learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    staff = User.objects.create(username="admin", is_staff=True, is_superuser=True)
    client.force_login(staff)
    question = the_quiz.questions.first()
    for url in (
        reverse("admin:quizzes_quiz_changelist"), reverse("admin:quizzes_quiz_change", args=[the_quiz.pk]),
        reverse("admin:quizzes_question_change", args=[question.pk]),
        reverse("admin:quizzes_attempt_changelist"), reverse("admin:quizzes_attempt_change", args=[attempt.pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_the_fixture_quiz_has_eight_questions():
    assert len(QUIZ["questions"]) == 8


def test_a_command_typed_with_a_long_dash_is_refused_in_french_with_what_to_type(learner_client, the_quiz):
    attempt = start(learner_client, the_quiz)
    command = attempt.slots.get(kind="command")
    url = reverse("quizzes:attempt_save", args=[attempt.pk])
    refused = learner_client.post(url, {"slot": str(command.pk), f"q-{command.pk}": "docker images \u2014no-trunc"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {str(command.pk): "Un tiret long \u2014 précède no-trunc : tapez deux traits d'union, --no-trunc."}
    saved = learner_client.post(url, {"slot": str(command.pk), f"q-{command.pk}": "docker images --no-trunc | more"}, HTTP_ACCEPT="application/json")
    assert saved.status_code == 200
    learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]))
    results = learner_client.get(reverse("quizzes:attempt_results", args=[attempt.pk])).text
    assert "Seule la commande docker est notée ; laissé de côté : | more." in results


def test_an_exam_costs_a_fixed_number_of_queries_per_request(learner_client, load_quiz, django_assert_num_queries):
    """A class sitting an exam saves thousands of answers a minute (bench/exam_burst.py): each request
    reads the user (its session comes from Redis), then only the rows it needs. In a test, atomic()
    blocks add a SAVEPOINT and its RELEASE."""
    the_quiz = load_quiz(time_limit=15)
    with django_assert_num_queries(7):  # user, the quiz with its course, the learner's attempts, question count, the pager's three
        assert learner_client.get(the_quiz.get_absolute_url()).status_code == 200
    with django_assert_num_queries(4):  # the same, the pager's path kept by the web process
        assert learner_client.get(the_quiz.get_absolute_url()).status_code == 200
    with django_assert_num_queries(6 + 2):  # user, the quiz with its course, the learner's attempts, the questions, 2 INSERTs
        assert learner_client.post(reverse("quizzes:quiz_start", args=[the_quiz.course.slug, the_quiz.slug])).status_code == 302
    attempt = Attempt.objects.get()
    with django_assert_num_queries(3):  # user, the attempt with its quiz and course, its questions
        assert learner_client.get(reverse("quizzes:attempt", args=[attempt.pk])).status_code == 200
    slots = list(attempt.slots.order_by("position"))
    answers = right_answers(slots)
    save = reverse("quizzes:attempt_save", args=[attempt.pk])
    for slot in slots:
        with django_assert_num_queries(3) as captured:  # user, the question saved with its attempt, its UPDATE
            saved = learner_client.post(save, form_of([slot], answers), HTTP_ACCEPT="application/json")
        assert saved.status_code == 200 and saved.json()["saved"] is True
        read, update = captured.captured_queries[1]["sql"], captured.captured_queries[2]["sql"]
        assert str(slot.pk) in read and "courses_attempt" in read
        assert update.startswith("UPDATE") and " JOIN " not in update and "SELECT" not in update
    with django_assert_num_queries(2):  # unchanged: no UPDATE
        learner_client.post(save, form_of(slots[:1], answers), HTTP_ACCEPT="application/json")
    with django_assert_num_queries(7 + 2) as captured:
        # user, its questions with the attempt, claim, questions again (claimed), scores (one statement for
        # all: executemany), grade, and whether the learner came from an LMS
        submitted = learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), form_of(slots, answers))
    assert submitted.status_code == 302
    assert not any(" JOIN " in q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT") and "courses_attemptquestion" not in q["sql"])
    with django_assert_num_queries(4):  # user, the attempt with its quiz and course, the learner's attempts, its questions
        assert learner_client.get(submitted["Location"]).status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED and attempt.score == 1.0


def _fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_an_attempt_is_read_with_its_quiz_course_and_questions_as_the_orm_reads_them(learner, learner_client, load_quiz, django_assert_num_queries):
    the_quiz = load_quiz(time_limit=15)
    attempt = start(learner_client, the_quiz)
    slot = attempt.slots.order_by("position").first()
    attempts.save_answers(attempt=attempt, answers={slot.pk: right_answers([slot])[slot.pk]})
    expected = Attempt.objects.select_related("quiz", "quiz__course").get(pk=attempt.pk)
    expected_slots = list(expected.slots.all())
    with django_assert_num_queries(2):
        read = access.get_attempt_for_user(learner, attempt.pk)
        slots = access.attempt_slots(read)
        # All of it is set: nothing more is read.
        read.quiz.course.language, [s.attempt.quiz.title for s in slots]
    assert (_fields(read), _fields(read.quiz), _fields(read.quiz.course)) == (
        _fields(expected), _fields(expected.quiz), _fields(expected.quiz.course))
    assert [_fields(s) for s in slots] == [_fields(s) for s in expected_slots] and len(slots) == 8
    assert slots[0].answer is not None and all(s.attempt is read for s in slots)
    assert [type(value) for value in _fields(read).values()] == [type(value) for value in _fields(expected).values()]


@pytest.mark.parametrize("is_staff", [False, True])
def test_a_quiz_is_found_with_its_course_and_chapter_exactly_when_the_orm_finds_it(load_quiz, is_staff, django_assert_num_queries):
    from courses.models import Chapter, Course

    the_quiz = load_quiz()
    user = User.objects.create(username="someone", is_staff=is_staff)
    for course_published, chapter_published, quiz_published in [(c, h, q) for c in (True, False) for h in (True, False) for q in (True, False)]:
        Course.objects.update(is_published=course_published)
        Chapter.objects.update(is_published=chapter_published)
        Quiz.objects.update(is_published=quiz_published)
        for course_slug, quiz_slug in ((the_quiz.course.slug, the_quiz.slug), ("another-course", the_quiz.slug), (the_quiz.course.slug, "another-quiz")):
            try:
                expected = _quiz_by_the_orm(user, course_slug, quiz_slug)
            except Http404:
                expected = None
            with django_assert_num_queries(1):
                try:
                    found = access.get_quiz_for_user(user, course_slug, quiz_slug)
                    found.course.slug, found.chapter.slug
                except Http404:
                    found = None
            assert (found is None) == (expected is None), (course_published, chapter_published, quiz_published, course_slug, quiz_slug)
            if found is not None:
                assert (_fields(found), _fields(found.course), _fields(found.chapter)) == (
                    _fields(expected), _fields(expected.course), _fields(expected.chapter))


def test_a_quizs_published_questions_are_read_as_the_orm_reads_them_in_order(load_quiz, django_assert_num_queries):
    the_quiz = load_quiz()
    Question.objects.filter(quiz=the_quiz, position__in=[2, 5]).update(is_published=False)
    expected = list(the_quiz.questions.filter(is_published=True).order_by("position"))
    with django_assert_num_queries(2):
        read, count = access.published_questions(the_quiz), access.published_question_count(the_quiz)
        [question.quiz.slug for question in read]
    assert [_fields(question) for question in read] == [_fields(question) for question in expected]
    assert len(read) == count == 6 and [question.position for question in read] == sorted(question.position for question in read)


def test_a_learners_attempts_at_a_quiz_are_read_as_the_orm_reads_them_oldest_first(learner, learner_client, load_quiz, django_assert_num_queries):
    the_quiz = load_quiz(attempts=3)
    for _ in range(2):
        learner_client.post(reverse("quizzes:attempt_submit", args=[start(learner_client, the_quiz).pk]))
    start(learner_client, the_quiz)
    other = User.objects.create(username="bob")
    attempts.start_attempt(user=other, quiz=the_quiz)
    expected = list(Attempt.objects.filter(quiz=the_quiz, user=learner).order_by("number"))
    with django_assert_num_queries(1):
        read = access.learner_attempts(learner, the_quiz)
        [attempt.quiz.course.slug for attempt in read]
    assert [_fields(attempt) for attempt in read] == [_fields(attempt) for attempt in expected]
    assert [attempt.number for attempt in read] == [1, 2, 3] and read[0].status == Attempt.Status.SUBMITTED


def test_an_attempt_id_out_of_any_row_s_range_is_a_404_without_a_query(learner, django_assert_num_queries):
    for pk in (0, -1, 2**63, 10**30):
        with django_assert_num_queries(0), pytest.raises(Http404):
            access.get_attempt_for_user(learner, pk)


def _quiz_by_the_orm(user, course_slug, quiz_slug):
    quizzes = Quiz.objects.select_related("course", "chapter").filter(course__in=courses_for_user(user).filter(slug=course_slug))
    if not user.is_staff:
        quizzes = quizzes.filter(is_published=True, chapter__is_published=True)
    return get_object_or_404(quizzes, slug=quiz_slug)


def _read_by_the_orm(patch):
    """The reads of a quiz, an attempt, its questions and a learner's attempts as the ORM made them before they were written once."""
    patch.setattr(views, "get_quiz_for_user", _quiz_by_the_orm)
    patch.setattr(views, "get_attempt_for_user", lambda user, pk, *, with_quiz=True: get_object_or_404(
        Attempt.objects.select_related("quiz", "quiz__course") if with_quiz else Attempt.objects.all(), pk=pk, user=user))
    patch.setattr(views, "attempt_slots", lambda attempt: list(attempt.slots.all()))
    patch.setattr(attempts, "attempt_slots", lambda attempt: list(attempt.slots.all()))
    patch.setattr(attempts, "learner_attempts", lambda user, quiz: list(Attempt.objects.filter(quiz=quiz, user=user).order_by("number")))
    patch.setattr(views, "published_question_count", lambda quiz: quiz.questions.filter(is_published=True).count())


def test_the_quiz_attempt_and_results_pages_show_what_they_showed_when_read_by_the_orm(learner_client, load_quiz, monkeypatch):
    the_quiz = load_quiz(time_limit=15, attempts=3)
    learner_client.post(reverse("quizzes:attempt_submit", args=[start(learner_client, the_quiz).pk]))
    attempt = start(learner_client, the_quiz)
    slots = list(attempt.slots.order_by("position"))
    learner_client.post(reverse("quizzes:attempt_save", args=[attempt.pk]), form_of(slots[:5], right_answers(slots)), HTTP_ACCEPT="application/json")
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')  # masked afresh on every page

    def page(url):
        return token.sub("", learner_client.get(url).text)

    for url, shown in ((the_quiz.get_absolute_url(), "Reprendre votre tentative"), (reverse("quizzes:attempt", args=[attempt.pk]), 'data-slot="')):
        written_once = page(url)
        with monkeypatch.context() as patch:
            _read_by_the_orm(patch)
            assert page(url) == written_once and shown in written_once
    with monkeypatch.context() as patch:
        _read_by_the_orm(patch)
        graded_by_the_orm = learner_client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), form_of(slots, right_answers(slots)))
    for url, shown in ((reverse("quizzes:attempt_results", args=[attempt.pk]), "Résultats de la tentative"), (the_quiz.get_absolute_url(), "Vos tentatives")):
        written_once = page(url)
        with monkeypatch.context() as patch:
            _read_by_the_orm(patch)
            assert page(url) == written_once and shown in written_once
    assert graded_by_the_orm.status_code == 302 and Attempt.objects.get(pk=attempt.pk).score == 1.0
