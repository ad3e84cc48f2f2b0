"""Docker command lines compared by meaning, not by spelling.

`parse("docker images  --no-trunc")` reads a line the way the docker CLI
would (shlex words, cobra/pflag flag rules) into a `DockerCommand`: the
canonical command (`docker image ls`), its global options, its flags by long
name, and its arguments. Two lines are equivalent when they parse to the same
`DockerCommand`. Only the commands the course teaches are modelled; anything
else, an unknown flag or a missing value, is a `CommandError` whose message
says what is wrong, for the learner.

Rules, as the CLI applies them:
- aliases are one command: `docker images` = `docker image ls` = `docker image list`;
- flags in any order, short or long (`-a` = `--all`), `--flag=value` = `--flag value`,
  `-p8080:80` = `-p 8080:80`, combined short flags `-it` = `-i -t`, `--rm=true` = `--rm`;
- repeatable flags (`-e`, `-p`, `-v`, `--filter`…) compare as a set of values, in any order;
- `docker run`/`exec` stop reading flags at the image/container: what follows belongs to
  the container's command and is compared as given;
- image references are normalised (`nginx` = `nginx:latest` = `docker.io/library/nginx:latest`);
  Go templates ignore the spaces just inside `{{ }}`; every other argument is compared as given.
"""

import re
import shlex
from dataclasses import dataclass

from django.utils.translation import gettext as _

from grader.snapshot import normalize_reference

MAX_LENGTH = 300


class CommandError(ValueError):
    """The line is not a command the model understands; the message says why, for the learner."""


@dataclass(frozen=True)
class Flag:
    long: str
    short: str = ""
    kind: str = ""  # "" for a switch; "text", "image" or "template" for a flag that takes a value
    repeat: bool = False
    aliases: tuple = ()

    @property
    def takes_value(self):
        return bool(self.kind)


@dataclass(frozen=True)
class CommandSpec:
    path: tuple
    names: tuple
    flags: tuple
    args: tuple
    interspersed: bool = True

    @property
    def title(self):
        return "docker " + " ".join(self.path)


@dataclass(frozen=True)
class DockerCommand:
    path: tuple
    global_options: tuple
    group_options: tuple
    options: tuple
    args: tuple

    def __str__(self):
        words = ["docker"]
        words += _render_options(self.global_options)
        words.append(self.path[0])
        words += _render_options(self.group_options)
        words += list(self.path[1:])
        words += _render_options(self.options)
        words += [shlex.quote(a) for a in self.args]
        return " ".join(words)


def _render_options(options):
    words = []
    for name, value in options:
        for one in value if isinstance(value, tuple) else (value,):
            words += [name] if one is True else [name, shlex.quote(one)]
    return words


def _flags(text):
    """Flags from a compact spelling: `-a/--all --digests -f/--filter=text* --network|--net=text`."""
    flags = []
    for entry in text.split():
        names, _, kind = entry.partition("=")
        repeat = kind.endswith("*")
        kind = kind.rstrip("*")
        short = ""
        if "/" in names:
            short, names = names.split("/")
        long, *aliases = names.split("|")
        flags.append(Flag(long=long, short=short, kind=kind, repeat=repeat, aliases=tuple(aliases)))
    return tuple(flags)


def _command(path, *aliases, flags="", args="", interspersed=True):
    path = tuple(path.split())
    names = (path, *(tuple(alias.split()) for alias in aliases))
    return CommandSpec(path=path, names=names, flags=_flags(flags), args=tuple(args.split()), interspersed=interspersed)


GLOBAL_FLAGS = _flags(
    "--config=text -c/--context=text -D/--debug -H/--host=text* -l/--log-level=text "
    "--tls --tlscacert=text --tlscert=text --tlskey=text --tlsverify"
)
COMPOSE_FLAGS = _flags(
    "-f/--file=text* -p/--project-name=text --profile=text* --env-file=text* --project-directory=text"
)

_RUN_FLAGS = (
    "-a/--attach=text* --add-host=text* --cap-add=text* --cap-drop=text* --cidfile=text --cpus=text "
    "-c/--cpu-shares=text --cpuset-cpus=text --device=text* --dns=text* -e/--env=text* --entrypoint=text "
    "--env-file=text* --expose=text* --gpus=text --health-cmd=text -h/--hostname=text --init "
    "-i/--interactive --ip=text -l/--label=text* --label-file=text* --link=text* --log-driver=text "
    "--log-opt=text* -m/--memory=text --memory-swap=text --mount=text* --name=text --network|--net=text "
    "--network-alias=text* --pids-limit=text --platform=text --privileged -p/--publish=text* "
    "-P/--publish-all --pull=text -q/--quiet --read-only --restart=text --rm --security-opt=text* "
    "--shm-size=text --stop-signal=text --stop-timeout=text --sysctl=text* --tmpfs=text* -t/--tty "
    "--ulimit=text* -u/--user=text --userns=text -v/--volume=text* --volumes-from=text* -w/--workdir=text"
)
_EXEC_FLAGS = "-d/--detach --detach-keys=text -e/--env=text* --env-file=text* -i/--interactive --privileged -t/--tty -u/--user=text -w/--workdir=text"
_BUILD_FLAGS = (
    "--add-host=text* --build-arg=text* --cache-from=text* --cache-to=text* -f/--file=text --label=text* "
    "--load --network=text --no-cache --platform=text --progress=text --pull --push -q/--quiet "
    "--secret=text* --ssh=text* -t/--tag=image* --target=text -o/--output=text*"
)

COMMANDS = (
    # Images
    _command("image ls", "images", "image list", flags="-a/--all --digests -f/--filter=text* --format=template --no-trunc -q/--quiet --tree", args="text?"),
    _command("image pull", "pull", flags="-a/--all-tags --disable-content-trust --platform=text -q/--quiet", args="image"),
    _command("image push", "push", flags="-a/--all-tags --disable-content-trust --platform=text -q/--quiet", args="image"),
    _command("image rm", "rmi", "image remove", flags="-f/--force --no-prune", args="image+"),
    _command("image tag", "tag", args="image image"),
    _command("image history", "history", flags="--format=template -H/--human --no-trunc -q/--quiet", args="image"),
    _command("image inspect", flags="-f/--format=template --platform=text", args="image+"),
    _command("image prune", flags="-a/--all --filter=text* -f/--force"),
    _command("image save", "save", flags="-o/--output=text --platform=text", args="image+"),
    _command("image load", "load", flags="-i/--input=text -q/--quiet --platform=text"),
    _command("image build", "build", "buildx build", "builder build", flags=_BUILD_FLAGS, args="text"),
    _command("search", flags="-f/--filter=text* --format=template --limit=text --no-trunc", args="text"),
    # Containers
    _command("container run", "run", flags=_RUN_FLAGS + " -d/--detach --detach-keys=text --sig-proxy", args="image text*", interspersed=False),
    _command("container create", "create", flags=_RUN_FLAGS, args="image text*", interspersed=False),
    _command("container ls", "ps", "container list", "container ps", flags="-a/--all -f/--filter=text* --format=template -n/--last=text -l/--latest --no-trunc -q/--quiet -s/--size"),
    _command("container exec", "exec", flags=_EXEC_FLAGS, args="text text+", interspersed=False),
    _command("container start", "start", flags="-a/--attach -i/--interactive --detach-keys=text", args="text+"),
    _command("container stop", "stop", flags="-s/--signal=text -t/--time|--timeout=text", args="text+"),
    _command("container restart", "restart", flags="-s/--signal=text -t/--time|--timeout=text", args="text+"),
    _command("container kill", "kill", flags="-s/--signal=text", args="text+"),
    _command("container rm", "rm", "container remove", flags="-f/--force -l/--link -v/--volumes", args="text+"),
    _command("container logs", "logs", flags="--details -f/--follow --since=text -n/--tail=text -t/--timestamps --until=text", args="text"),
    _command("container inspect", flags="-f/--format=template -s/--size", args="text+"),
    _command("container top", "top", args="text text*", interspersed=False),
    _command("container stats", "stats", flags="-a/--all --format=template --no-stream --no-trunc", args="text*"),
    _command("container port", "port", args="text text?"),
    _command("container cp", "cp", flags="-a/--archive -L/--follow-link -q/--quiet", args="text text"),
    _command("container prune", flags="--filter=text* -f/--force"),
    _command("inspect", flags="-f/--format=template -s/--size --type=text", args="text+"),
    # Volumes and networks
    _command("volume create", flags="-d/--driver=text --label=text* -o/--opt=text*", args="text?"),
    _command("volume ls", "volume list", flags="-f/--filter=text* --format=template -q/--quiet"),
    _command("volume inspect", flags="-f/--format=template", args="text+"),
    _command("volume rm", "volume remove", flags="-f/--force", args="text+"),
    _command("volume prune", flags="-a/--all --filter=text* -f/--force"),
    _command("network create", flags="--attachable -d/--driver=text --gateway=text* --internal --ip-range=text* --label=text* -o/--opt=text* --subnet=text*", args="text"),
    _command("network ls", "network list", flags="-f/--filter=text* --format=template --no-trunc -q/--quiet"),
    _command("network inspect", flags="-f/--format=template -v/--verbose", args="text+"),
    _command("network rm", "network remove", flags="-f/--force", args="text+"),
    _command("network connect", flags="--alias=text* --ip=text", args="text text"),
    _command("network disconnect", flags="-f/--force", args="text text"),
    # Client, engine, registries
    _command("version", flags="-f/--format=template"),
    _command("info", flags="-f/--format=template"),
    _command("system df", flags="--format=template -v/--verbose"),
    _command("system prune", flags="-a/--all --filter=text* -f/--force --volumes"),
    _command("context create", flags="--description=text --docker=text", args="text"),
    _command("context use", args="text"),
    _command("context ls", "context list", flags="--format=template -q/--quiet"),
    _command("login", flags="-p/--password=text --password-stdin -u/--username=text", args="text?"),
    _command("logout", args="text?"),
    _command("buildx version"),
    _command("buildx ls", flags="--format=template"),
    # Compose (its own flags go between `compose` and the subcommand)
    _command("compose up", flags="--build -d/--detach --force-recreate --no-build --no-deps --pull=text --remove-orphans --wait", args="text*"),
    _command("compose down", flags="--remove-orphans --rmi=text -t/--timeout=text -v/--volumes"),
    _command("compose ps", flags="-a/--all --format=template -q/--quiet --services --status=text*", args="text*"),
    _command("compose logs", flags="-f/--follow --no-color --since=text -n/--tail=text -t/--timestamps --until=text", args="text*"),
    _command("compose build", flags="--build-arg=text* --no-cache --pull -q/--quiet", args="text*"),
    _command("compose pull", flags="-q/--quiet", args="text*"),
    _command("compose start", args="text*"),
    _command("compose stop", flags="-t/--timeout=text", args="text*"),
    _command("compose restart", flags="-t/--timeout=text", args="text*"),
    _command("compose config", flags="--format=text -q/--quiet --services --volumes"),
    _command("compose exec", flags="-d/--detach -e/--env=text* -T/--no-TTY -u/--user=text -w/--workdir=text", args="text text+", interspersed=False),
)
_BY_NAME = {name: spec for spec in COMMANDS for name in spec.names}
_GROUPS = {name[0] for name in _BY_NAME if len(name) > 1}
_TRUE, _FALSE = {"true", "1", "t"}, {"false", "0", "f"}
_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def parse(line):
    """Read a command line into a DockerCommand, or raise CommandError saying what is wrong."""
    if len(line) > MAX_LENGTH:
        raise CommandError(_("This command is too long (%(max)s characters at most).") % {"max": MAX_LENGTH})
    try:
        words = shlex.split(line)
    except ValueError:
        raise CommandError(_("A quote is not closed.")) from None
    if words[:1] == ["$"]:
        words = words[1:]
    if words[:1] == ["sudo"]:
        words = words[1:]
    if not words:
        raise CommandError(_("Type a docker command."))
    if words[0] == "docker-compose":
        raise CommandError(_("docker-compose (Compose version 1) is no longer maintained: write docker compose, with a space."))
    if words[0] != "docker":
        raise CommandError(_("A Docker command starts with docker."))
    position, global_options = _read_options(words, 1, GLOBAL_FLAGS, "docker")
    group_options = {}
    if position >= len(words):
        raise CommandError(_("docker alone does nothing: add a command, such as docker ps."))
    first = words[position]
    if first == "compose":
        position, group_options = _read_options(words, position + 1, COMPOSE_FLAGS, "docker compose")
        if position >= len(words):
            raise CommandError(_("docker compose needs a command, such as docker compose up."))
        spec = _BY_NAME.get(("compose", words[position]))
        if spec is None:
            raise CommandError(_("Unknown command: %(command)s.") % {"command": f"docker compose {words[position]}"})
        position += 1
    else:
        pair = tuple(words[position:position + 2])
        spec = _BY_NAME.get(pair) if len(pair) == 2 else None
        if spec is not None:
            position += 2
        elif (first,) in _BY_NAME:
            spec = _BY_NAME[(first,)]
            position += 1
        elif first in _GROUPS and len(pair) == 2:
            raise CommandError(_("Unknown command: %(command)s.") % {"command": f"docker {first} {pair[1]}"})
        elif first in _GROUPS:
            raise CommandError(_("docker %(group)s needs a command, such as docker %(group)s ls.") % {"group": first})
        elif first.startswith("-"):
            raise CommandError(_("Unknown option for docker: %(flag)s.") % {"flag": first})
        else:
            raise CommandError(_("Unknown command: %(command)s.") % {"command": f"docker {first}"})
    options, args = _read_command(words[position:], spec)
    return DockerCommand(
        path=spec.path, global_options=_freeze(global_options), group_options=_freeze(group_options),
        options=_freeze(options), args=tuple(args),
    )


def equivalent(line, other):
    """Whether two lines are the same command; a line that does not parse is equivalent to nothing."""
    try:
        return parse(line) == parse(other)
    except CommandError:
        return False


def _read_options(words, position, flags, where):
    """Read the flags that precede a command word (docker's and compose's own options)."""
    values = {}
    while position < len(words) and words[position].startswith("-") and words[position] != "-":
        position = _read_flag(words, position, flags, values, where)
    return position, values


def _read_command(words, spec):
    values, args = {}, []
    position = 0
    while position < len(words):
        word = words[position]
        if word == "--":
            args += words[position + 1:]
            break
        if word.startswith("-") and word != "-" and (spec.interspersed or not args):
            position = _read_flag(words, position, spec.flags, values, spec.title)
            continue
        args.append(word)
        position += 1
    return values, _check_args(args, spec)


def _read_flag(words, position, flags, values, where):
    word = words[position]
    if word.startswith("--"):
        name, has_value, value = word.partition("=")
        flag = next((f for f in flags if name == f.long or name in f.aliases), None)
        if flag is None:
            raise CommandError(_("Unknown flag for %(command)s: %(flag)s.") % {"command": where, "flag": name})
        if flag.takes_value and not has_value:
            position += 1
            if position >= len(words):
                raise CommandError(_("The flag %(flag)s needs a value.") % {"flag": name})
            value = words[position]
        _set(values, flag, value if flag.takes_value else _switch(name, has_value, value))
        return position + 1
    letters = word[1:]
    index = 0
    while index < len(letters):
        letter = letters[index]
        flag = next((f for f in flags if f.short == f"-{letter}"), None)
        if flag is None:
            raise CommandError(_("Unknown flag for %(command)s: %(flag)s.") % {"command": where, "flag": f"-{letter}"})
        rest = letters[index + 1:]
        if flag.takes_value:
            value = rest[1:] if rest.startswith("=") else rest
            if not rest:
                position += 1
                if position >= len(words):
                    raise CommandError(_("The flag %(flag)s needs a value.") % {"flag": f"-{letter}"})
                value = words[position]
            _set(values, flag, value)
            break
        if rest.startswith("="):
            _set(values, flag, _switch(f"-{letter}", True, rest[1:]))
            break
        _set(values, flag, True)
        index += 1
    return position + 1


def _switch(name, has_value, value):
    if not has_value or value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise CommandError(_("The flag %(flag)s is a switch: it takes no value.") % {"flag": name})


def _set(values, flag, value):
    if flag.kind:
        value = _normalize(flag.kind, value)
    if flag.repeat:
        values.setdefault(flag.long, []).append(value)
    else:
        values[flag.long] = value


def _freeze(values):
    frozen = []
    for name, value in sorted(values.items()):
        if value is False:
            continue
        frozen.append((name, tuple(sorted(value)) if isinstance(value, list) else value))
    return tuple(frozen)


def _check_args(args, spec):
    """Match arguments to the command's slots (`image`, `text?`, `text*`, `text+`) and normalise images."""
    checked, position = [], 0
    for index, slot in enumerate(spec.args):
        kind, count = slot.rstrip("?*+"), slot[-1] if slot[-1] in "?*+" else ""
        if count in ("*", "+"):
            # A variadic slot takes what the slots after it do not need.
            needed_after = sum(1 for s in spec.args[index + 1:] if s[-1] not in "?*")
            taken = args[position:len(args) - needed_after]
            if count == "+" and not taken:
                raise CommandError(_("%(command)s needs at least one argument.") % {"command": spec.title})
        elif position < len(args):
            taken = args[position:position + 1]
        elif count == "?":
            taken = []
        else:
            raise CommandError(_("%(command)s needs more arguments.") % {"command": spec.title})
        checked += [_normalize(kind, arg) for arg in taken]
        position += len(taken)
    if position < len(args):
        raise CommandError(
            _("Too many arguments for %(command)s: %(extra)s.") % {"command": spec.title, "extra": " ".join(args[position:])}
        )
    return checked


def _normalize(kind, value):
    if kind == "image":
        return normalize_image(value)
    if kind == "template":
        return normalize_template(value)
    return value


def normalize_image(ref):
    """`nginx` -> `nginx:latest`, `docker.io/library/nginx` -> `nginx:latest`; refuses what the CLI refuses."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    repository = name.rsplit(":", 1)[0] if ":" in last else name
    # A registry host (first part with a dot, a port or localhost) may hold capitals; the path may not.
    parts = repository.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if not _REPO_RE.match("/".join(parts)):
        if any(c.isupper() for c in repository):
            raise CommandError(_("%(image)s is not a valid image name: a repository name must be lowercase.") % {"image": ref})
        raise CommandError(_("%(image)s is not a valid image name.") % {"image": ref})
    return normalize_reference(ref)


_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_QUOTED_RE = re.compile(r'("(?:[^"\\]|\\.)*"|`[^`]*`)')


def normalize_template(template):
    """Spaces just inside `{{ }}` do not matter to Go templates (outside quoted strings, runs of spaces neither)."""

    def action(match):
        parts = _QUOTED_RE.split(match.group(2).strip())
        inner = "".join(p if i % 2 else re.sub(r"\s+", " ", p) for i, p in enumerate(parts))
        return "{{" + ("- " if match.group(1) else "") + inner + (" -" if match.group(3) else "") + "}}"

    return _ACTION_RE.sub(action, template)
