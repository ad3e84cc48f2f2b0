"""Labs in a course pack: one YAML file per lab, listed by its chapter in course.yaml.

Validated with the same rules and error quality as lessons (file, line,
field), then upserted by slug with the rest of the pack.
"""

import hashlib
import io
import posixpath
import tarfile
from dataclasses import dataclass

from courses import markdown
from courses.packs import relative_file, upsert
from grader.checks import CHECKS, params_problems
from labs.models import Lab, LabFile, LabTask

LAB_KEYS = {"slug": True, "title": True, "minutes": True, "summary": False, "instructions": True, "setup": False, "tasks": True}
STEP_KEYS = {"label": True, "run": False, "copy": False, "to": False}
TASK_KEYS = {"slug": True, "title": True, "prompt": True, "check": True, "params": False, "answer": False, "hint": False, "solution": False, "must_hold": False}
MAX_ARCHIVE_BYTES = 1024 * 1024


@dataclass
class PackLabFile:
    source: str
    archive: bytes

    @property
    def sha256(self):
        return hashlib.sha256(self.archive).hexdigest()


@dataclass
class PackTask:
    slug: str
    title: str
    prompt_html: str
    check_name: str
    check_params: dict
    answer_label: str
    hint_html: str
    solution_html: str = ""
    must_hold: bool = False


@dataclass
class PackLab:
    slug: str
    title: str
    summary: str
    minutes: int
    source_path: str
    instructions_markdown: str
    instructions_html: str
    setup: list
    files: list
    tasks: list


def archive_folder(folder):
    """A tar of the folder with fixed owners and dates, so the same files give the same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if path.is_file():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            elif path.is_dir():
                tar.addfile(info)
    return buffer.getvalue()


def read_lab(check, relative, *, lessons):
    """Validate one lab file; return a PackLab, or None after recording problems in `check`."""
    root = check.root
    file = check.display(relative.as_posix())
    doc = check.yaml_file(root / relative, file)
    if doc is None:
        return None
    lab = check.mapping(doc, (), LAB_KEYS, file, "a lab")
    if lab is None:
        return None
    slug = check.slug(lab.get("slug"), doc, ("slug",), file)
    title = check.text(lab.get("title"), doc, ("title",), file)
    summary = check.text(lab.get("summary"), doc, ("summary",), file) if lab.get("summary") is not None else ""
    minutes = check.minutes(lab.get("minutes"), doc, ("minutes",), file)
    instructions = check.text(lab.get("instructions"), doc, ("instructions",), file)

    # What a learner may run from this lab (its Markdown's sh blocks, its setup commands), checked once the file is read.
    runnable_texts = [(lab.get("instructions"), _first_line(doc, ("instructions",), lab.get("instructions")))]
    setup_commands = []
    setup, files = [], []
    steps = lab.get("setup") or []
    if not isinstance(steps, list):
        check.add(file, doc.line("setup"), ("setup",), "must be a list of steps")
        steps = []
    for index, _ in enumerate(steps):
        path = ("setup", index)
        step = check.mapping(doc, path, STEP_KEYS, file, "a setup step")
        if step is None:
            continue
        label = check.text(step.get("label"), doc, path + ("label",), file)
        if ("run" in step) == ("copy" in step):
            check.add(file, doc.line(*path), path, "a step has either run (a shell command) or copy (a pack folder), not both or neither")
            continue
        if "run" in step:
            command = check.text(step.get("run"), doc, path + ("run",), file)
            if "to" in step:
                check.add(file, doc.line(*path, "to"), path + ("to",), "only a copy step has a destination")
            setup.append({"label": label, "run": command})
            setup_commands.append((command, _first_line(doc, path + ("run",), step.get("run"))))
            continue
        source = check.text(step.get("copy"), doc, path + ("copy",), file)
        destination = step.get("to")
        if not isinstance(destination, str) or not destination.startswith("/"):
            check.add(file, doc.line(*path, "to") if "to" in step else doc.line(*path), path + ("to",), "a copy step needs an absolute destination folder in the sandbox")
            continue
        folder = relative_file(root, source) if source else None
        if folder is None or not (root / folder).is_dir():
            check.add(file, doc.line(*path, "copy"), path + ("copy",), f"{source!r} is not a folder of the pack")
            continue
        archive = archive_folder(root / folder)
        if len(archive) > MAX_ARCHIVE_BYTES:
            check.add(file, doc.line(*path, "copy"), path + ("copy",), f"{source!r} is larger than {MAX_ARCHIVE_BYTES // 1024} KiB")
            continue
        files.append(PackLabFile(source=folder.as_posix(), archive=archive))
        setup.append({"label": label, "copy": folder.as_posix(), "to": posixpath.normpath(destination)})

    tasks, task_slugs = [], {}
    task_list = lab.get("tasks")
    if task_list is not None and (not isinstance(task_list, list) or not task_list):
        check.add(file, doc.line("tasks"), ("tasks",), "must be a non-empty list of tasks")
        task_list = []
    for index, _ in enumerate(task_list or []):
        path = ("tasks", index)
        task = check.mapping(doc, path, TASK_KEYS, file, "a task")
        if task is None:
            continue
        task_slug = check.slug(task.get("slug"), doc, path + ("slug",), file)
        check.unique_slug(task_slugs, task_slug, doc, path, file)
        check_name = task.get("check")
        params = task.get("params") or {}
        for problem in params_problems(check_name, params) if check_name else []:
            field = path + (("check",) if problem.startswith("unknown check") else ("params",))
            check.add(file, doc.line(*field), field, problem)
        answer = task.get("answer")
        spec = CHECKS.get(check_name)
        if spec is not None and spec.needs_answer and not answer:
            check.add(file, doc.line(*path), path + ("answer",), f"check {check_name} grades an answer: give the answer field's label")
        if spec is not None and answer and not spec.needs_answer:
            check.add(file, doc.line(*path, "answer"), path + ("answer",), f"check {check_name} does not read an answer: remove answer")
        prompt = check.text(task.get("prompt"), doc, path + ("prompt",), file)
        hint = check.text(task.get("hint"), doc, path + ("hint",), file) if task.get("hint") is not None else ""
        # The intended way, offered after the hint: its commands are runnable blocks like the rest of the lab.
        solution = check.text(task.get("solution"), doc, path + ("solution",), file) if task.get("solution") is not None else ""
        # A pass that must still hold when the lab is finished (and when its sandbox ends): labs/holding.py.
        must_hold = task.get("must_hold", False)
        if not isinstance(must_hold, bool):
            check.add(file, doc.line(*path, "must_hold"), path + ("must_hold",), f"{must_hold!r} is not true or false")
            must_hold = False
        for key in ("prompt", "hint", "solution"):
            runnable_texts.append((task.get(key), _first_line(doc, path + (key,), task.get(key))))
        tasks.append(PackTask(
            slug=task_slug, title=check.text(task.get("title"), doc, path + ("title",), file),
            prompt_html=markdown.render(prompt).html, check_name=check_name or "", check_params=params,
            answer_label=answer if isinstance(answer, str) else "", hint_html=markdown.render(hint).html if hint else "",
            solution_html=markdown.render(solution).html if solution else "", must_hold=must_hold,
        ))
    check.code_blocks(file, [(text, line) for text, line in runnable_texts if isinstance(text, str)], commands=setup_commands)
    return PackLab(
        slug=slug, title=title, summary=summary, minutes=minutes, source_path=relative.as_posix(),
        instructions_markdown=instructions, instructions_html=markdown.render(instructions).html,
        setup=setup, files=files, tasks=tasks,
    )


def _first_line(doc, path, value):
    """The line of the file where a text value starts: the next one for a block scalar (`key: |`)."""
    line = doc.line(*path)
    return line + 1 if isinstance(value, str) and value.endswith("\n") else line


def load_lab(report, *, course, chapter, position, item, lessons_by_slug):
    """Upsert one lab with its tasks and files; tasks that left it are unpublished, their checks kept."""
    lab, outcome = upsert(
        Lab, {"course": course, "slug": item.slug},
        {
            "chapter": chapter, "title": item.title, "summary": item.summary, "minutes": item.minutes,
            "position": position, "source_path": item.source_path, "instructions_markdown": item.instructions_markdown,
            "instructions_html": item.instructions_html, "setup": item.setup, "is_published": True,
        },
    )
    report.count(outcome, "labs")
    task_ids = []
    for task_position, pack_task in enumerate(item.tasks, start=1):
        task, outcome = upsert(
            LabTask, {"lab": lab, "slug": pack_task.slug},
            {
                "title": pack_task.title, "position": task_position, "prompt_html": pack_task.prompt_html,
                "check_name": pack_task.check_name, "check_params": pack_task.check_params,
                "answer_label": pack_task.answer_label, "hint_html": pack_task.hint_html,
                "solution_html": pack_task.solution_html, "must_hold": pack_task.must_hold, "is_published": True,
            },
        )
        report.count(outcome, "tasks")
        task_ids.append(task.pk)
    report.unpublished["tasks"] += lab.tasks.filter(is_published=True).exclude(pk__in=task_ids).update(is_published=False)
    for pack_file in item.files:
        _, outcome = upsert(LabFile, {"lab": lab, "source": pack_file.source}, {"archive": pack_file.archive, "sha256": pack_file.sha256})
        report.count(outcome, "files")
    removed, _ = lab.files.exclude(source__in=[f.source for f in item.files]).delete()
    report.removed_files += removed
    return lab.pk


def unpublish_labs(course, kept_ids):
    return course.labs.filter(is_published=True).exclude(pk__in=kept_ids).update(is_published=False)


def describe_lab(lab):
    return {
        "slug": lab.slug, "title": lab.title, "minutes": lab.minutes, "setup_steps": len(lab.setup),
        "tasks": [{"slug": t.slug, "check": t.check_name, **({"must_hold": True} if t.must_hold else {})} for t in lab.tasks],
    }


def lab_totals(labs):
    return {"labs": len(labs), "lab_tasks": sum(len(lab.tasks) for lab in labs)}
