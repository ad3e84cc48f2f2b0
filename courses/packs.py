"""Course packs: a folder of YAML and Markdown, validated whole, then upserted.

`read_pack` is pure (files in, dataclasses out) and reports every problem it
finds with the file, the line where known and the field. `load_pack` writes a
validated pack in one transaction, by slug, and never deletes anything a
learner's progress points to: what left the pack is unpublished.

This module reads the course file and the lessons itself. The other files a
chapter lists (labs, quizzes) are read and loaded by the apps that own them,
through `courses.activities`, with the public helpers here: `parse_yaml`,
`Checker` (with `Checker.code_blocks` for the Markdown and shell commands a
learner may run), `relative_file`, `upsert` and `LoadReport`.
"""

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from courses import activities, markdown, runnable
from courses.models import Chapter, Course, CourseAsset, Lesson

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}(?:-[a-z]{2,4})?$")
COURSE_FILE = "course.yaml"
COURSE_KEYS = {"slug": True, "title": True, "language": True, "description": False, "chapters": True}
CHAPTER_KEYS = {"slug": True, "title": True, "summary": False, "lessons": True}
LESSON_KEYS = {"slug": True, "title": True, "minutes": True, "summary": False}
ASSET_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".webp", ".gif"}
MAX_ASSET_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self):
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}"


class PackError(Exception):
    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class PackAsset:
    path: str
    content: bytes
    content_type: str

    @property
    def sha256(self):
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class PackLesson:
    slug: str
    title: str
    minutes: int
    summary: str
    source_path: str
    body_markdown: str
    body_html: str
    toc: list


@dataclass
class PackChapter:
    slug: str
    title: str
    summary: str
    lessons: list[PackLesson]
    # What the chapter lists besides lessons, by activity kind: {"labs": [...], "quizzes": [...]}.
    activities: dict = field(default_factory=dict)


@dataclass
class Pack:
    root: Path
    slug: str
    title: str
    language: str
    description: str
    chapters: list[PackChapter]
    assets: list[PackAsset]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def lessons(self):
        return [lesson for chapter in self.chapters for lesson in chapter.lessons]

    def activities(self, key):
        """Every item of one activity kind ("labs", "quizzes"), in course order."""
        return [item for chapter in self.chapters for item in chapter.activities.get(key, [])]


# --- YAML with line numbers -------------------------------------------------


@dataclass
class YamlDoc:
    """Parsed YAML plus the line of each key, addressed by its path of keys and indexes."""

    data: object
    lines: dict

    def line(self, *path):
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def parse_yaml(text, file, first_line=1):
    """Parse YAML text; raise PackError naming the file and line on bad YAML or duplicate keys."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise PackError([Problem(file, line, None, f"invalid YAML: {reason}")]) from None
    lines = {(): first_line}
    problems = []

    def walk(n, path):
        if isinstance(n, yaml.MappingNode):
            seen = set()
            for key_node, value_node in n.value:
                key = key_node.value
                line = first_line + key_node.start_mark.line
                if key in seen:
                    problems.append(Problem(file, line, dotted(path + (key,)), "duplicate key"))
                seen.add(key)
                lines[path + (key,)] = line
                walk(value_node, path + (key,))
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                lines[path + (index,)] = first_line + item.start_mark.line
                walk(item, path + (index,))

    if node is not None:
        walk(node, ())
    if problems:
        raise PackError(problems)
    return YamlDoc(data, lines)


def dotted(path):
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# --- Validation --------------------------------------------------------------


class Checker:
    """Collects the problems of a pack as it is read, with helpers that check one value each."""

    def __init__(self, root):
        self.root = root
        self.problems = []
        self._catalog = None

    @property
    def catalog(self):
        """The course registry's images (settings.COURSE_IMAGE_CATALOG), read once per pack; None if unset."""
        if self._catalog is None:
            path = getattr(settings, "COURSE_IMAGE_CATALOG", None)
            self._catalog = False
            if path:
                try:
                    self._catalog = runnable.Catalog.from_file(path)
                except (OSError, ValueError, KeyError) as exc:
                    self.add(str(path), None, None, f"the course image catalogue cannot be read: {exc}")
        return self._catalog or None

    def code_blocks(self, file, texts, *, commands=()):
        """Check what a learner may run from one file: its runnable sh blocks and shell commands.

        `texts` are (Markdown, line of its first line in the file) pairs, every
        Markdown text of the file; `commands` (shell text, line) pairs that run
        as they are (a lab's setup steps). An image made anywhere in the file
        (`docker build -t`, `docker tag`) may be used anywhere in it.
        """
        blocks = [
            (block.code, first_line + block.line - 1)
            for text, first_line in texts
            for block in markdown.find_code_blocks(text or "")
            if block.runnable_language and not block.shown
        ]
        blocks += [(command, line) for command, line in commands]
        for problem in runnable.problems(blocks, self.catalog):
            self.add(file, problem.line, "sh block", problem.message)

    def display(self, relative):
        """A file of the pack named as its author would type it."""
        return str(self.root / relative)

    def add(self, file, line, field_path, message):
        if isinstance(field_path, tuple):
            field_path = dotted(field_path) if field_path else None
        self.problems.append(Problem(file, line, field_path, message))

    def mapping(self, doc, path, allowed, file, what):
        """Check a mapping's keys; return it (or None when it is not a mapping)."""
        value = doc.data if not path else _get(doc.data, path)
        if not isinstance(value, dict):
            self.add(file, doc.line(*path), path, f"{what} must be a mapping of keys to values")
            return None
        for key in value:
            if key not in allowed:
                known = ", ".join(allowed)
                self.add(file, doc.line(*path, key), path + (key,), f"unknown key (allowed: {known})")
        for key, required in allowed.items():
            if required and (key not in value or value[key] in (None, "")):
                self.add(file, doc.line(*path), path + (key,), f"missing {key}")
        return value

    def text(self, value, doc, path, file, *, pattern=None, hint=""):
        if value is None:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(file, doc.line(*path), path, "must be a non-empty text")
            return ""
        if pattern and not pattern.match(value):
            self.add(file, doc.line(*path), path, f"{value!r} is not valid{hint}")
        return value.strip()

    def yaml_file(self, path, file):
        """Parse a YAML file of the pack; None, with its problems recorded, when it does not parse."""
        try:
            return parse_yaml(path.read_text(encoding="utf-8"), file)
        except PackError as exc:
            self.problems.extend(exc.problems)
            return None

    def slug(self, value, doc, path, file):
        return self.text(value, doc, path, file, pattern=SLUG_RE, hint=" (use lowercase letters, digits and hyphens)")

    def unique_slug(self, seen, slug, doc, path, file):
        """Note the slug of the list item at `path` (key, index); a slug seen before is reported."""
        key, index = path[-2], path[-1]
        if slug in seen:
            self.add(file, doc.line(*path, "slug"), path + ("slug",), f"duplicate slug {slug!r} (also {key}[{seen[slug]}])")
        elif slug:
            seen[slug] = index

    def minutes(self, value, doc, path, file):
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.add(file, doc.line(*path), path, f"{value!r} is not a whole number of minutes (1 or more)")
            return 0
        return value


def _get(data, path):
    for part in path:
        data = data[part]
    return data


def relative_file(root, relative, base_dir=PurePosixPath(".")):
    """Resolve a pack-relative path; None when it leaves the pack."""
    candidate = (root / base_dir / relative).resolve()
    try:
        return candidate.relative_to(root.resolve())
    except ValueError:
        return None


def read_pack(path):
    """Read and validate a pack folder; return a Pack or raise PackError listing every problem."""
    root = Path(path)
    if not root.is_dir():
        raise PackError([Problem(str(root), None, None, "no such folder")])
    course_file = root / COURSE_FILE
    check = Checker(root)
    cfile = check.display(COURSE_FILE)
    if not course_file.is_file():
        raise PackError([Problem(cfile, None, None, "missing course file")])
    doc = parse_yaml(course_file.read_text(encoding="utf-8"), cfile)
    kinds = activities.kinds()
    chapter_keys = {**CHAPTER_KEYS, **{kind.key: False for kind in kinds}}
    course = check.mapping(doc, (), COURSE_KEYS, cfile, "the course file")
    if course is None:
        raise PackError(check.problems)

    slug = check.slug(course.get("slug"), doc, ("slug",), cfile)
    title = check.text(course.get("title"), doc, ("title",), cfile)
    language = check.text(course.get("language"), doc, ("language",), cfile, pattern=LANGUAGE_RE, hint=" (a language code such as fr or en)")
    description = check.text(course.get("description"), doc, ("description",), cfile) if course.get("description") is not None else ""

    chapters_data = course.get("chapters")
    chapters = []
    assets = {}
    lesson_slugs = {}
    activity_slugs = {kind.key: {} for kind in kinds}
    chapter_slugs = {}
    listed_files = {}
    if chapters_data is not None and (not isinstance(chapters_data, list) or not chapters_data):
        check.add(cfile, doc.line("chapters"), ("chapters",), "must be a non-empty list of chapters")
        chapters_data = []
    for ci, _ in enumerate(chapters_data or []):
        cpath = ("chapters", ci)
        chapter = check.mapping(doc, cpath, chapter_keys, cfile, "a chapter")
        if chapter is None:
            continue
        cslug = check.slug(chapter.get("slug"), doc, cpath + ("slug",), cfile)
        check.unique_slug(chapter_slugs, cslug, doc, cpath, cfile)
        ctitle = check.text(chapter.get("title"), doc, cpath + ("title",), cfile)
        csummary = check.text(chapter.get("summary"), doc, cpath + ("summary",), cfile) if chapter.get("summary") is not None else ""
        listed = {"check": check, "doc": doc, "cpath": cpath, "chapter": chapter, "cfile": cfile, "listed_files": listed_files}
        lessons = _read_listed(
            "lessons", "lesson", read=lambda relative: _read_lesson(root, relative, slug, check, assets, language or "fr"), slugs=lesson_slugs,
            required=True, **listed,
        )
        chapter_activities = {
            kind.key: _read_listed(
                kind.key, kind.noun, read=lambda relative, kind=kind: kind.read(check, relative, lessons=lessons),
                slugs=activity_slugs[kind.key], **listed,
            )
            for kind in kinds
        }
        chapters.append(PackChapter(slug=cslug, title=ctitle, summary=csummary, lessons=lessons, activities=chapter_activities))

    if check.problems:
        raise PackError(check.problems)

    warnings = [
        Problem(check.display(path.relative_to(root).as_posix()), None, None, "file not listed in any chapter")
        for pattern in ("lessons/**/*.md", *(kind.files for kind in kinds))
        for path in sorted(root.glob(pattern))
        if path.relative_to(root).as_posix() not in listed_files
    ]
    return Pack(
        root=root, slug=slug, title=title, language=language, description=description,
        chapters=chapters, assets=list(assets.values()), warnings=warnings,
    )


def _read_listed(key, noun, *, read, slugs, check, doc, cpath, chapter, cfile, listed_files, required=False):
    """Read the files a chapter lists under `key` (lessons, labs, quizzes), each slug once in the course."""
    entries = chapter.get(key)
    if entries is not None and (not isinstance(entries, list) or (required and not entries)):
        check.add(cfile, doc.line(*cpath, key), cpath + (key,), f"must be a {'non-empty ' if required else ''}list of files")
        entries = []
    items = []
    for relative in _listed_files(check, doc, cpath, key, noun, entries, cfile, listed_files):
        item = read(relative)
        if item is None:
            continue
        shown = check.display(relative.as_posix())
        if item.slug in slugs:
            # Lessons hold their slug in front matter (line 2); labs and quizzes near the top of the file.
            check.add(shown, 2 if key == "lessons" else 1, "slug", f"duplicate slug {item.slug!r} (also in {slugs[item.slug]})")
        else:
            slugs[item.slug] = shown
        items.append(item)
    return items


def _listed_files(check, doc, cpath, key, noun, entries, cfile, listed_files):
    """The existing, not yet listed files a chapter names under `key`, as pack-relative paths."""
    root = check.root
    for index, relative in enumerate(entries or []):
        path = cpath + (key, index)
        line = doc.line(*path)
        if not isinstance(relative, str) or not relative.strip():
            check.add(cfile, line, path, "must be the path of a file of the pack")
            continue
        resolved = relative_file(root, relative)
        if resolved is None:
            check.add(cfile, line, path, f"{relative!r} points outside the pack")
            continue
        if not (root / resolved).is_file():
            check.add(cfile, line, path, f"{noun} file {relative!r} does not exist")
            continue
        if resolved.as_posix() in listed_files:
            check.add(cfile, line, path, f"{relative!r} is already listed at {listed_files[resolved.as_posix()]}")
            continue
        listed_files[resolved.as_posix()] = dotted(path)
        yield resolved


def _split_front_matter(text):
    """Return (front matter text, body, line where the body starts) or None without front matter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1:]), index + 2
    return None


def _read_lesson(root, relative, course_slug, check, assets, language):
    file = str(root / relative)
    try:
        text = (root / relative).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        check.add(file, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None
    parts = _split_front_matter(text)
    if parts is None:
        check.add(file, 1, None, "missing front matter: the file must start with a '---' line, the lesson's keys, then '---'")
        return None
    front_text, body, body_line = parts
    try:
        doc = parse_yaml(front_text, file, first_line=2)
    except PackError as exc:
        check.problems.extend(exc.problems)
        return None
    meta = check.mapping(doc, (), LESSON_KEYS, file, "the front matter")
    if meta is None:
        return None
    slug = check.slug(meta.get("slug"), doc, ("slug",), file)
    title = check.text(meta.get("title"), doc, ("title",), file)
    summary = check.text(meta.get("summary"), doc, ("summary",), file) if meta.get("summary") is not None else ""
    minutes = check.minutes(meta.get("minutes"), doc, ("minutes",), file)
    if not body.strip():
        check.add(file, body_line, None, "the lesson has no text after its front matter")
    check.code_blocks(file, [(body, body_line)])

    image_urls = {}
    for image in markdown.find_images(body):
        line = body_line + image.line - 1
        if not image.alt:
            check.add(file, line, "image", f"{image.src!r} needs an alt text (the figure's text alternative)")
        if re.match(r"^[a-z][a-z0-9+.-]*:", image.src, re.I) or image.src.startswith("//"):
            check.add(file, line, "image", f"{image.src!r}: images must be files of the pack, not addresses")
            continue
        target = relative_file(root, image.src, PurePosixPath(relative).parent)
        if target is None or not (root / target).is_file():
            check.add(file, line, "image", f"{image.src!r} does not exist in the pack")
            continue
        if target.suffix.lower() not in ASSET_SUFFIXES:
            check.add(file, line, "image", f"{image.src!r}: unsupported image type (use {', '.join(sorted(ASSET_SUFFIXES))})")
            continue
        asset_path = target.as_posix()
        if asset_path not in assets:
            content = (root / target).read_bytes()
            if len(content) > MAX_ASSET_BYTES:
                check.add(file, line, "image", f"{image.src!r} is larger than {MAX_ASSET_BYTES // 1024} KiB")
                continue
            content_type = mimetypes.guess_type(asset_path)[0] or "application/octet-stream"
            assets[asset_path] = PackAsset(path=asset_path, content=content, content_type=content_type)
        image_urls[image.src] = reverse("courses:asset", args=[course_slug or "course", asset_path])
    rendered = markdown.render(body, image_urls=image_urls, language=language)
    return PackLesson(
        slug=slug, title=title, minutes=minutes, summary=summary,
        source_path=relative.as_posix(), body_markdown=body, body_html=rendered.html, toc=rendered.toc,
    )


# --- Summary -----------------------------------------------------------------


def summarize(pack):
    """What a pack holds, as plain data (for --check and --json)."""
    kinds = activities.kinds()
    totals = {
        "chapters": len(pack.chapters),
        "lessons": len(pack.lessons),
        "minutes": sum(lesson.minutes for lesson in pack.lessons),
        "figures": len(pack.assets),
    }
    for kind in kinds:
        totals.update(kind.totals(pack.activities(kind.key)))
    return {
        "course": {"slug": pack.slug, "title": pack.title, "language": pack.language},
        "chapters": [
            {
                "slug": chapter.slug,
                "title": chapter.title,
                "lessons": [{"slug": lesson.slug, "title": lesson.title, "minutes": lesson.minutes} for lesson in chapter.lessons],
                **{kind.key: [kind.describe(item) for item in chapter.activities.get(kind.key, [])] for kind in kinds},
            }
            for chapter in pack.chapters
        ],
        "totals": totals,
        "warnings": [str(w) for w in pack.warnings],
    }


# --- Writing -------------------------------------------------------------------


class LoadReport:
    """What loading a pack created, updated and unpublished, counted by kind of row."""

    def __init__(self, course, *, course_changed):
        self.course = course
        self.course_changed = course_changed
        row_kinds = ["chapters", "lessons", *(key for kind in activities.kinds() for key in kind.counts)]
        self.created = dict.fromkeys([*row_kinds, "files"], 0)
        self.updated = dict.fromkeys([*row_kinds, "files"], 0)
        self.unpublished = dict.fromkeys(row_kinds, 0)
        self.removed_files = 0

    @property
    def changed(self):
        return bool(
            self.course_changed or self.removed_files or any(self.created.values())
            or any(self.updated.values()) or any(self.unpublished.values())
        )

    def count(self, outcome, kind):
        """Count the outcome of one `upsert` ('created', 'updated' or None) for a kind of row."""
        if outcome == "created":
            self.created[kind] += 1
        elif outcome == "updated":
            self.updated[kind] += 1


def upsert(model, lookup, values):
    """Create the row, or update only the fields that differ; return (row, 'created'|'updated'|None)."""
    row = model.objects.filter(**lookup).first()
    if row is None:
        return model.objects.create(**lookup, **values), "created"
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if not changed:
        return row, None
    for name in changed:
        setattr(row, name, values[name])
    row.save(update_fields=changed + (["updated_at"] if hasattr(row, "updated_at") else []))
    return row, "updated"


@transaction.atomic
def load_pack(pack):
    """Write a validated pack: upsert by slug, unpublish what left it, keep every learner's row."""
    course, outcome = upsert(
        Course, {"slug": pack.slug},
        {"title": pack.title, "language": pack.language, "description": pack.description, "is_published": True},
    )
    report = LoadReport(course, course_changed=outcome is not None)
    kinds = activities.kinds()

    chapter_ids = []
    lesson_ids = []
    activity_ids = {kind.key: [] for kind in kinds}
    position = 0
    lessons_by_slug = {}
    for chapter_position, pack_chapter in enumerate(pack.chapters, start=1):
        chapter, outcome = upsert(
            Chapter, {"course": course, "slug": pack_chapter.slug},
            {"title": pack_chapter.title, "summary": pack_chapter.summary, "position": chapter_position, "is_published": True},
        )
        report.count(outcome, "chapters")
        chapter_ids.append(chapter.pk)
        for pack_lesson in pack_chapter.lessons:
            position += 1
            lesson, outcome = upsert(
                Lesson, {"course": course, "slug": pack_lesson.slug},
                {
                    "chapter": chapter, "title": pack_lesson.title, "summary": pack_lesson.summary,
                    "minutes": pack_lesson.minutes, "position": position, "source_path": pack_lesson.source_path,
                    "body_markdown": pack_lesson.body_markdown, "body_html": pack_lesson.body_html,
                    "toc": pack_lesson.toc, "is_published": True,
                },
            )
            report.count(outcome, "lessons")
            lesson_ids.append(lesson.pk)
            lessons_by_slug[lesson.slug] = lesson
        for kind in kinds:
            for item_position, item in enumerate(pack_chapter.activities.get(kind.key, []), start=1):
                activity_ids[kind.key].append(kind.load(
                    report, course=course, chapter=chapter, position=item_position, item=item, lessons_by_slug=lessons_by_slug,
                ))

    report.unpublished["lessons"] = course.lessons.filter(is_published=True).exclude(pk__in=lesson_ids).update(is_published=False)
    for kind in kinds:
        report.unpublished[kind.key] += kind.unpublish(course, activity_ids[kind.key])
    report.unpublished["chapters"] = course.chapters.filter(is_published=True).exclude(pk__in=chapter_ids).update(is_published=False)

    asset_paths = []
    for pack_asset in pack.assets:
        _, outcome = upsert(
            CourseAsset, {"course": course, "path": pack_asset.path},
            {"content": pack_asset.content, "content_type": pack_asset.content_type, "sha256": pack_asset.sha256},
        )
        report.count(outcome, "files")
        asset_paths.append(pack_asset.path)
    # Figures hold no learner data: one no lesson shows any more can go.
    removed, _ = course.assets.exclude(path__in=asset_paths).delete()
    report.removed_files += removed
    if report.changed and not report.course_changed:
        # A new stamp for the course whatever changed in it: pages keep its path by it (courses.pager).
        course.updated_at = timezone.now()
        Course.objects.filter(pk=course.pk).update(updated_at=course.updated_at)
    return report
