import json

from django.core.management.base import BaseCommand, CommandError

from courses.packs import PackError, load_pack, read_pack, summarize


class Command(BaseCommand):
    help = "Validate a course pack folder, then create or update the course it holds (by slug, in one transaction)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the pack folder, e.g. content/docker-fr")
        parser.add_argument("--check", action="store_true", help="validate and summarize the pack, write nothing")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, path, check, json: bool, **options):
        as_json = json
        try:
            pack = read_pack(path)
        except PackError as exc:
            if as_json:
                self.stdout.write(_json({"ok": False, "problems": [_problem(p) for p in exc.problems]}))
            count = len(exc.problems)
            raise CommandError(
                f"{path}: {count} problem{'s' if count > 1 else ''}, nothing was written:\n" + "\n".join(f"  {p}" for p in exc.problems)
            ) from None
        summary = summarize(pack)
        if not check:
            report = load_pack(pack)
            summary["load"] = {
                "changed": report.changed,
                "created": report.created,
                "updated": report.updated,
                "unpublished": report.unpublished,
                "removed_files": report.removed_files,
            }
        if as_json:
            self.stdout.write(_json({"ok": True, **summary}))
            return
        self._print_summary(summary, checked_only=check)

    def _print_summary(self, summary, *, checked_only):
        course, totals = summary["course"], summary["totals"]
        self.stdout.write(f"{course['title']} [{course['slug']}, {course['language']}]")
        self.stdout.write(
            f"  {totals['chapters']} chapters, {totals['lessons']} lessons (~{totals['minutes']} min), {totals['figures']} figures, "
            f"{totals['labs']} labs ({totals['lab_tasks']} tasks), {totals['quizzes']} quizzes ({totals['quiz_questions']} questions)"
        )
        for chapter in summary["chapters"]:
            self.stdout.write(f"  - {chapter['title']} ({len(chapter['lessons'])} lessons)")
            for lab in chapter["labs"]:
                checks = ", ".join(task["check"] for task in lab["tasks"])
                self.stdout.write(f"      lab {lab['slug']}: {len(lab['tasks'])} tasks ({checks}), {lab['setup_steps']} setup steps")
            for quiz in chapter["quizzes"]:
                types = ", ".join(f"{n} {kind}" for kind, n in sorted(quiz["types"].items()))
                details = "".join([
                    f", draws {quiz['draws']}" if quiz["draws"] else "",
                    f", {quiz['time_limit']} min" if quiz["time_limit"] else "",
                    f", {quiz['attempts']} attempts" if quiz["attempts"] else ", unlimited attempts",
                ])
                self.stdout.write(f"      quiz {quiz['slug']}: {quiz['questions']} questions ({types}){details}")
                self._print_self_checks(quiz.get("self_checks", []))
        for warning in summary["warnings"]:
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
        if checked_only:
            self.stdout.write(self.style.SUCCESS("Pack is valid (nothing written)."))
            return
        load = summary["load"]
        if not load["changed"]:
            self.stdout.write(self.style.SUCCESS("Already up to date: nothing changed."))
            return
        parts = [f"{verb} {_counts(load[verb])}" for verb in ("created", "updated", "unpublished") if any(load[verb].values())]
        if load["removed_files"]:
            parts.append(f"removed {load['removed_files']} unused files")
        self.stdout.write(self.style.SUCCESS("Loaded: " + "; ".join(parts) + "."))


    def _print_self_checks(self, checks):
        """Each question's own answers graded by its type: the key of every question, and per typed question its lines."""
        if not checks:
            return
        right, wrong = sum(c["right"] for c in checks), sum(c["wrong"] for c in checks)
        self.stdout.write(f"        self-check: {right} answers given as right grade right, {wrong} given as wrong grade wrong")
        for entry in checks:
            if entry["type"] in ("short", "command", "numeric"):
                self.stdout.write(
                    f"          ✓ {entry['slug']} ({entry['type']}): {entry['right']} accepted, {entry['wrong']} expected wrong"
                )


def _counts(counts):
    return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)


def _problem(problem):
    return {"file": problem.file, "line": problem.line, "field": problem.field, "message": problem.message}


def _json(data):
    return json.dumps(data, ensure_ascii=False, indent=2)
