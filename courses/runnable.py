"""What the Run button may type: the shell code blocks of a pack, read as the sandbox would run them.

A `sh` (or `bash`) fenced block of a lesson or a lab is *runnable*: its page
gives it a Run button that types it into the learner's terminal, one command
after the other (a line ending in `\\` continues the command). The pack loader
refuses two kinds of runnable block, naming the file, the line and why:

- a command that pulls, runs or creates an image the course registry lacks
  (the sandbox reaches no other registry), unless the learner made that image
  earlier in the same file (`docker build -t`, `docker tag`, `docker commit`)
  or it lives in a registry the learner runs (`localhost:5000/...`);
- a command that starts a pager or an interactive program (`| less`, `vi`,
  `docker run -it IMAGE` without a command, `docker exec -it C sh`, `docker
  attach`, `docker login`...), which would swallow the lines typed after it.

A block that is only shown (it needs Docker Hub, another machine, a password)
is marked in the pack with the word `shown` after the language, as in
```` ```sh shown ````: it gets no Run button and none of these rules apply.
Nothing here needs Django: the catalogue is a plain JSON file.
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = frozenset({"sh", "bash"})
SHOWN = "shown"

PAGERS = frozenset({"less", "more", "most", "pg"})
INTERACTIVE_PROGRAMS = frozenset({"vi", "vim", "vim.tiny", "nvim", "nano", "emacs", "top", "htop", "man", "watch", "newgrp", "tmux", "screen"})
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/bash"})

# docker's global options that take a value (`docker -H tcp://x ps`).
GLOBAL_VALUE_FLAGS = frozenset({"-H", "--host", "-c", "--context", "--config", "-l", "--log-level", "--tlscacert", "--tlscert", "--tlskey"})
# Flags of `docker run` / `docker create` that take a value: the image is the first word after the flags.
RUN_VALUE_FLAGS = frozenset("""
-a --attach --add-host --annotation --blkio-weight --blkio-weight-device --cap-add --cap-drop --cgroup-parent --cgroupns
--cidfile --cpu-period --cpu-quota --cpu-rt-period --cpu-rt-runtime -c --cpu-shares --cpus --cpuset-cpus --cpuset-mems
--detach-keys --device --device-cgroup-rule --device-read-bps --device-read-iops --device-write-bps --device-write-iops
--dns --dns-option --dns-search --domainname --entrypoint -e --env --env-file --expose --gpus --group-add --health-cmd
--health-interval --health-retries --health-start-interval --health-start-period --health-timeout -h --hostname --ip --ip6
--ipc --isolation --kernel-memory -l --label --label-file --link --link-local-ip --log-driver --log-opt --mac-address
-m --memory --memory-reservation --memory-swap --memory-swappiness --mount --name --network --net --network-alias
--net-alias --oom-score-adj --pid --pids-limit --platform -p --publish --pull --restart --runtime --security-opt
--shm-size --stop-signal --stop-timeout --storage-opt --sysctl --tmpfs --ulimit -u --user --userns --uts -v --volume
--volume-driver --volumes-from -w --workdir
""".split())
EXEC_VALUE_FLAGS = frozenset({"--detach-keys", "-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir"})
BUILD_TAG_FLAGS = frozenset({"-t", "--tag"})
COMPOSE_VALUE_FLAGS = frozenset({"-f", "--file", "-p", "--project-name", "--profile", "--env-file", "--project-directory", "--ansi", "--progress", "--parallel"})
COMPOSE_EXEC_VALUE_FLAGS = frozenset({"-e", "--env", "--index", "-u", "--user", "-w", "--workdir", "--name", "--entrypoint", "-l", "--label", "-p", "--publish", "-v", "--volume", "--pull", "--cap-add", "--cap-drop"})
CONTROL = frozenset({"&&", "||", ";", "|", "&", "|&", ";;"})
REDIRECTS = frozenset({">", ">>", "<", "<<", "<<<", ">&", "<&", "&>", ">|"})


# --- Blocks and commands ---------------------------------------------------------


def fence_info(info):
    """`"sh shown"` -> ("sh", True): the language of a fenced block and whether it is only shown."""
    words = info.split()
    return (words[0] if words else ""), SHOWN in words[1:]


@dataclass(frozen=True)
class Command:
    line: int  # of its first line, in the numbering the caller gave the block
    text: str  # continuation lines joined, as the Run button types it
    pipeline: tuple = ()  # its simple commands, each a tuple of words
    piped: tuple = ()  # for each simple command after the first: was it fed by `|`?


def commands(code, first_line=1):
    """The commands of a block as the Run button types them: a line ending in `\\` goes on with the next."""
    found, pending, start = [], [], first_line
    for offset, line in enumerate(code.splitlines()):
        if not pending:
            start = first_line + offset
        if line.rstrip().endswith("\\") and not line.rstrip().endswith("\\\\"):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        text = " ".join(part.strip() for part in pending).strip()
        pending = []
        if text and not text.startswith("#"):
            found.append(_command(start, text))
    if pending:
        text = " ".join(part.strip() for part in pending).strip()
        if text:
            found.append(_command(start, text))
    return found


def _command(line, text):
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
    except ValueError:
        tokens = text.split()
    pipeline, piped, words, redirect = [], [], [], False
    for token in tokens:
        if redirect:
            redirect = False
            continue
        if token in CONTROL:
            if words:
                pipeline.append(tuple(words))
                words = []
            piped.append(token in ("|", "|&"))
            continue
        if token in REDIRECTS or re.fullmatch(r"\d?(>>?|<)&?\d?", token):
            redirect = not re.fullmatch(r".*&\d", token)
            continue
        if token in ("(", ")", "{", "}", "$("):
            continue
        words.append(token)
    if words:
        pipeline.append(tuple(words))
    # piped[i] said whether the operator *before* command i+1 was a pipe.
    return Command(line=line, text=text, pipeline=tuple(pipeline), piped=tuple(piped[: max(0, len(pipeline) - 1)]))


def _program(words):
    """The words of a simple command without `sudo`, `env`, `time` and VAR=value prefixes."""
    words = list(words)
    while words and (words[0] in ("sudo", "env", "time", "exec", "nohup", "command") or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0])):
        words.pop(0)
        while words and words[0].startswith("-") and words[0] != "-":
            words.pop(0)
    return words


@dataclass(frozen=True)
class DockerCall:
    path: tuple  # ("run",), ("image", "pull"), ("compose", "exec")...
    flags: dict  # flag -> list of values (True for a switch), as typed (`-it` split into -i, -t)
    args: tuple  # positional words after the flags (for run/exec: image/container then the command)


def docker_call(words):
    """Read `docker ...` words into a DockerCall; None for anything else."""
    words = _program(words)
    if not words or words[0] != "docker":
        return None
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in GLOBAL_VALUE_FLAGS and rest:
            rest.pop(0)
    if not rest:
        return None
    path = [rest.pop(0)]
    if path[0] in ("container", "image", "buildx", "compose", "volume", "network", "system", "builder") and rest and not rest[0].startswith("-"):
        if path[0] == "compose":
            return _compose_call(rest)
        path.append(rest.pop(0))
    elif path[0] == "compose":
        return _compose_call(rest)
    name = tuple(path)
    value_flags = {
        ("run",): RUN_VALUE_FLAGS, ("container", "run"): RUN_VALUE_FLAGS,
        ("create",): RUN_VALUE_FLAGS, ("container", "create"): RUN_VALUE_FLAGS,
        ("exec",): EXEC_VALUE_FLAGS, ("container", "exec"): EXEC_VALUE_FLAGS,
    }.get(name, frozenset({"-t", "--tag", "-f", "--file", "--platform", "--build-arg", "--target", "-m", "--message", "-a", "--author", "-c", "--change", "--format", "--filter"}))
    stop_at_positional = name[-1] in ("run", "create", "exec")
    return _read_flags(name, rest, value_flags, stop_at_positional)


def _compose_call(rest):
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in COMPOSE_VALUE_FLAGS and "=" not in flag and rest:
            rest.pop(0)
    if not rest:
        return None
    name = ("compose", rest.pop(0))
    return _read_flags(name, rest, COMPOSE_EXEC_VALUE_FLAGS, name[1] in ("exec", "run"))


def _read_flags(path, rest, value_flags, stop_at_positional):
    flags, args = {}, []
    words = list(rest)
    while words:
        word = words.pop(0)
        if word == "--":
            args.extend(words)
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word.partition("=")
            if eq:
                flags.setdefault(name, []).append(value)
            elif name in value_flags and words:
                flags.setdefault(name, []).append(words.pop(0))
            else:
                flags.setdefault(name, []).append(True)
            continue
        if word.startswith("-") and len(word) > 1:
            letters = word[1:]
            for index, letter in enumerate(letters):
                name = "-" + letter
                if name in value_flags:
                    value = letters[index + 1:] or (words.pop(0) if words else "")
                    flags.setdefault(name, []).append(value.removeprefix("="))
                    break
                flags.setdefault(name, []).append(True)
            continue
        args.append(word)
        if stop_at_positional:
            args.extend(words)
            break
    return DockerCall(path=path, flags=flags, args=tuple(args))


def _has(call, *names):
    return any(name in call.flags and call.flags[name][-1] not in ("false", "0") for name in names)


# --- Interactive programs ------------------------------------------------------------


def _interactive_words(words):
    """Why these words (a program and its arguments) wait for a person at the keyboard, or None."""
    words = _program(words)
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1] if words[0].startswith("/") else words[0]
    if program in PAGERS:
        return f"starts the pager {program}"
    if program in INTERACTIVE_PROGRAMS:
        return f"starts the interactive program {program}"
    if words[0] in SHELLS and len(words) == 1:
        return f"starts an interactive shell ({words[0]})"
    return None


def interactive_reason(command):
    """Why the Run button cannot type this command (it would wait for the keyboard), or None."""
    for words in command.pipeline:
        call = docker_call(words)
        if call is None:
            reason = _interactive_words(words)
            if reason:
                return reason
            continue
        reason = _interactive_docker(call)
        if reason:
            return reason
    return None


def _interactive_docker(call):
    path = call.path
    if path in (("attach",), ("container", "attach")):
        return "connects the terminal to a container's program"
    if path == ("login",) and not _has(call, "--password-stdin", "-p", "--password"):
        return "asks for a password (unless --password-stdin)"
    if path in (("stats",), ("container", "stats")) and not _has(call, "--no-stream"):
        return "refreshes the screen until Ctrl-C (add --no-stream)"
    if path in (("run",), ("container", "run"), ("exec",), ("container", "exec")):
        if not _has(call, "-i", "--interactive") or _has(call, "-d", "--detach"):
            return None
        container_command = call.args[1:]
        if not container_command:
            return "starts the image's own program on the terminal (-it without a command)"
        inner = _interactive_words(container_command)
        return f"{inner} in the container" if inner else None
    if path in (("compose", "exec"), ("compose", "run")):
        if _has(call, "-d", "--detach"):
            return None
        container_command = call.args[1:]
        inner = _interactive_words(container_command) if container_command else None
        if inner:
            return f"{inner} in the container"
    return None


# --- Image references -------------------------------------------------------------------


def normalize(ref):
    """`docker.io/library/nginx` -> `nginx:latest`, as the docker CLI reads it; digests kept."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "registry-1.docker.io/library/", "docker.io/", "index.docker.io/", "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    return ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"


def split_reference(ref):
    """(repository, tag or None, digest or None) of a normalized reference."""
    ref, _, digest = ref.partition("@")
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = ref.rpartition(":")
        return repository, tag, digest or None
    return ref, None, digest or None


def registry_of(ref):
    """The registry host a reference names (`localhost:5000`, `quay.io`), or None for Docker Hub."""
    first, slash, _ = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


@dataclass(frozen=True)
class ImageUse:
    ref: str  # as written
    made: bool  # the command makes this reference (build -t, tag, commit), else it needs it


def image_uses(command):
    """The image references a command pulls, runs or creates (made=False) or makes (made=True)."""
    uses = []
    for words in command.pipeline:
        call = docker_call(words)
        if call is None:
            continue
        name = call.path
        if name in (("pull",), ("image", "pull")) and call.args:
            uses.append(ImageUse(call.args[0], False))
        elif name in (("run",), ("container", "run"), ("create",), ("container", "create")) and call.args:
            uses.append(ImageUse(call.args[0], False))
        elif name in (("build",), ("image", "build"), ("buildx", "build"), ("builder", "build")):
            uses.extend(ImageUse(tag, True) for flag in BUILD_TAG_FLAGS for tag in call.flags.get(flag, []) if isinstance(tag, str))
        elif name in (("tag",), ("image", "tag")) and len(call.args) >= 2:
            uses.append(ImageUse(call.args[1], True))
        elif name in (("commit",), ("container", "commit"), ("import",), ("image", "import")) and len(call.args) >= 2:
            uses.append(ImageUse(call.args[1], True))
    return [use for use in uses if use.ref and "$" not in use.ref and not use.ref.startswith("-")]


def _version_key(tag):
    parts = re.findall(r"\d+|\D+", tag)
    return (0 if tag[:1].isdigit() else 1, [(0, int(p)) if p.isdigit() else (1, p) for p in parts])


@dataclass
class Catalog:
    """The course registry's repositories and their tags (images/catalog.json, course images only)."""

    tags: dict = field(default_factory=dict)  # repository -> set of tags

    @classmethod
    def from_file(cls, path):
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tags = {}
        for image in data.get("images", []):
            if image.get("course"):
                tags.setdefault(image["name"], set()).update(image.get("tags", []))
        return cls(tags)

    def problem(self, ref):
        """Why the course registry cannot serve `ref`, or None when it can."""
        normalized = normalize(ref)
        repository, tag, digest = split_reference(normalized)
        registry = registry_of(normalized)
        if registry is not None:
            return f"{ref} is on another registry ({registry}): the sandbox reaches only the course registry"
        if repository not in self.tags:
            return f"{ref} is not in the course registry (it has: {', '.join(sorted(self.tags))})"
        if digest is not None or tag in self.tags[repository]:
            return None
        return f"{ref} is not in the course registry ({repository} has: {', '.join(sorted(self.tags[repository], key=_version_key))})"


def learner_registry(ref):
    """A registry the learner runs in the sandbox: `localhost:5000/app`, `127.0.0.1:5000/app`, `registre:5000/app`."""
    registry = registry_of(normalize(ref))
    return registry is not None and (registry.split(":")[0] in ("localhost", "127.0.0.1") or ":" in registry)


@dataclass(frozen=True)
class BlockProblem:
    line: int
    message: str


def problems(blocks, catalog):
    """What keeps the runnable blocks of one file from running: [(line, message)].

    `blocks` are (code, first line) pairs, every runnable block of the file in
    order; an image made by any of them (built, tagged) may be used by all.
    `catalog` None skips the image rules (no catalogue configured).
    """
    found = []
    every = [command for code, first_line in blocks for command in commands(code, first_line)]
    made = {normalize(use.ref) for command in every for use in image_uses(command) if use.made}
    for command in every:
        reason = interactive_reason(command)
        if reason:
            found.append(BlockProblem(command.line, f"`{command.text}` {reason}, which the Run button cannot drive: mark the block ```sh {SHOWN}, or make the command non-interactive"))
        if catalog is None:
            continue
        for use in image_uses(command):
            if use.made or normalize(use.ref) in made or learner_registry(use.ref):
                continue
            problem = catalog.problem(use.ref)
            if problem:
                found.append(BlockProblem(command.line, problem))
    return found


def runnable(code):
    """Whether the Run button may type this block (an unmarked sh block that starts nothing interactive)."""
    return all(interactive_reason(command) is None for command in commands(code))
