from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from courses import activities


class QuizzesConfig(AppConfig):
    name = "quizzes"
    verbose_name = _("Quizzes")

    def ready(self):
        # Imported once the models are loaded, as Django requires of modules that use them.
        from quizzes import attempts, packs

        activities.register(activities.ActivityKind(
            key="quizzes", noun="quiz", files="quizzes/**/*.yaml",
            read=packs.read_quiz, load=packs.load_quiz, unpublish=packs.unpublish_quizzes,
            describe=packs.describe_quiz, totals=packs.quiz_totals, counts=("quizzes", "questions"),
            outline=attempts.quizzes_with_progress, outline_template="quizzes/_outline_item.html", path=attempts.quizzes_on_path,
            done=lambda quiz: quiz.done_count > 0, done_label=_("Quizzes submitted"),
        ))
