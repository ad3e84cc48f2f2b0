"""What the labs announce to the apps above them (which labs never import): the LTI app posts grades from it."""

from django.dispatch import Signal

# Sent once a Check has passed and its verdict is stored: submission=<Submission> (its task and user loaded).
task_passed = Signal()
