#!/usr/bin/env python3
"""The instructor's pages with a large class: 500 learners × the shipped course's activities.

    .venv/bin/python bench/classroom_matrix.py [--learners 500] [--runs 20]

Seeds a scratch SQLite database (DRYDOCK_VAR_DIR in a temp folder; nothing of
a running platform is touched): the shipped course, one classroom, and for
every learner lessons read, one or two attempts at each quiz (with every
question answered) and one to four checks per lab task. Needs no Docker,
Redis or Celery. Prints p50/p95 of the progress matrix page, the CSV exports
and the statistics pages, through Django's test client (full middleware and
template rendering). Target: matrix p50 <= 300 ms.
"""

import argparse
import random
import time
from datetime import timedelta

from measure import BASE, report, setup_scratch_django  # noqa: E402

SCRATCH = setup_scratch_django("drydock-bench-classroom-")

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from classrooms.access import INSTRUCTORS_GROUP  # noqa: E402
from classrooms.models import Classroom, Membership  # noqa: E402
from courses.models import Lesson, LessonProgress
from quizzes.models import Attempt, AttemptQuestion, Question, Quiz# noqa: E402
from courses.packs import load_pack, read_pack  # noqa: E402
from labs.models import LabTask, Submission  # noqa: E402

MESSAGES = ["L'image nginx:1.23.3 est absente.", "Le conteneur web ne tourne pas.", "Mauvaise adresse IP.", "Le volume data n'est pas monté sur /data."]
def answer_for(question, rng):
    spec = question.spec
    if question.kind == Question.Kind.SINGLE:
        return rng.choice(spec["choices"])["id"]
    if question.kind == Question.Kind.MULTIPLE:
        return [c["id"] for c in spec["choices"] if rng.random() < 0.5] or [spec["choices"][0]["id"]]
    if question.kind == Question.Kind.TRUE_FALSE:
        return rng.random() < 0.5
    return "docker ps"


def seed(learners, rng):
    started = time.perf_counter()
    course = load_pack(read_pack(BASE / "content" / "docker-fr")).course
    instructor = User.objects.create_user("instructor", password="bench-password-123")
    instructor.groups.add(Group.objects.get(name=INSTRUCTORS_GROUP))
    classroom = Classroom.objects.create(course=course, owner=instructor, title="Grande classe")
    lessons = list(Lesson.objects.filter(course=course, is_published=True))
    quizzes = [(quiz, list(quiz.questions.filter(is_published=True))) for quiz in Quiz.objects.filter(course=course, is_published=True)]
    tasks = list(LabTask.objects.filter(lab__course=course, is_published=True))
    t0 = timezone.now() - timedelta(days=30)
    password = make_password(None)
    with transaction.atomic():
        users = User.objects.bulk_create([User(username=f"learner{i:04d}", first_name=f"Prénom{i}", last_name="Élève", password=password) for i in range(learners)])
        Membership.objects.bulk_create([Membership(classroom=classroom, user=user) for user in users])
        reads, attempts, slots, checks = [], [], [], []
        for user in users:
            diligence = rng.random()
            for lesson in lessons:
                if rng.random() < diligence:
                    reads.append(LessonProgress(user=user, lesson=lesson, read_at=t0 + timedelta(hours=rng.randrange(720))))
            for quiz, questions in quizzes:
                for number in range(1, rng.choice([1, 1, 2]) + 1):
                    at = t0 + timedelta(hours=rng.randrange(720))
                    attempts.append((Attempt(quiz=quiz, user=user, number=number, seed=1, status=Attempt.Status.SUBMITTED, started_at=at, submitted_at=at + timedelta(minutes=8)), questions))
            for task in tasks:
                if rng.random() > diligence + 0.2:
                    continue
                at = t0 + timedelta(hours=rng.randrange(720))
                for n in range(rng.randrange(1, 5)):
                    passed = rng.random() < 0.5 + diligence / 2
                    checks.append(Submission(user=user, task=task, status=Submission.Status.PASSED if passed else Submission.Status.FAILED,
                                             message="Bravo" if passed else rng.choice(MESSAGES), graded_at=at + timedelta(minutes=n)))
                    if passed:
                        break
        LessonProgress.objects.bulk_create(reads, batch_size=2000)
        Attempt.objects.bulk_create([a for a, _ in attempts], batch_size=2000)
        for attempt, questions in attempts:
            scores = []
            for position, question in enumerate(questions, start=1):
                score = 1.0 if rng.random() < 0.65 else 0.0
                scores.append(score)
                slots.append(AttemptQuestion(attempt=attempt, question=question, position=position, kind=question.kind, prompt_html="",
                                             spec=question.spec, answer=answer_for(question, rng), score=score))
            attempt.score = round(sum(scores) / len(scores), 4) if scores else 0
        Attempt.objects.bulk_update([a for a, _ in attempts], ["score"], batch_size=2000)
        AttemptQuestion.objects.bulk_create(slots, batch_size=2000)
        Submission.objects.bulk_create(checks, batch_size=2000)
    print(f"seeded {learners} learners: {len(lessons)} lessons, {len(quizzes)} quizzes, {len(tasks)} lab tasks; "
          f"{len(reads)} lessons read, {len(attempts)} attempts ({len(slots)} answers), {len(checks)} checks "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return instructor, classroom


def time_get(client, url, runs):
    client.get(url)  # warm-up: templates compiled, caches filled
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return seconds, response


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    instructor, classroom = seed(args.learners, random.Random(6))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(instructor)
    pk = classroom.pk
    seconds, response = time_get(client, reverse("classrooms:matrix", args=[pk]), args.runs)
    report("matrix page", seconds, extra=f"({len(response.content) // 1024} KiB)  target p50 <= 300 ms")
    seconds, _ = time_get(client, reverse("classrooms:matrix", args=[pk]) + "?sort=-progress&kind=quiz", args.runs)
    report("matrix page, quizzes only", seconds)
    seconds, response = time_get(client, reverse("classrooms:matrix_csv", args=[pk]), args.runs)
    report("matrix CSV export", seconds, extra=f"({len(response.content) // 1024} KiB)")
    seconds, response = time_get(client, reverse("classrooms:attempts_csv", args=[pk]), args.runs)
    report("attempts CSV export", seconds, extra=f"({len(response.content) // 1024} KiB)")
    seconds, _ = time_get(client, reverse("classrooms:quiz_statistics", args=[pk]), max(5, args.runs // 4))
    report("quiz statistics page", seconds)
    seconds, _ = time_get(client, reverse("classrooms:lab_statistics", args=[pk]), max(5, args.runs // 4))
    report("lab statistics page", seconds)
    print(f"scratch database: {SCRATCH}")


if __name__ == "__main__":
    main()
