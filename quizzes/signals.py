"""What the quizzes announce to the apps above them (which quizzes never import): the LTI app posts grades from it."""

from django.dispatch import Signal

# Sent once an attempt is graded and its score stored, after the transaction: attempt=<Attempt>.
attempt_graded = Signal()
