"""Docker command lines compared by meaning, not by spelling.

`parse("docker images  --no-trunc")` reads a line the way the docker CLI
would (shell words, cobra/pflag flag rules) into a `DockerCommand`: the
canonical command (`docker image ls`), its global options, its flags by long
name, and its arguments. Two lines are equivalent when they parse to the same
`DockerCommand`. Only the commands the course teaches are modelled, from the
docker CLI reference; anything else, an unknown flag or a missing value, is a
`CommandError` whose message says what is wrong, for the learner.

Rules, as the CLI applies them:
- aliases are one command: `docker images` = `docker image ls` = `docker image list`,
  `docker rmi` = `docker image rmi` = `docker image rm`, `docker info` = `docker system info`;
- flags in any order, short or long (`-a` = `--all`), `--flag=value` = `--flag value`,
  `-p8080:80` = `-p 8080:80`, combined short flags `-it` = `-i -t`; a switch takes
  `=true`/`=false` as Go's strconv.ParseBool spells them (`=tRuE` is refused, as by the CLI);
- hidden and deprecated flags the CLI still takes (`docker volume create --name data`,
  `--net`, `docker stop --time`); global `--version`/`-v`; `--help` on any command
  (`-h` where the command has no `-h` of its own: `docker run -h` is `--hostname`);
- repeatable flags (`-e`, `-p`, `-v`, `--filter`…) compare as a set of values, in any order,
  except where the order matters (`docker compose -f a.yaml -f b.yaml`: later files override);
- `docker run`/`exec` stop reading flags at the image/container: what follows, `--` included,
  belongs to the container's command and is compared as given;
- image references are normalised (`nginx` = `nginx:latest` = `docker.io/library/nginx:latest`),
  `--mount` fields in any order with their aliases (`src`/`source`, `dst`/`target`), and
  `-v data:/data` = `--mount source=data,target=/data`; Go templates ignore the spaces just
  inside `{{ }}`; every other argument is compared as given.

What people paste around a command is the shell's, not docker's (`read`):
a leading `$ ` or `sudo`, `\\` line continuations, `# comments`, pipes and
redirections (`docker inspect web | more`), other commands joined with `&&`.
The docker command alone is judged; what was left aside is named in `notes`.
Look-alike characters are folded where that is safe (typographic quotes,
no-break spaces, zero-width characters) and explained otherwise (a long dash
typed for `--`).
"""

import re
import shlex
import unicodedata
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
    kind: str = ""  # "" for a switch; "text", "image", "template" or "mount" for a flag that takes a value
    repeat: bool = False
    ordered: bool = False  # a repeated flag whose order matters (compose files override one another)
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
    name_flag: str = ""  # a hidden flag that says what the optional first argument says (`volume create --name`)

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
        if self.path:
            words.append(self.path[0])
            words += _render_options(self.group_options)
            words += list(self.path[1:])
        words += _render_options(self.options)
        words += [shlex.quote(a) for a in self.args]
        return " ".join(words)

    @property
    def is_help(self):
        return ("--help", True) in self.options


@dataclass(frozen=True)
class Reading:
    """A line read: the docker command, and what was found around it and left aside (for the learner)."""

    command: DockerCommand
    notes: tuple = ()


def _render_options(options):
    words = []
    for name, value in options:
        for one in value if isinstance(value, tuple) else (value,):
            words += [name] if one is True else [name, shlex.quote(one)]
    return words


def _flags(text):
    """Flags from a compact spelling: `-a/--all --digests -f/--filter=text* -f/--file=text@ --network|--net=text`.

    `*`: repeatable, compared as a set; `@`: repeatable, in order.
    """
    flags = []
    for entry in text.split():
        names, _, kind = entry.partition("=")
        repeat = kind.endswith(("*", "@"))
        ordered = kind.endswith("@")
        kind = kind.rstrip("*@")
        short = ""
        if "/" in names:
            short, names = names.split("/")
        long, *aliases = names.split("|")
        flags.append(Flag(long=long, short=short, kind=kind, repeat=repeat, ordered=ordered, aliases=tuple(aliases)))
    return tuple(flags)


def _command(path, *aliases, flags="", args="", interspersed=True, name_flag=""):
    path = tuple(path.split())
    names = (path, *(tuple(alias.split()) for alias in aliases))
    return CommandSpec(
        path=path, names=names, flags=_flags(flags), args=tuple(args.split()), interspersed=interspersed, name_flag=name_flag,
    )


GLOBAL_FLAGS = _flags(
    "--config=text -c/--context=text -D/--debug -H/--host=text* -l/--log-level=text "
    "--tls --tlscacert=text --tlscert=text --tlskey=text --tlsverify -v/--version"
)
COMPOSE_FLAGS = _flags(
    "-f/--file=text@ -p/--project-name=text --profile=text* --env-file=text@ --project-directory=text "
    "--ansi=text --compatibility --dry-run --parallel=text --progress=text"
)

_RUN_FLAGS = (
    "-a/--attach=text* --add-host=text* --annotation=text* --blkio-weight=text --cap-add=text* --cap-drop=text* "
    "--cgroup-parent=text --cgroupns=text --cidfile=text --cpu-period=text --cpu-quota=text --cpus=text "
    "-c/--cpu-shares=text --cpuset-cpus=text --cpuset-mems=text --device=text* --device-cgroup-rule=text* "
    "--disable-content-trust --dns=text* --dns-option|--dns-opt=text* --dns-search=text* --domainname=text "
    "-e/--env=text* --entrypoint=text --env-file=text@ --expose=text* --gpus=text --group-add=text* "
    "--health-cmd=text --health-interval=text --health-retries=text --health-start-period=text "
    "--health-start-interval=text --health-timeout=text -h/--hostname=text --init -i/--interactive --ip=text "
    "--ip6=text --ipc=text --isolation=text --kernel-memory=text -l/--label=text* --label-file=text* "
    "--link=text* --link-local-ip=text* --log-driver=text --log-opt=text* --mac-address=text -m/--memory=text "
    "--memory-reservation=text --memory-swap=text --memory-swappiness=text --mount=mount* --name=text "
    "--network|--net=text --network-alias|--net-alias=text* --no-healthcheck --oom-kill-disable "
    "--oom-score-adj=text --pid=text --pids-limit=text --platform=text --privileged -p/--publish=text* "
    "-P/--publish-all --pull=text -q/--quiet --read-only --restart=text --rm --runtime=text "
    "--security-opt=text* --shm-size=text --stop-signal=text --stop-timeout=text --storage-opt=text* "
    "--sysctl=text* --tmpfs=text* -t/--tty --ulimit=text* --use-api-socket -u/--user=text --userns=text "
    "--uts=text -v/--volume=text* --volume-driver=text --volumes-from=text* -w/--workdir=text"
)
_EXEC_FLAGS = "-d/--detach --detach-keys=text -e/--env=text* --env-file=text@ -i/--interactive --privileged -t/--tty -u/--user=text -w/--workdir=text"
_BUILD_FLAGS = (
    "--add-host=text* --allow=text* --annotation=text* --attest=text* --build-arg=text* --build-context=text* "
    "--builder=text --cache-from=text* --cache-to=text* --call=text --cgroup-parent=text --check "
    "-f/--file=text --iidfile=text --label=text* --load --metadata-file=text --network=text --no-cache "
    "--no-cache-filter=text* -o/--output=text* --platform=text* --progress=text --provenance=text --pull "
    "--push -q/--quiet --sbom=text --secret=text* --shm-size=text --ssh=text* -t/--tag=image* --target=text "
    "--ulimit=text*"
)
_COMPOSE_RUN_FLAGS = (
    "--build -d/--detach --entrypoint=text -e/--env=text* -i/--interactive -l/--label=text* --name=text "
    "-T/--no-TTY --no-deps -p/--publish=text* --pull=text --quiet-pull --remove-orphans --rm -P/--service-ports "
    "--use-aliases -u/--user=text -v/--volume=text* -w/--workdir=text"
)

COMMANDS = (
    # Images
    _command("image ls", "images", "image list", flags="-a/--all --digests -f/--filter=text* --format=template --no-trunc -q/--quiet --tree", args="text?"),
    _command("image pull", "pull", flags="-a/--all-tags --disable-content-trust --platform=text -q/--quiet", args="image"),
    _command("image push", "push", flags="-a/--all-tags --disable-content-trust --platform=text -q/--quiet", args="image"),
    _command("image rm", "rmi", "image rmi", "image remove", flags="-f/--force --no-prune --platform=text*", args="image+"),
    _command("image tag", "tag", args="image image"),
    _command("image history", "history", flags="--format=template -H/--human --no-trunc --platform=text -q/--quiet", args="image"),
    _command("image inspect", flags="-f/--format=template --platform=text", args="image+"),
    _command("image prune", flags="-a/--all --filter=text* -f/--force"),
    _command("image save", "save", flags="-o/--output=text --platform=text*", args="image+"),
    _command("image load", "load", flags="-i/--input=text -q/--quiet --platform=text*"),
    _command("image import", "import", flags="-c/--change=text* -m/--message=text --platform=text", args="text text?"),
    _command("image build", "build", "buildx build", "builder build", "buildx b", flags=_BUILD_FLAGS, args="text"),
    _command("search", flags="-f/--filter=text* --format=template --limit=text --no-trunc", args="text"),
    # Containers
    _command("container run", "run", flags=_RUN_FLAGS + " -d/--detach --detach-keys=text --sig-proxy", args="image text*", interspersed=False),
    _command("container create", "create", flags=_RUN_FLAGS, args="image text*", interspersed=False),
    _command("container ls", "ps", "container list", "container ps", flags="-a/--all -f/--filter=text* --format=template -n/--last=text -l/--latest --no-trunc -q/--quiet -s/--size"),
    _command("container exec", "exec", flags=_EXEC_FLAGS, args="text text+", interspersed=False),
    _command("container start", "start", flags="-a/--attach -i/--interactive --detach-keys=text --checkpoint=text --checkpoint-dir=text", args="text+"),
    _command("container stop", "stop", flags="-s/--signal=text -t/--timeout|--time=text", args="text+"),
    _command("container restart", "restart", flags="-s/--signal=text -t/--timeout|--time=text", args="text+"),
    _command("container kill", "kill", flags="-s/--signal=text", args="text+"),
    _command("container pause", "pause", args="text+"),
    _command("container unpause", "unpause", args="text+"),
    _command("container wait", "wait", args="text+"),
    _command("container rename", "rename", args="text text"),
    _command("container attach", "attach", flags="--detach-keys=text --no-stdin --sig-proxy", args="text"),
    _command("container rm", "rm", "container remove", flags="-f/--force -l/--link -v/--volumes", args="text+"),
    _command("container logs", "logs", flags="--details -f/--follow --since=text -n/--tail=text -t/--timestamps --until=text", args="text"),
    _command("container inspect", flags="-f/--format=template -s/--size", args="text+"),
    _command("container top", "top", args="text text*", interspersed=False),
    _command("container stats", "stats", flags="-a/--all --format=template --no-stream --no-trunc", args="text*"),
    _command("container port", "port", args="text text?"),
    _command("container cp", "cp", flags="-a/--archive -L/--follow-link -q/--quiet", args="text text"),
    _command("container diff", "diff", args="text"),
    _command("container commit", "commit", flags="-a/--author=text -c/--change=text* -m/--message=text -p/--pause", args="text image?"),
    _command("container export", "export", flags="-o/--output=text", args="text"),
    _command("container update", "update", flags="--blkio-weight=text --cpu-period=text --cpu-quota=text --cpus=text -c/--cpu-shares=text --cpuset-cpus=text --cpuset-mems=text -m/--memory=text --memory-reservation=text --memory-swap=text --pids-limit=text --restart=text", args="text+"),
    _command("container prune", flags="--filter=text* -f/--force"),
    _command("inspect", flags="-f/--format=template -s/--size --type=text", args="text+"),
    # Volumes and networks
    _command("volume create", flags="-d/--driver=text --label=text* --name=text -o/--opt=text*", args="text?", name_flag="--name"),
    _command("volume ls", "volume list", flags="--cluster -f/--filter=text* --format=template -q/--quiet"),
    _command("volume inspect", flags="-f/--format=template", args="text+"),
    _command("volume rm", "volume remove", flags="-f/--force", args="text+"),
    _command("volume prune", flags="-a/--all --filter=text* -f/--force"),
    _command("network create", flags="--attachable --aux-address=text* --config-from=text --config-only -d/--driver=text --gateway=text* --ingress --internal --ip-range=text* --ipam-driver=text --ipam-opt=text* --ipv4=text --ipv6 --label=text* -o/--opt=text* --scope=text --subnet=text*", args="text"),
    _command("network ls", "network list", flags="-f/--filter=text* --format=template --no-trunc -q/--quiet"),
    _command("network inspect", flags="-f/--format=template -v/--verbose", args="text+"),
    _command("network rm", "network remove", flags="-f/--force", args="text+"),
    _command("network prune", flags="--filter=text* -f/--force"),
    _command("network connect", flags="--alias=text* --driver-opt=text* --gw-priority=text --ip=text --ip6=text --link=text* --link-local-ip=text*", args="text text"),
    _command("network disconnect", flags="-f/--force", args="text text"),
    # Client, engine, registries
    _command("version", flags="-f/--format=template"),
    _command("system info", "info", flags="-f/--format=template"),
    _command("system events", "events", flags="-f/--filter=text* --format=template --since=text --until=text"),
    _command("system df", flags="--format=template -v/--verbose"),
    _command("system prune", flags="-a/--all --filter=text* -f/--force --volumes"),
    _command("builder prune", "buildx prune", flags="-a/--all --filter=text* -f/--force --keep-storage=text"),
    _command("context create", flags="--description=text --docker=text --from=text", args="text"),
    _command("context use", args="text"),
    _command("context ls", "context list", flags="--format=template -q/--quiet"),
    _command("context inspect", flags="-f/--format=template", args="text*"),
    _command("context rm", "context remove", flags="-f/--force", args="text+"),
    _command("context show"),
    _command("login", flags="-p/--password=text --password-stdin -u/--username=text", args="text?"),
    _command("logout", args="text?"),
    _command("buildx version"),
    _command("buildx ls", flags="--format=template --no-trunc"),
    # Compose (its own flags go between `compose` and the subcommand)
    _command("compose up", flags="--abort-on-container-exit --abort-on-container-failure --always-recreate-deps --attach=text* --attach-dependencies --build -d/--detach --exit-code-from=text --force-recreate --menu --no-attach=text* --no-build --no-color --no-deps --no-log-prefix --no-recreate --no-start --pull=text --quiet-build --quiet-pull --remove-orphans -V/--renew-anon-volumes --scale=text* -t/--timeout=text --timestamps --wait --wait-timeout=text -w/--watch -y/--yes", args="text*"),
    _command("compose down", flags="--remove-orphans --rmi=text -t/--timeout=text -v/--volumes", args="text*"),
    _command("compose ps", flags="-a/--all --filter=text --format=template --no-trunc --orphans -q/--quiet --services --status=text*", args="text*"),
    _command("compose logs", flags="-f/--follow --index=text --no-color --no-log-prefix --since=text -n/--tail=text -t/--timestamps --until=text", args="text*"),
    _command("compose build", flags="--build-arg=text* --builder=text --check -m/--memory=text --no-cache --print --pull --push -q/--quiet --ssh=text --with-dependencies", args="text*"),
    _command("compose pull", flags="--ignore-buildable --ignore-pull-failures --include-deps --policy=text -q/--quiet", args="text*"),
    _command("compose push", flags="--ignore-push-failures --include-deps -q/--quiet", args="text*"),
    _command("compose start", args="text*"),
    _command("compose stop", flags="-t/--timeout=text", args="text*"),
    _command("compose restart", flags="--no-deps -t/--timeout=text", args="text*"),
    _command("compose rm", flags="-f/--force -s/--stop -v/--volumes", args="text*"),
    _command("compose kill", flags="--remove-orphans -s/--signal=text", args="text*"),
    _command("compose pause", args="text*"),
    _command("compose unpause", args="text*"),
    _command("compose top", args="text*"),
    _command("compose images", flags="--format=template -q/--quiet", args="text*"),
    _command("compose port", flags="--index=text --protocol=text", args="text text"),
    _command("compose ls", flags="-a/--all --filter=text --format=template -q/--quiet"),
    _command("compose version", flags="-f/--format=template --short"),
    _command("compose config", flags="--format=text --hash=text --images --no-consistency --no-interpolate --no-normalize --no-path-resolution -o/--output=text --profiles -q/--quiet --resolve-image-digests --services --variables --volumes"),
    _command("compose events", flags="--json --since=text --until=text", args="text*"),
    _command("compose exec", flags="-d/--detach -e/--env=text* --index=text -T/--no-TTY --privileged -u/--user=text -w/--workdir=text", args="text text+", interspersed=False),
    _command("compose run", flags=_COMPOSE_RUN_FLAGS, args="text text*", interspersed=False),
)
_BY_NAME = {name: spec for spec in COMMANDS for name in spec.names}
_GROUPS = {name[0] for name in _BY_NAME if len(name) > 1}
# Go's strconv.ParseBool, which pflag uses for `--switch=value`.
_TRUE, _FALSE = {"1", "t", "T", "TRUE", "true", "True"}, {"0", "f", "F", "FALSE", "false", "False"}
_REPO_RE = re.compile(r"^(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")


def parse(line):
    """Read a command line into a DockerCommand, or raise CommandError saying what is wrong."""
    return read(line).command


def equivalent(line, other):
    """Whether two lines are the same command; a line that does not parse is equivalent to nothing."""
    try:
        return parse(line) == parse(other)
    except CommandError:
        return False


def read(line):
    """The docker command of a pasted line, and notes on what was around it: a Reading, or CommandError."""
    if len(line) > MAX_LENGTH:
        raise CommandError(_("This command is too long (%(max)s characters at most).") % {"max": MAX_LENGTH})
    text = fold_lookalikes(line)
    _refuse_dashes(text)
    words, notes = _docker_words(text)
    return Reading(command=_parse_words(words), notes=tuple(notes))


# --- Look-alike characters ------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_QUOTES = {ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u02bc\u2032"} | {ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033"}
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_GUILLEMETS = re.compile(r"«\s*|\s*»")


def fold_lookalikes(text):
    """What a keyboard or a word processor changed, put back where it cannot change the meaning.

    Zero-width characters are dropped, every Unicode space is a space, typographic
    quotes are straight quotes, French guillemets are double quotes. Dashes are left:
    a long dash before a flag name is explained by `read`, not guessed.
    """
    text = text.translate(_INVISIBLE).translate(_QUOTES)
    text = _GUILLEMETS.sub('"', text)
    return "".join(" " if unicodedata.category(c) == "Zs" else c for c in text)


def _refuse_dashes(text):
    """A word typed with a long dash where a flag's hyphens go: CommandError saying what to type (quoted words are text)."""
    words = []
    for line in _lines(text):
        try:
            words += [token.raw for token in _shell_tokens(line)[0]]
        except CommandError:
            words += line.split()  # an unclosed quote is reported later; its dashes still are now
    for word in words:
        match = re.match(rf"([{_DASHES}]+)(-*)([A-Za-z][\w-]*)", word)
        if match is None:
            continue
        dashes, hyphens, name = match.groups()
        if len(name) == 1 and len(dashes) + len(hyphens) == 1:
            raise CommandError(_("A long dash %(dash)s comes before %(name)s: type one hyphen, -%(name)s.") % {"dash": dashes[0], "name": name})
        raise CommandError(_("A long dash %(dash)s comes before %(name)s: type two hyphens, --%(name)s.") % {"dash": dashes[0], "name": name})


# --- The shell around the command -----------------------------------------------------------

_CONTROL = {"|", "||", "&&", ";", "&", "|&"}
_OPERATOR_RE = re.compile(r"[0-9]*(?:\|\||&&|\|&|;;|&>>|&>|>>|>&|>\||<<<|<<|<&|<>|[|&;<>])")
_REDIRECT_RE = re.compile(r"^(\d*)(>>|>&|>\||>|<<<|<<|<&|<>|<|&>>|&>)$")
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class _Token:
    text: str  # the word as the shell gives it to the program (quotes removed)
    raw: str  # as typed
    operator: bool = False


def _shell_tokens(text):
    """Split a line as a POSIX shell does (quotes, backslashes, comments, operators), without expanding anything.

    Returns the tokens and the comment (or ""). `$(...)` and backquotes stay one word.
    """
    tokens, comment = [], ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if c == "#":
            comment = text[i:].strip()
            break
        start, word, in_word = i, [], False
        while i < n:
            c = text[i]
            if c in " \t":
                break
            if c in "|&;<>":
                # An operator; the digits typed just before a redirection are its file descriptor (`2>&1`).
                descriptor = in_word and c in "<>" and re.fullmatch(r"[0-9]+", text[start:i])
                if in_word and not descriptor:
                    break
                match = _OPERATOR_RE.match(text, start)
                i = match.end()
                tokens.append(_Token(text=match.group(0), raw=match.group(0), operator=True))
                word = None
                break
            if c == "\\":
                if i + 1 < n:  # a backslash at the very end would continue the line: nothing follows
                    word.append(text[i + 1])
                    in_word = True
                i += 2
                continue
            if c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise CommandError(_("A quote is not closed."))
                word.append(text[i + 1:end])
                i, in_word = end + 1, True
                continue
            if c == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n and text[i + 1] in '\\"$`\n':
                        i += 1
                    word.append(text[i])
                    i += 1
                if i >= n:
                    raise CommandError(_("A quote is not closed."))
                i, in_word = i + 1, True
                continue
            if text.startswith("$(", i) or c == "`":
                end = _substitution_end(text, i)
                word.append(text[i:end])
                i, in_word = end, True
                continue
            word.append(c)
            i += 1
            in_word = True
        if word is not None and (in_word or word):
            tokens.append(_Token(text="".join(word), raw=text[start:i]))
    return tokens, comment


def _substitution_end(text, i):
    if text[i] == "`":
        end = text.find("`", i + 1)
        if end < 0:
            raise CommandError(_("A quote is not closed."))
        return end + 1
    depth, j = 0, i + 1
    while j < len(text):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise CommandError(_("A parenthesis is not closed."))


def _lines(text):
    """The lines of a paste: continuations joined, blank lines and lines of comments dropped."""
    text = re.sub(r"\\\r?\n", " ", text)
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _docker_words(text):
    """The words of the one docker command on the line, and notes naming what was left aside."""
    lines = _lines(text)
    if not lines:
        raise CommandError(_("Type a docker command."))
    if len(lines) > 1:
        raise CommandError(
            _("Your answer holds %(count)s lines: write a single command (a line that ends with \\ goes on to the next).") % {"count": len(lines)}
        )
    tokens, comment = _shell_tokens(lines[0])
    notes = []
    segments, current, separators = [], [], []
    for token in tokens:
        if token.operator and token.text in _CONTROL:
            segments.append(current)
            separators.append(token)
            current = []
        else:
            current.append(token)
    segments.append(current)
    commands = [(index, *_simple_command(segment)) for index, segment in enumerate(segments)]
    docker = [entry for entry in commands if entry[1][:1] in (["docker"], ["docker-compose"])]
    if len(docker) > 1:
        raise CommandError(_("This line holds several docker commands: write only the one asked for."))
    if not docker:
        words = commands[0][1]
        if not any(entry[1] for entry in commands):
            raise CommandError(_("Type a docker command."))
        if words[:1] == ["docker-compose"]:
            return words, notes
        raise CommandError(_("A Docker command starts with docker."))
    index, words, left_aside = docker[0]
    aside = []
    for position, segment in enumerate(segments):
        if position == index:
            aside += left_aside
            continue
        raw = " ".join(t.raw for t in segment)
        if raw:
            aside.append(f"{separators[position - 1].raw} {raw}" if position > index else raw)
    if separators and not segments[-1] and separators[-1].text == "&":
        aside.append("&")
    if comment:
        aside.append(comment)
    if aside:
        notes.append(_("Only the docker command is graded; left aside: %(shell)s.") % {"shell": " · ".join(aside)})
    return words, notes


def _simple_command(tokens):
    """The words of one simple command: redirections, variable assignments, a prompt and sudo taken off."""
    words, aside = [], []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token.operator and _REDIRECT_RE.match(token.text):
            target = tokens[position + 1].raw if position + 1 < len(tokens) and not tokens[position + 1].operator else ""
            joined = token.raw.endswith("&") and target.isdigit()  # `2>&1` is typed as one word
            aside.append(token.raw + target if joined else f"{token.raw} {target}".strip())
            position += 2 if target else 1
            continue
        if token.operator:
            raise CommandError(_("%(operator)s is not part of a docker command.") % {"operator": token.raw})
        words.append(token)
        position += 1
    # A copied prompt, then sudo (with its options) and NAME=value assignments before the program.
    if words and words[0].raw in ("$", "%"):
        words = words[1:]
    if words and words[0].text == "sudo":
        words = words[1:]
        while words and words[0].text.startswith("-"):
            option = words.pop(0).text
            if option in ("-u", "-g") and words:
                words.pop(0)
    while words and _ASSIGNMENT_RE.match(words[0].text) and len(words) > 1:
        aside.append(words.pop(0).raw)
    return [w.text for w in words], aside


# --- The docker CLI -------------------------------------------------------------------------


def _parse_words(words):
    if words[0] == "docker-compose":
        raise CommandError(_("docker-compose (Compose version 1) is no longer maintained: write docker compose, with a space."))
    position, global_options = _read_options(words, 1, GLOBAL_FLAGS, "docker")
    if global_options.get("--help"):
        return _help(())
    if global_options.pop("--version", False):
        if position < len(words):
            raise CommandError(_("docker --version prints the version and stops: write nothing after it."))
        return DockerCommand(path=(), global_options=_freeze({**global_options, "--version": True}), group_options=(), options=(), args=())
    if position >= len(words):
        raise CommandError(_("docker alone does nothing: add a command, such as docker ps."))
    first = words[position]
    if first == "help":
        return _help(_spec_path(words[position + 1:], help_topic=True))
    group_options = {}
    if first == "compose":
        position, group_options = _read_options(words, position + 1, COMPOSE_FLAGS, "docker compose")
        if group_options.get("--help"):
            return _help(("compose",))
        if position >= len(words):
            raise CommandError(_("docker compose needs a command, such as docker compose up."))
        spec = _BY_NAME.get(("compose", words[position]))
        if spec is None:
            raise CommandError(_("Unknown command: %(command)s.") % {"command": f"docker compose {words[position]}"})
        position += 1
    else:
        if first in _GROUPS and words[position + 1:position + 2] in (["--help"], ["-h"]):
            return _help((first,))
        spec, used = _spec_path(words[position:])
        position += used
    options, args = _read_command(words[position:], spec)
    if options.get("--help"):
        return _help(spec.path)
    args = _check_args(args, spec)
    if spec.name_flag and spec.name_flag in options:
        name = options.pop(spec.name_flag)
        if args:
            raise CommandError(_("Give the name once: with %(flag)s or as an argument, not both.") % {"flag": spec.name_flag})
        args = [name]
    if spec.path in (("container", "run"), ("container", "create")):
        _volumes_as_mounts(options)
    return DockerCommand(
        path=spec.path, global_options=_freeze(global_options), group_options=_freeze(group_options),
        options=_freeze(options), args=tuple(args),
    )


def _help(path):
    return DockerCommand(path=tuple(path), global_options=(), group_options=(), options=(("--help", True),), args=())


def _spec_path(words, *, help_topic=False):
    """The command that the first words name (`image ls`, `images`), or CommandError."""
    if help_topic and not words:
        return ()
    first = words[0] if words else ""
    if first == "compose" and help_topic:
        spec = _BY_NAME.get(("compose", words[1])) if len(words) > 1 else None
        return spec.path if spec else ("compose",)
    pair = tuple(words[:2])
    if len(pair) == 2 and pair in _BY_NAME:
        spec, used = _BY_NAME[pair], 2
    elif (first,) in _BY_NAME:
        spec, used = _BY_NAME[(first,)], 1
    elif help_topic and first in _GROUPS and len(words) == 1:
        return (first,)
    elif help_topic:
        raise CommandError(_("Unknown help topic: %(topic)s.") % {"topic": " ".join(words)})
    elif first in _GROUPS and len(pair) == 2:
        raise CommandError(_("Unknown command: %(command)s.") % {"command": f"docker {first} {pair[1]}"})
    elif first in _GROUPS:
        raise CommandError(_("docker %(group)s needs a command, such as docker %(group)s ls.") % {"group": first})
    elif first.startswith("-"):
        raise CommandError(_("Unknown option for docker: %(flag)s.") % {"flag": first})
    else:
        raise CommandError(_("Unknown command: %(command)s.") % {"command": f"docker {first}"})
    return spec.path if help_topic else (spec, used)


def _read_options(words, position, flags, where):
    """Read the flags that precede a command word (docker's and compose's own options)."""
    values = {}
    while position < len(words) and words[position].startswith("-") and words[position] != "-":
        if words[position] == "--":
            position += 1
            break
        position = _read_flag(words, position, flags, values, where)
    return position, values


def _read_command(words, spec):
    values, args = {}, []
    position = 0
    while position < len(words):
        word = words[position]
        flags_allowed = spec.interspersed or not args
        if word == "--" and flags_allowed:
            args += words[position + 1:]
            break
        if word.startswith("-") and word != "-" and flags_allowed:
            position = _read_flag(words, position, spec.flags, values, spec.title)
            continue
        args.append(word)
        position += 1
    return values, args


def _read_flag(words, position, flags, values, where):
    word = words[position]
    if word.startswith("--"):
        name, has_value, value = word.partition("=")
        flag = next((f for f in flags if name == f.long or name in f.aliases), None)
        if flag is None and name == "--help":
            values["--help"] = _switch(name, has_value, value)
            return position + 1
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
        if flag is None and letter == "h":
            values["--help"] = True
            index += 1
            continue
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
    if not has_value or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CommandError(_("The flag %(flag)s is a switch: write it alone (or =true, =false).") % {"flag": name})


def _set(values, flag, value):
    if flag.kind:
        value = _normalize(flag.kind, value)
    if flag.repeat:
        values.setdefault(flag.long, []).append(value)
        if flag.ordered:
            values[flag.long] = _Ordered(values[flag.long])
    else:
        values[flag.long] = value


class _Ordered(list):
    """The values of a flag whose order matters; `_freeze` keeps them in order."""


def _freeze(values):
    frozen = []
    for name, value in sorted(values.items()):
        if value is False:
            continue
        if isinstance(value, _Ordered):
            value = tuple(value)
        elif isinstance(value, list):
            value = tuple(sorted(set(value)))
        frozen.append((name, value))
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
    if kind == "mount":
        return normalize_mount(value)
    return value


def normalize_image(ref):
    """`nginx` -> `nginx:latest`, `docker.io/library/nginx` -> `nginx:latest`; refuses what the CLI refuses."""
    name, _at, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    repository, tag = (name.rsplit(":", 1) if ":" in last else (name, ""))
    # A registry host (first part with a dot, a port or localhost) may hold capitals; the path may not.
    parts = repository.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if not _REPO_RE.match("/".join(parts)):
        if any(c.isupper() for c in repository):
            raise CommandError(_("%(image)s is not a valid image name: a repository name must be lowercase.") % {"image": ref})
        raise CommandError(_("%(image)s is not a valid image name.") % {"image": ref})
    if (":" in last and not _TAG_RE.match(tag)) or (_at and not _DIGEST_RE.match(digest)):
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


_MOUNT_KEYS = {"src": "source", "dst": "target", "destination": "target", "ro": "readonly"}
_MOUNT_SWITCHES = {"readonly", "volume-nocopy", "bind-recursive"}


def normalize_mount(value):
    """`--mount` fields in a fixed order with their long keys: `dst=/d,src=v` = `type=volume,source=v,target=/d`."""
    fields = []
    for field in value.split(","):
        key, has_value, one = field.partition("=")
        key, one = _MOUNT_KEYS.get(key.strip().lower(), key.strip().lower()), one.strip()
        if key in _MOUNT_SWITCHES:
            if has_value and one.lower() in ("false", "0", "no"):
                continue
            if has_value and one.lower() not in ("true", "1", "yes"):
                return value  # not a value the CLI takes: compared as given
            one = "true"
        elif not has_value:
            return value
        fields.append((key, one))
    if "type" not in {key for key, _ in fields}:
        fields.append(("type", "volume"))
    return ",".join(f"{key}={one}" for key, one in sorted(set(fields)))


_VOLUME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _volumes_as_mounts(options):
    """`-v data:/data` and `-v /src:/dst:ro` said as the `--mount` that means the same; anything else stays a -v."""
    kept = []
    for value in options.get("--volume", []):
        parts = value.split(":")
        mode = parts.pop() if len(parts) == 3 and parts[2] in ("ro", "rw") else ""
        if len(parts) == 2 and parts[1].startswith("/") and (parts[0].startswith("/") or _VOLUME_NAME_RE.match(parts[0])):
            kind = "bind" if parts[0].startswith("/") else "volume"
            mount = f"type={kind},source={parts[0]},target={parts[1]}" + (",readonly" if mode == "ro" else "")
        elif len(parts) == 1 and parts[0].startswith("/") and not mode:
            mount = f"target={parts[0]}"
        else:
            kept.append(value)
            continue
        options.setdefault("--mount", []).append(normalize_mount(mount))
    if kept:
        options["--volume"] = kept
    else:
        options.pop("--volume", None)


def typing_problem(line):
    """What a learner should fix before the line can be read as one command ("" when nothing).

    The look-alikes that cannot be folded (a long dash typed for `--`) and a paste of
    several lines: the line is refused as typed, not graded wrong.
    """
    text = fold_lookalikes(line)
    try:
        _refuse_dashes(text)
        if len(_lines(text)) > 1:
            _docker_words(text)
    except CommandError as error:
        return str(error)
    return ""
