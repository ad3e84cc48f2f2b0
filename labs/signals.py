"""What the labs announce to the apps above them (which labs never import): the LTI app posts grades from it."""

from django.dispatch import Signal

# Sent once a Check has passed and its verdict is stored: submission=<Submission> (its task and user loaded).
task_passed = Signal()
# Sent when a pass of a task that must still hold at the end no longer holds (labs/holding.py):
# submission=<the REGRESSED Submission> (its task and user loaded). The learner's score went down.
task_regressed = Signal()
