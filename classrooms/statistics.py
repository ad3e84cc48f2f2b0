"""Quiz and lab statistics of a classroom.

The pure functions at the top take plain numbers and are tested against
hand-computed values; the `*_statistics` functions below gather the rows of a
classroom in a fixed number of queries, whatever its size, and feed them.

Definitions (Moodle's quiz statistics report, shown on the page too):
- Facility index: the mean score learners got on the question, as a
  percentage of its maximum. 100 % = everyone right, 0 % = everyone wrong.
- Discrimination index: the correlation (Pearson's r, as a percentage)
  between the score on this question and the score on the rest of the
  attempt (the attempt's total minus this question). High: learners who do
  well overall get it right; near zero or negative: the question does not
  tell good from weak learners, often a badly worded or mis-keyed question.
  Undefined when either score does not vary.
Statistics use every submitted attempt of the classroom's learners.
"""

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Min, Q, TextField
from django.db.models.functions import Cast

from classrooms.access import member_ids
from quizzes.models import Attempt, AttemptQuestion, Question, Quiz
from quizzes.question_types import TYPES, same_answer
from labs.models import Lab, LabTask, Sandbox, SolutionView, Submission

PICKED_KINDS = [kind for kind, question_type in TYPES.items() if question_type.answered_by_picking]
TYPED_KINDS = [kind for kind, question_type in TYPES.items() if question_type.answered_by_typing]
TOP_FAILURES = 5
TOP_WRONG_ANSWERS = 5


# --- Pure computations ---------------------------------------------------------------------


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else None


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def pearson(xs, ys):
    """Pearson's correlation coefficient; None when it is undefined (fewer than 2 pairs, or no variance)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def facility_index(scores):
    """Moodle's facility index, in percent: mean of the question's scores (each 0..1 of its maximum)."""
    value = mean(scores)
    return None if value is None else 100 * value


def discrimination_index(question_scores, rest_scores):
    """Moodle's discrimination index, in percent: r(question score, rest-of-attempt score)."""
    r = pearson(question_scores, rest_scores)
    return None if r is None else 100 * r


def pick_frequencies(kind, choice_ids, answers):
    """How often each choice was picked, {choice id: count}, over the answers given (None: no answer)."""
    counts, question_type = Counter(), TYPES[kind]
    for answer in answers:
        if answer is not None:
            counts.update(question_type.picks(answer))
    return {cid: counts.get(cid, 0) for cid in choice_ids}


def top_wrong_answers(kind, spec, answers, limit=TOP_WRONG_ANSWERS):
    """[{"text", "count", "spellings"}] of the wrong answers typed, most frequent first (ties: alphabetical).

    Answers that grade alike are one (`docker images -a` and `docker image ls --all`,
    `Démon` and `demon` where accents do not count); `text` is its most frequent spelling.
    """
    groups = defaultdict(Counter)
    # Each distinct spelling is read once (a command is parsed): a class types the same few thousands of times.
    for answer, count in Counter(a for a in answers if isinstance(a, str) and a).items():
        groups[same_answer(kind, spec, answer)][answer] += count
    rows = []
    for spellings in groups.values():
        text = sorted(spellings.items(), key=lambda item: (-item[1], item[0]))[0][0]
        rows.append({"text": text, "count": sum(spellings.values()), "spellings": len(spellings)})
    return sorted(rows, key=lambda row: (-row["count"], row["text"]))[:limit]


def checks_until_pass(statuses):
    """Number of checks up to and including the first pass, from a learner's checks oldest first; None: never passed."""
    for number, status in enumerate(statuses, start=1):
        if status == Submission.Status.PASSED:
            return number
    return None


def frequent_failures(rows, limit=TOP_FAILURES):
    """[(message, count)] most frequent first, from failed checks' messages (ties: alphabetical)."""
    counts = Counter(message for message in rows)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


# --- Quiz statistics -----------------------------------------------------------------------


@dataclass
class QuestionStats:
    question: Question
    attempts: int = 0
    facility: float = None
    discrimination: float = None
    choices: list = field(default_factory=list)  # [{"html", "correct", "count", "percent"}]
    wrong_answers: list = field(default_factory=list)  # [{"text", "count", "spellings", "percent"}], typed answers only

    @property
    def flag(self):
        """A short reason to look at this question again, or ''."""
        if self.attempts < 2:
            return ""
        if self.discrimination is not None and self.discrimination < 0:
            return "negative"
        if self.facility is not None and (self.facility < 20 or self.facility > 95):
            return "extreme"
        if self.discrimination is not None and self.discrimination < 20:
            return "weak"
        return ""


@dataclass
class QuizStats:
    quiz: Quiz
    attempts: int
    questions: list  # [QuestionStats]
    scores: list  # each submitted attempt's score, 0..1

    def __iter__(self):
        return iter((self.quiz, self.attempts, self.questions))


def quiz_statistics(classroom, quizzes=None):
    """[QuizStats] for the course's quizzes (unpacks as (quiz, attempt count, [QuestionStats])), in three queries."""
    quizzes = list(quizzes if quizzes is not None else Quiz.objects.filter(course=classroom.course_id, is_published=True).order_by("chapter__position", "position"))
    questions = list(Question.objects.filter(quiz__in=[q.pk for q in quizzes]).order_by("quiz_id", "position"))
    slots = AttemptQuestion.objects.filter(
        attempt__quiz__in=[q.pk for q in quizzes], attempt__status=Attempt.Status.SUBMITTED, attempt__user__in=member_ids(classroom),
    ).order_by()  # the default ordering goes through attempt, quiz and chapter: a sort of every answer for nothing
    by_attempt = defaultdict(list)
    for attempt_id, quiz_id, question_id, score, points in slots.values_list("attempt_id", "attempt__quiz_id", "question_id", "score", "points").iterator(chunk_size=5000):
        by_attempt[attempt_id].append((quiz_id, question_id, score or 0.0, points))
    per_question = defaultdict(lambda: {"scores": [], "rest": [], "answers": [], "wrong": []})
    scores_per_quiz = defaultdict(list)
    for rows in by_attempt.values():
        total = sum(score * points for _, _, score, points in rows)
        maximum = sum(points for _, _, _, points in rows)
        scores_per_quiz[rows[0][0]].append(total / maximum if maximum else 0.0)
        for _, question_id, score, points in rows:
            data = per_question[question_id]
            data["scores"].append(score)
            data["rest"].append(total - score * points)
    # Answers only where picks are counted, or typed answers that scored less than full marks,
    # fetched as JSON text and decoded once per distinct text: a class answers the same few
    # choices thousands of times.
    raw = slots.filter(Q(kind__in=PICKED_KINDS) | Q(kind__in=TYPED_KINDS, score__lt=1)).annotate(raw=Cast("answer", TextField()))
    decoded = {None: None}
    for question_id, kind, text in raw.values_list("question_id", "kind", "raw").iterator(chunk_size=5000):
        if text not in decoded:
            decoded[text] = json.loads(text)
        per_question[question_id]["wrong" if kind in TYPED_KINDS else "answers"].append(decoded[text])
    result = []
    for quiz in quizzes:
        stats = []
        for question in (q for q in questions if q.quiz_id == quiz.pk):
            data = per_question.get(question.pk)
            if data is None and not question.is_published:
                continue
            entry = QuestionStats(question=question)
            if data:
                entry.attempts = len(data["scores"])
                entry.facility = facility_index(data["scores"])
                entry.discrimination = discrimination_index(data["scores"], data["rest"])
            entry.choices = _choices(question, data["answers"] if data else [])
            if data and question.kind in TYPED_KINDS:
                entry.wrong_answers = top_wrong_answers(question.kind, question.spec, data["wrong"])
                for row in entry.wrong_answers:
                    row["percent"] = round(100 * row["count"] / entry.attempts)
            stats.append(entry)
        scores = scores_per_quiz.get(quiz.pk, [])
        result.append(QuizStats(quiz=quiz, attempts=len(scores), questions=stats, scores=scores))
    return result


def _choices(question, answers):
    options = TYPES[question.kind].options(question.spec)  # none for the types not answered by picking
    counts = pick_frequencies(question.kind, [o["id"] for o in options], answers)
    answered = sum(1 for a in answers if a is not None)
    for option in options:
        option["count"] = counts[option["id"]]
        option["percent"] = round(100 * option["count"] / answered) if answered else 0
    return options


# --- Lab statistics ------------------------------------------------------------------------


@dataclass
class TaskStats:
    task: LabTask
    learners_checked: int = 0
    learners_passed: int = 0  # whose pass still holds
    learners_regressed: int = 0  # whose pass of a task that must hold until the end was undone at least once
    median_checks: float = None
    median_seconds: float = None
    failures: list = field(default_factory=list)  # [(message, count)]
    solutions_seen: int = 0  # learners who opened the task's solution


def lab_statistics(classroom, labs=None):
    """[(lab, [TaskStats])] for the course's labs, in five queries.

    - passed: learners whose pass holds (a task that must hold until the end may have been undone since);
    - checks until pass: a learner's checks on the task up to and including their first pass;
    - time to pass: from the learner's first sandbox for the lab (or, without one, their first
      check on the task) to their first passing check;
    - failures: failed checks grouped by task (its check) and message, most frequent first.
    """
    labs = list(labs if labs is not None else Lab.objects.filter(course=classroom.course_id, is_published=True).order_by("chapter__position", "position"))
    tasks = list(LabTask.objects.filter(lab__in=[lab.pk for lab in labs], is_published=True).order_by("lab_id", "position"))
    members = member_ids(classroom)
    started = {
        (row["owner_id"], row["lab_id"]): row["first"]
        for row in Sandbox.objects.filter(lab__in=[lab.pk for lab in labs], owner__in=members)
        .values("owner_id", "lab_id").annotate(first=Min("requested_at"))
    }
    checks = Submission.objects.filter(task__in=[t.pk for t in tasks], user__in=members, status__in=Submission.DONE).order_by("created_at", "pk")
    history = defaultdict(list)  # (task, user) -> [(status, created_at, message)]
    for task_id, user_id, status, created_at, message in checks.values_list("task_id", "user_id", "status", "created_at", "message").iterator(chunk_size=5000):
        history[(task_id, user_id)].append((status, created_at, message))
    solutions_seen = dict(
        SolutionView.objects.filter(task__in=[t.pk for t in tasks], user__in=members)
        .values("task_id").annotate(learners=Count("user_id", distinct=True)).values_list("task_id", "learners")
    )
    lab_of = {task.pk: task.lab_id for task in tasks}
    per_task = defaultdict(lambda: {"users": 0, "holding": 0, "regressed": 0, "checks": [], "seconds": [], "failures": []})
    for (task_id, user_id), rows in history.items():
        data = per_task[task_id]
        data["users"] += 1
        data["failures"].extend(message for status, _, message in rows if status == Submission.Status.FAILED)
        verdicts = [status for status, _, _ in rows if status in (Submission.Status.PASSED, Submission.Status.REGRESSED)]
        data["holding"] += bool(verdicts) and verdicts[-1] == Submission.Status.PASSED
        data["regressed"] += Submission.Status.REGRESSED in verdicts
        count = checks_until_pass([status for status, _, _ in rows])
        if count is None:
            continue
        data["checks"].append(count)
        passed_at = rows[count - 1][1]
        origin = started.get((user_id, lab_of[task_id]), rows[0][1])
        data["seconds"].append(max(0.0, (passed_at - min(origin, rows[0][1])).total_seconds()))
    result = []
    for lab in labs:
        stats = []
        for task in (t for t in tasks if t.lab_id == lab.pk):
            data = per_task.get(task.pk)
            entry = TaskStats(task=task, solutions_seen=solutions_seen.get(task.pk, 0))
            if data:
                entry.learners_checked = data["users"]
                entry.learners_passed = data["holding"]
                entry.learners_regressed = data["regressed"]
                entry.median_checks = median(data["checks"])
                entry.median_seconds = median(data["seconds"])
                entry.failures = frequent_failures(data["failures"])
            stats.append(entry)
        result.append((lab, stats))
    return result

