from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from quizzes import gift
from quizzes.models import Quiz
from courses.packs import PackError


class Command(BaseCommand):
    help = (
        "Import the questions of a GIFT file (Moodle's plain-text format) into an existing quiz's pool. "
        "Questions are upserted by slug (gift- and their title) and kept when the course pack is reloaded."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the GIFT file, UTF-8")
        parser.add_argument("--quiz", required=True, help="slug of the quiz that receives the questions")
        parser.add_argument("--course", help="slug of the course, when several courses have a quiz with that slug")
        parser.add_argument("--check", action="store_true", help="validate and count the questions, write nothing")

    def handle(self, *args, file, quiz, course, check, **options):
        quizzes = Quiz.objects.filter(slug=quiz).select_related("course")
        if course:
            quizzes = quizzes.filter(course__slug=course)
        found = list(quizzes[:2])
        if not found:
            raise CommandError(f"no quiz {quiz!r}" + (f" in course {course!r}" if course else "") + ": load its course pack first")
        if len(found) > 1:
            raise CommandError(f"several courses have a quiz {quiz!r}: name the course with --course")
        target = found[0]
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            questions = gift.parse(text, file=str(path), quiz_slug=target.slug)
        except PackError as exc:
            count = len(exc.problems)
            raise CommandError(
                f"{file}: {count} problem{'s' if count > 1 else ''}, nothing was imported:\n" + "\n".join(f"  {p}" for p in exc.problems)
            ) from None
        kinds = {}
        for question in questions:
            kinds[question.kind] = kinds.get(question.kind, 0) + 1
        described = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        if check:
            self.stdout.write(self.style.SUCCESS(f"{len(questions)} questions ({described}) are valid for quiz {target.slug} (nothing written)."))
            return
        counts = gift.import_questions(target, questions)
        self.stdout.write(self.style.SUCCESS(
            f"Quiz {target.slug} [{target.course.slug}]: {len(questions)} questions ({described}); "
            f"created {counts['created']}, updated {counts['updated']}, unchanged {counts['unchanged']}."
        ))
