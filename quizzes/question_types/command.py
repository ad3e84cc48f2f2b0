"""Docker command: a command line, right when it does what an accepted one does (quizzes.docker_commands)."""

from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy

from quizzes import docker_commands
from quizzes.question_types.base import AnswerRefused, Grade, TypedAnswer, message, wrong_feedback


class Command(TypedAnswer):
    kind = "command"
    label = gettext_lazy("Docker command")
    keys = {"accept": True, "wrong": False}
    field_label = gettext_lazy("Your command")
    field_attributes = mark_safe(' autocomplete="off" autocapitalize="off" spellcheck="false" class="command-input" placeholder="docker …"')

    def read_spec(self, reader, data):
        def parse(value, rel):
            text = reader.text(value, rel)
            if not text:
                return None
            # Pack problems are in English, whatever the language of the process.
            with translation.override(None):
                try:
                    docker_commands.parse(text)
                    return text
                except docker_commands.CommandError as error:
                    reader.problem(rel, f"{text!r} is not a command the grader understands: {error}")
                    return None

        lines = reader.items(data.get("accept"), ("accept",), minimum=1, what="must be a non-empty list of accepted commands")
        accept = [line for line in (parse(line, ("accept", index)) for index, line in enumerate(lines)) if line]
        wrong = reader.wrong_answers(data.get("wrong"), compare=parse)
        accepted = {docker_commands.parse(line) for line in accept}
        for index, entry in enumerate(wrong):
            if docker_commands.parse(entry["answer"]) in accepted:
                reader.problem(("wrong", index, "answer"), f"{entry['answer']!r} is the same command as an accepted one")
        return {"accept": accept, "wrong": wrong}

    def max_length(self, spec):
        return docker_commands.MAX_LENGTH

    def clean(self, spec, raw):
        text = super().clean(spec, raw)
        # What the learner can fix before submitting (a long dash for --, a paste of several
        # lines) is refused now, with the reason; a wrong command is graded wrong.
        problem = text and docker_commands.typing_problem(text)
        if problem:
            raise AnswerRefused(problem)
        return text

    def grade(self, spec, answer):
        try:
            reading = docker_commands.read(answer)
        except docker_commands.CommandError as error:
            return Grade(0.0, (message(str(error)),))
        typed, notes = reading.command, tuple(message(note) for note in reading.notes)
        accepted = [docker_commands.parse(line) for line in spec["accept"]]
        if typed in accepted:
            return Grade(1.0, notes)
        targeted = wrong_feedback(spec, lambda wrong: docker_commands.parse(wrong) == typed)
        if targeted:
            return Grade(0.0, targeted + notes)
        if any(command.path == typed.path for command in accepted):
            return Grade(0.0, (message(_("Right command, but not with the right options or arguments.")),) + notes)
        return Grade(0.0, (message(_("This command does something else.")),) + notes)

    def same_answer(self, spec, answer):
        try:
            return str(docker_commands.parse(answer))
        except docker_commands.CommandError:
            return " ".join(answer.split())
