from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from courses.models import Chapter, Course, Lesson
from quizzes import question_types


class Quiz(models.Model):
    """A quiz of a course pack: its settings and a pool of questions; attempts draw from the pool."""

    class Grading(models.TextChoices):
        BEST = "best", _("highest attempt")
        LAST = "last", _("last attempt")
        AVERAGE = "average", _("average of attempts")

    class ReviewWhen(models.TextChoices):
        IMMEDIATELY = "immediately", _("right after each attempt")
        AFTER_CLOSE = "after_close", _("once the quiz is closed for the learner")

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="quizzes")
    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="quizzes")
    lesson = models.ForeignKey(
        Lesson, on_delete=models.SET_NULL, null=True, blank=True, related_name="quizzes",
        help_text=_("Shown after this lesson in the outline; empty: at the end of its chapter."),
    )
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    intro_html = models.TextField(blank=True)
    position = models.PositiveIntegerField(help_text=_("Order within its chapter."))
    source_path = models.CharField(max_length=300, blank=True)
    max_attempts = models.PositiveIntegerField(null=True, blank=True, help_text=_("Empty: unlimited."))
    grading = models.CharField(max_length=10, choices=Grading.choices, default=Grading.BEST)
    time_limit_minutes = models.PositiveIntegerField(null=True, blank=True, help_text=_("Empty: no time limit."))
    pool_size = models.PositiveIntegerField(null=True, blank=True, help_text=_("Questions drawn for each attempt; empty: all of them."))
    shuffle_questions = models.BooleanField(default=False)
    shuffle_choices = models.BooleanField(default=False)
    closes_at = models.DateTimeField(null=True, blank=True, help_text=_("No new attempt after this date."))
    review_when = models.CharField(max_length=20, choices=ReviewWhen.choices, default=ReviewWhen.IMMEDIATELY)
    review_correct_answers = models.BooleanField(default=True)
    review_feedback = models.BooleanField(default=True)
    review_explanations = models.BooleanField(default=True)
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "courses_quiz"
        ordering = ["course", "chapter__position", "position"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="quiz_slug_unique_in_course")]
        verbose_name = _("quiz")
        verbose_name_plural = _("quizzes")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("quizzes:quiz", args=[self.course.slug, self.slug])

    def is_closed(self, now):
        return self.closes_at is not None and now >= self.closes_at

    def attempts_left(self, used):
        """How many more attempts a learner who used `used` may start (None: unlimited)."""
        return None if self.max_attempts is None else max(0, self.max_attempts - used)

    def questions_per_attempt(self, available):
        return min(self.pool_size, available) if self.pool_size else available

    def final_score(self, scores):
        """The grade of a learner from the scores of their submitted attempts, oldest first."""
        if not scores:
            return None
        if self.grading == self.Grading.LAST:
            return scores[-1]
        if self.grading == self.Grading.AVERAGE:
            return sum(scores) / len(scores)
        return max(scores)

    def review_is_open(self, *, now, finished):
        """Whether submitted attempts show their corrections; `finished`: the learner can take no more attempts."""
        if self.review_when == self.ReviewWhen.IMMEDIATELY:
            return True
        return self.is_closed(now) or finished


class Question(models.Model):
    """One question of a quiz's pool; `spec` holds what its type needs (see quizzes.question_types)."""

    # From the registry: a new question type adds its choice here by itself (then makemigrations).
    Kind = models.TextChoices("Kind", [(kind.upper(), (kind, question_type.label)) for kind, question_type in question_types.TYPES.items()])

    class Source(models.TextChoices):
        PACK = "pack", _("course pack")
        GIFT = "gift", _("GIFT import")

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    slug = models.SlugField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    position = models.PositiveIntegerField()
    prompt_html = models.TextField()
    explanation_html = models.TextField(blank=True)
    points = models.PositiveIntegerField(default=1)
    spec = models.JSONField(default=dict)
    # The pack loader only upserts and unpublishes the questions it owns; imported ones stay.
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PACK)
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "courses_question"
        ordering = ["quiz", "position"]
        constraints = [models.UniqueConstraint(fields=["quiz", "slug"], name="question_slug_unique_in_quiz")]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self):
        return self.slug


class Attempt(models.Model):
    """One try of a quiz by a learner: the questions drawn for it, fixed at start, then a score."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        SUBMITTED = "submitted", _("submitted")

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    number = models.PositiveIntegerField()
    seed = models.PositiveBigIntegerField(help_text=_("Seed of the draw and of the shuffles."))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    is_late = models.BooleanField(default=False, help_text=_("Submitted after the time limit: graded as at the deadline."))
    score = models.FloatField(null=True, blank=True, help_text=_("From 0 to 1."))

    class Meta:
        db_table = "courses_attempt"
        ordering = ["quiz", "user", "number"]
        constraints = [
            models.UniqueConstraint(fields=["quiz", "user", "number"], name="attempt_number_unique"),
            models.UniqueConstraint(
                fields=["quiz", "user"], condition=models.Q(status="in_progress"), name="one_open_attempt_per_learner_and_quiz",
            ),
        ]
        indexes = [models.Index(fields=["user", "quiz", "status"])]
        verbose_name = _("quiz attempt")
        verbose_name_plural = _("quiz attempts")

    def __str__(self):
        return f"{self.quiz} · {self.user} · {self.number}"

    def get_absolute_url(self):
        if self.status == self.Status.SUBMITTED:
            return reverse("quizzes:attempt_results", args=[self.pk])
        return reverse("quizzes:attempt", args=[self.pk])

    @property
    def percent(self):
        return None if self.score is None else round(self.score * 100)

    def seconds_left(self, now):
        if self.deadline is None:
            return None
        return max(0, int((self.deadline - now).total_seconds()))


class AttemptQuestion(models.Model):
    """A question as drawn for one attempt: a copy of it as it was then, its display order, the answer."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="slots")
    # Questions are never deleted (the loader unpublishes them), so old attempts keep theirs.
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="attempt_slots")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Question.Kind.choices)
    prompt_html = models.TextField()
    explanation_html = models.TextField(blank=True)
    points = models.PositiveIntegerField(default=1)
    spec = models.JSONField(default=dict)
    # Display order of the choices, options or items, by id, drawn from the attempt's seed.
    order = models.JSONField(default=list)
    answer = models.JSONField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    feedback = models.JSONField(default=list, help_text=_("HTML fragments shown after submission."))

    class Meta:
        db_table = "courses_attemptquestion"
        # By the column, not the relation: "attempt" would sort by the attempt's own ordering, which joins
        # the attempt, quiz, course and chapter into every read of an attempt's questions (autosave included).
        ordering = ["attempt_id", "position"]
        constraints = [models.UniqueConstraint(fields=["attempt", "position"], name="attempt_slot_position_unique")]
        verbose_name = _("attempt question")
        verbose_name_plural = _("attempt questions")

    def __str__(self):
        return f"{self.attempt} · {self.position}"

    @property
    def field_name(self):
        return f"q-{self.pk}"

    @property
    def status(self):
        if self.score is None:
            return None
        return "right" if self.score >= 1 else ("partial" if self.score > 0 else "wrong")

    def display(self, *, review=False):
        """What a page shows of this question. Right answers only with `review`: never in an open attempt."""
        return question_types.view(self.kind, self.spec, self.order, self.answer, name=self.field_name, review=review)
