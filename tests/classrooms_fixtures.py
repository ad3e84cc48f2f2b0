"""A small course, two instructors and their classrooms, with hand-made quiz attempts and lab checks.

The numbers are chosen so the statistics can be computed by hand (see
tests/test_classrooms_statistics.py).
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from classrooms.access import INSTRUCTORS_GROUP
from classrooms.models import Classroom, Membership
from courses.models import Chapter, Course, Lesson, LessonProgress
from quizzes.models import Attempt, AttemptQuestion, Question, Quiz
from labs.models import Lab, LabTask, Sandbox, Submission

T0 = timezone.now().replace(microsecond=0) - timedelta(days=2)

CHOICES = [
    {"id": "a", "html": "<p>Rien : elle reste inerte</p>", "correct": True},
    {"id": "b", "html": "<p>Elle s'exécute</p>", "correct": False},
    {"id": "c", "html": "<p>Elle écrit dans un volume</p>", "correct": False},
]


def make_instructor(username):
    user = User.objects.create_user(username, f"{username}@example.com", "pw-instructor-123")
    # get_or_create: a transactional test earlier in the run flushes the group made by the data migration.
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS_GROUP)
    group.permissions.add(Permission.objects.get(codename="teach", content_type__app_label="classrooms"))
    user.groups.add(group)
    return user


def build_course():
    course = Course.objects.create(slug="petit", title="Petit cours", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lessons = [
        Lesson.objects.create(
            course=course, chapter=chapter, slug=f"lecon-{i}", title=f"Leçon {i}", minutes=3, position=i,
            source_path=f"l{i}.md", body_markdown="x", body_html="<p>x</p>",
        )
        for i in (1, 2)
    ]
    quiz = Quiz.objects.create(course=course, chapter=chapter, slug="quiz", title="Quiz des bases", position=1)
    questions = [
        Question.objects.create(quiz=quiz, slug="image", kind=Question.Kind.SINGLE, position=1, prompt_html="<p>Que fait une image ?</p>", spec={"choices": CHOICES}),
        Question.objects.create(quiz=quiz, slug="etat", kind=Question.Kind.TRUE_FALSE, position=2, prompt_html="<p>Sans état ?</p>", spec={"answer": False}),
        Question.objects.create(quiz=quiz, slug="champ", kind=Question.Kind.SHORT, position=3, prompt_html="<p>Quel champ ?</p>", spec={"accept": ["IPAddress"]}),
    ]
    lab = Lab.objects.create(
        course=course, chapter=chapter, slug="tirer", title="Tirer une image", minutes=10, position=1,
        source_path="labs/tirer.yaml", instructions_markdown="x", instructions_html="<p>x</p>",
    )
    tasks = [
        LabTask.objects.create(lab=lab, slug="tirer-nginx", title="Tirer nginx", position=1, prompt_html="<p>x</p>", check_name="image_present"),
        LabTask.objects.create(lab=lab, slug="lancer", title="Lancer web", position=2, prompt_html="<p>x</p>", check_name="container_running"),
    ]
    return course, lessons, quiz, questions, lab, tasks


def attempt(user, quiz, questions, scores, answers, *, number=1, at=None):
    at = at or T0 + timedelta(hours=1)
    total = sum(scores)
    row = Attempt.objects.create(
        quiz=quiz, user=user, number=number, seed=1, status=Attempt.Status.SUBMITTED, started_at=at - timedelta(minutes=5),
        submitted_at=at, score=total / len(scores),
    )
    for position, (question, score, answer) in enumerate(zip(questions, scores, answers), start=1):
        AttemptQuestion.objects.create(
            attempt=row, question=question, position=position, kind=question.kind, prompt_html=question.prompt_html,
            spec=question.spec, order=[c["id"] for c in question.spec.get("choices", [])], answer=answer, score=score,
        )
    return row


def sandbox(user, lab, *, at, status=Sandbox.Status.STOPPED, **fields):
    row = Sandbox.objects.create(owner=user, lab=lab, status=status, expires_at=at + timedelta(hours=1), last_activity_at=at, **fields)
    Sandbox.objects.filter(pk=row.pk).update(requested_at=at)
    row.refresh_from_db()
    return row


def check(user, task, status, message="", *, at):
    row = Submission.objects.create(user=user, task=task, status=status, message=message, graded_at=at)
    Submission.objects.filter(pk=row.pk).update(created_at=at)
    return row


class World:
    """Instructor Ines owns classroom A (learners l1..l4); instructor Bruno owns classroom B (learner zoe)."""

    def __init__(self):
        self.course, self.lessons, self.quiz, self.questions, self.lab, self.tasks = build_course()
        self.ines = make_instructor("ines")
        self.bruno = make_instructor("bruno")
        self.class_a = Classroom.objects.create(course=self.course, owner=self.ines, title="Classe A")
        self.class_b = Classroom.objects.create(course=self.course, owner=self.bruno, title="Classe B")
        self.learners = [User.objects.create_user(f"l{i}", first_name=f"Learner{i}", last_name="Test") for i in (1, 2, 3, 4)]
        for user in self.learners:
            Membership.objects.create(classroom=self.class_a, user=user)
        self.zoe = User.objects.create_user("zoe", first_name="Zoé", last_name="Secret")
        Membership.objects.create(classroom=self.class_b, user=self.zoe)
        l1, l2, l3, l4 = self.learners
        # Quiz: one attempt each; scores per question (q1 single, q2 true/false, q3 short).
        q = self.questions
        attempt(l1, self.quiz, q, [1, 1, 1], ["a", False, "IPAddress"])
        attempt(l2, self.quiz, q, [1, 0, 1], ["a", True, "IPAddress"])
        attempt(l3, self.quiz, q, [0, 1, 0], ["b", False, "ip"])
        attempt(l4, self.quiz, q, [0, 0, 0], ["c", True, None])
        attempt(self.zoe, self.quiz, q, [0, 0, 0], ["c", True, None])  # another classroom: never counted in A
        # Lessons: l1 read both, l2 read one.
        for user, lesson in [(l1, self.lessons[0]), (l1, self.lessons[1]), (l2, self.lessons[0]), (self.zoe, self.lessons[0])]:
            LessonProgress.objects.create(user=user, lesson=lesson, read_at=T0)
        # Lab checks on task 1.
        t1, t2 = self.tasks
        for user in (l1, l2):
            sandbox(user, self.lab, at=T0)
        P, F, E = Submission.Status.PASSED, Submission.Status.FAILED, Submission.Status.ERROR
        check(l1, t1, F, "Image absente", at=T0 + timedelta(seconds=100))
        check(l1, t1, F, "Image absente", at=T0 + timedelta(seconds=200))
        check(l1, t1, P, "Bravo", at=T0 + timedelta(seconds=300))
        check(l1, t2, P, "Bravo", at=T0 + timedelta(seconds=400))
        check(l2, t1, P, "Bravo", at=T0 + timedelta(seconds=60))
        check(l3, t1, F, "Mauvaise version", at=T0 + timedelta(seconds=10))
        check(l3, t1, F, "Image absente", at=T0 + timedelta(seconds=20))
        check(l4, t1, E, "Le bac à sable n'a pas répondu", at=T0 + timedelta(seconds=30))
        check(self.zoe, t1, F, "Message de Zoé", at=T0 + timedelta(seconds=30))


@pytest.fixture
def world(db):
    return World()


def add_learners(classroom, course, count, *, prefix="extra"):
    """`count` more learners in the classroom, each with a lesson read, a quiz attempt and a lab check."""
    lesson = Lesson.objects.filter(course=course).first()
    quiz = Quiz.objects.filter(course=course).first()
    questions = list(quiz.questions.order_by("position"))
    task = LabTask.objects.filter(lab__course=course).first()
    for i in range(count):
        user = User.objects.create_user(f"{prefix}{classroom.pk}-{i}")
        Membership.objects.create(classroom=classroom, user=user)
        LessonProgress.objects.create(user=user, lesson=lesson, read_at=T0)
        attempt(user, quiz, questions, [i % 2, 1, 0], ["a" if i % 2 else "b", False, None])
        check(user, task, Submission.Status.FAILED if i % 3 else Submission.Status.PASSED, "Image absente", at=T0 + timedelta(seconds=i))
