"""Docker command: a command line, right when it does what an accepted one does (quizzes.docker_commands)."""

from django.utils.translation import gettext as _

from quizzes import docker_commands
from quizzes.question_types.base import Grade, TypedAnswer, message, wrong_feedback


class Command(TypedAnswer):
    kind = "command"

    def max_length(self, spec):
        return docker_commands.MAX_LENGTH

    def grade(self, spec, answer):
        try:
            typed = docker_commands.parse(answer)
        except docker_commands.CommandError as error:
            return Grade(0.0, (message(str(error)),))
        accepted = [docker_commands.parse(line) for line in spec["accept"]]
        if typed in accepted:
            return Grade(1.0)
        targeted = wrong_feedback(spec, lambda wrong: docker_commands.parse(wrong) == typed)
        if targeted:
            return Grade(0.0, targeted)
        if any(command.path == typed.path for command in accepted):
            return Grade(0.0, (message(_("Right command, but not with the right options or arguments.")),))
        return Grade(0.0, (message(_("This command does something else.")),))
