"""Command questions: which spellings of a docker command are the same command, and which are not."""

import re

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings, strategies as st

from quizzes.docker_commands import MAX_LENGTH, CommandError, equivalent, normalize_template, parse, read, typing_problem
from tests.conftest import BASE_DIR


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize("expected, typed", [
    ("docker images --no-trunc", "docker images --no-trunc"),
    ("docker images --no-trunc", "docker image ls --no-trunc"),
    ("docker images --no-trunc", "docker image list --no-trunc"),
    ("docker images --no-trunc", "docker images  --no-trunc"),
    ("docker images --no-trunc", "  docker   image   ls   --no-trunc  "),
    ("docker images --no-trunc", "docker images --no-trunc=true"),
    ("docker images --no-trunc", "sudo docker images --no-trunc"),
    ("docker images --no-trunc", "$ docker images --no-trunc"),
    ("docker images -a", "docker image ls --all"),
    ("docker images -a -q", "docker images -qa"),
    ("docker images -a -q", "docker images --quiet --all"),
    ("docker images --digests nginx", "docker image ls nginx --digests"),
    ("docker image ls --filter dangling=true", "docker images -f dangling=true"),
    ("docker image ls --filter dangling=true", "docker images --filter=dangling=true"),
    ("docker images -f dangling=true -f label=x", "docker images -f label=x -f dangling=true"),
    ("docker pull nginx", "docker pull nginx:latest"),
    ("docker pull nginx", "docker image pull docker.io/library/nginx:latest"),
    ("docker pull nginx:1.23.3", "docker image pull nginx:1.23.3"),
    ("docker pull nginx:1.23.3", "docker pull library/nginx:1.23.3"),
    ("docker pull bitnami/nginx", "docker pull docker.io/bitnami/nginx:latest"),
    ("docker ps", "docker container ls"),
    ("docker ps -a", "docker container ls --all"),
    ("docker ps -a", "docker container list -a"),
    ("docker ps -a", "docker container ps -a"),
    ("docker run -it debian bash", "docker run -i -t debian bash"),
    ("docker run -it debian bash", "docker container run --interactive --tty debian:latest bash"),
    ("docker run -it debian bash", "docker run -ti debian bash"),
    ("docker run -d --name web nginx:1.23.3", "docker run --name=web --detach nginx:1.23.3"),
    ("docker run -d --name web nginx:1.23.3", "docker container run --name web -d docker.io/library/nginx:1.23.3"),
    ("docker run -d -p 8080:80 nginx", "docker run -p8080:80 -d nginx"),
    ("docker run -d -p 8080:80 nginx", "docker run -dp 8080:80 nginx"),
    ("docker run -d -p 8080:80 nginx", "docker run -dp=8080:80 nginx"),
    ("docker run -e A=1 -e B=2 alpine env", "docker run --env B=2 --env=A=1 alpine env"),
    ("docker run --rm -v data:/data debian:bookworm-slim cat /data/message.txt",
     "docker run -v data:/data --rm=true debian:bookworm-slim cat /data/message.txt"),
    ("docker run --network front nginx", "docker run --net front nginx"),
    ("docker run --rm alpine sh -c 'echo bonjour'", 'docker run --rm alpine sh -c "echo bonjour"'),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", "docker inspect --format '{{ .NetworkSettings.IPAddress }}' web"),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", "docker inspect -f '{{.NetworkSettings.IPAddress}}' web"),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", 'docker inspect web -f "{{  .NetworkSettings.IPAddress  }}"'),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", "docker inspect --format='{{ .NetworkSettings.IPAddress }}' web"),
    ("docker search nginx", "docker search nginx"),
    ("docker search --no-trunc nginx", "docker search nginx --no-trunc"),
    ("docker search --filter is-official=true nginx", "docker search -f is-official=true nginx"),
    ("docker build -t app .", "docker image build --tag app:latest ."),
    ("docker build -t app .", "docker buildx build -t app ."),
    ("docker build -t app:1.0 --no-cache .", "docker build --no-cache . -t app:1.0"),
    ("docker volume create data", "docker volume create data"),
    ("docker volume ls", "docker volume list"),
    ("docker rmi nginx", "docker image rm nginx:latest"),
    ("docker rmi nginx", "docker image remove nginx"),
    ("docker rm -f web", "docker container rm --force web"),
    ("docker tag nginx:1.23.3 nginx:ma-version", "docker image tag nginx:1.23.3 nginx:ma-version"),
    ("docker exec -it web sh", "docker container exec -ti web sh"),
    ("docker compose up -d", "docker compose up --detach"),
    ("docker compose -f compose.yaml up -d", "docker compose --file=compose.yaml up -d"),
    ("docker compose down -v", "docker compose down --volumes"),
    ("docker -H ssh://admin@srv.exemple.fr ps", "docker --host ssh://admin@srv.exemple.fr container ls"),
    ("docker context use serveur-prod", "docker context use serveur-prod"),
    # Aliases and hidden flags of the CLI reference.
    ("docker rmi nginx", "docker image rmi nginx"),
    ("docker info", "docker system info"),
    ("docker events", "docker system events"),
    ("docker volume create data", "docker volume create --name data"),
    ("docker volume create data", "docker volume create --name=data"),
    ("docker stop -t 5 web", "docker stop --time 5 web"),
    ("docker run --network front --network-alias api nginx", "docker run --net front --net-alias api nginx"),
    ("docker run -d --init --memory 512m --cpus 1.5 --pids-limit 100 nginx:1.26", "docker run --pids-limit=100 --cpus=1.5 -m 512m --init -d nginx:1.26"),
    # Global flags and help on any command.
    ("docker --version", "docker -v"),
    ("docker run --help", "docker container run --help"),
    ("docker run --help", "docker help run"),
    ("docker run --help", "docker help container run"),
    ("docker run --help", "docker run --help nginx"),
    ("docker ps --help", "docker ps -h"),
    ("docker ps --help", "docker container ls --help"),
    ("docker --help", "docker help"),
    ("docker container --help", "docker help container"),
    # Switches as Go's ParseBool spells them.
    ("docker images --no-trunc", "docker images --no-trunc=True"),
    ("docker images --no-trunc", "docker images --no-trunc=1"),
    ("docker images --no-trunc", "docker images --no-trunc=t"),
    # --mount and -v that mean the same mount.
    ("docker run --rm -v data:/data debian:bookworm-slim ls /data",
     "docker run --rm --mount type=volume,source=data,target=/data debian:bookworm-slim ls /data"),
    ("docker run --mount type=volume,source=data,target=/data nginx", "docker run --mount dst=/data,src=data nginx"),
    ("docker run -v /srv/site:/usr/share/nginx/html:ro nginx", "docker run --mount type=bind,src=/srv/site,dst=/usr/share/nginx/html,readonly nginx"),
    # The shell around the command.
    ("docker inspect web", "docker inspect web | more"),
    ("docker inspect web", "docker inspect web | jq '.[0].State'"),
    ("docker logs web", "docker logs web 2>&1 | grep error"),
    ("docker ps -a", "docker ps -a > conteneurs.txt"),
    ("docker ps -a", "docker ps -a  # tous les conteneurs"),
    ("docker ps", "sudo -E docker ps"),
    ("docker ps", "DOCKER_CONTEXT=default docker ps"),
    ("docker build -t app .", "cd app && docker build -t app ."),
    ("docker login -u moi --password-stdin", "cat jeton.txt | docker login -u moi --password-stdin"),
    ("docker run -d --name web -p 8080:80 nginx:1.26", "docker run -d \\\n  --name web \\\n  -p 8080:80 \\\n  nginx:1.26"),
    ("docker run -d --name web nginx:1.26", "$ docker run -d \\\r\n --name web nginx:1.26\n"),
    ("docker rm -f $(docker ps -aq)", "docker rm --force $(docker ps -aq)"),
    # Look-alike characters, folded where that is safe.
    ("docker inspect -f '{{ .State.Status }}' web", "docker inspect -f \u2019{{ .State.Status }}\u2019 web"),
    ("docker inspect -f '{{ .State.Status }}' web", "docker inspect -f \u2018{{ .State.Status }}\u2019 web"),
    ("docker run alpine echo 'bonjour tout le monde'", "docker run alpine echo \u201cbonjour tout le monde\u201d"),
    ("docker run alpine echo 'bonjour'", "docker run alpine echo \u00ab\u00a0bonjour\u00a0\u00bb"),
    ("docker images --no-trunc", "docker\u00a0images\u202f--no-trunc"),
    ("docker images --no-trunc", "docker im\u200bages --no-trunc\ufeff"),
])
def test_equivalent_spellings_are_the_same_command(expected, typed):
    assert equivalent(expected, typed), f"{typed!r} should be accepted for {expected!r}"
    assert parse(expected) == parse(typed)


@pytest.mark.parametrize("expected, typed", [
    ("docker images --no-trunc", "docker images"),
    ("docker images --no-trunc", "docker images --no-trunc nginx"),
    ("docker images --no-trunc", "docker ps --no-trunc"),
    ("docker images --no-trunc", "docker images --no-trunc=false"),
    ("docker images --no-trunc", "docker images -q"),
    ("docker images nginx", "docker images nginx:latest"),
    ("docker pull nginx:1.23.3", "docker pull nginx:1.23"),
    ("docker pull nginx:1.23.3", "docker pull nginx 1.23.3"),
    ("docker pull nginx", "docker pull bitnami/nginx"),
    ("docker pull nginx", "docker run nginx"),
    ("docker ps -a", "docker ps"),
    ("docker ps -a", "docker images -a"),
    ("docker run -d --name web nginx", "docker run --name web nginx -d"),
    ("docker run -d --name web nginx", "docker run -d --name web2 nginx"),
    ("docker run -e A=1 -e B=2 alpine env", "docker run -e A=1 alpine env"),
    ("docker run --rm alpine echo a b", "docker run --rm alpine echo b a"),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", "docker inspect -f '{{ .NetworkSettings.IpAddress }}' web"),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", "docker inspect web"),
    ("docker inspect -f '{{ .NetworkSettings.IPAddress }}' web", "docker inspect -f '{{ .NetworkSettings.IPAddress }}' db"),
    ("docker search nginx", "docker search --no-trunc nginx"),
    ("docker build -t app .", "docker build -t app ./app"),
    ("docker volume create data", "docker volume create donnees"),
    ("docker rmi nginx", "docker rm nginx"),
    ("docker compose up -d", "docker compose up"),
    ("docker compose up -d", "docker-compose up -d"),
    # Compose files override one another in order; a run's command keeps its `--`.
    ("docker compose -f compose.yaml -f compose.prod.yaml up -d", "docker compose -f compose.prod.yaml -f compose.yaml up -d"),
    ("docker run alpine ls", "docker run alpine -- ls"),
    ("docker --version", "docker version"),
    ("docker run --help", "docker run nginx"),
    ("docker run nginx --help", "docker run --help nginx"),
    ("docker run -v data:/data nginx", "docker run -v data:/data:ro nginx"),
    ("docker run -v data:/data nginx", "docker run --mount type=bind,source=data,target=/data nginx"),
])
def test_different_commands_are_not_equivalent(expected, typed):
    assert not equivalent(expected, typed), f"{typed!r} should be refused for {expected!r}"


@pytest.mark.parametrize("typed, message", [
    ("docker images --notrunc", "Unknown flag for docker image ls: --notrunc."),
    ("docker images -x", "Unknown flag for docker image ls: -x."),
    ("docker images -aqz", "Unknown flag for docker image ls: -z."),
    ("docker ps --no-trunk", "Unknown flag for docker container ls: --no-trunk."),
    ("docker imagez", "Unknown command: docker imagez."),
    ("docker image lst", "Unknown command: docker image lst."),
    ("docker image", "docker image needs a command, such as docker image ls."),
    ("docker", "docker alone does nothing: add a command, such as docker ps."),
    ("ls -l", "A Docker command starts with docker."),
    ("", "Type a docker command."),
    ("docker run --name", "The flag --name needs a value."),
    ("docker run -d", "docker container run needs more arguments."),
    ("docker pull", "docker image pull needs more arguments."),
    ("docker pull nginx 1.23.3", "Too many arguments for docker image pull: 1.23.3."),
    ("docker pull Nginx", "Nginx is not a valid image name: a repository name must be lowercase."),
    ("docker rmi", "docker image rm needs at least one argument."),
    ("docker images --no-trunc=maybe", "The flag --no-trunc is a switch: write it alone (or =true, =false)."),
    ("docker images --no-trunc=tRuE", "The flag --no-trunc is a switch: write it alone (or =true, =false)."),
    ("docker inspect -f '{{ .State.Status }} web", "A quote is not closed."),
    ("docker-compose up -d", "docker-compose (Compose version 1) is no longer maintained: write docker compose, with a space."),
    ("docker compose", "docker compose needs a command, such as docker compose up."),
    ("docker compose start-all", "Unknown command: docker compose start-all."),
    ("docker --hots x ps", "Unknown flag for docker: --hots."),
    ("docker images " + "x" * 300, "This command is too long (300 characters at most)."),
    ("docker images \u2014no-trunc", "A long dash \u2014 comes before no-trunc: type two hyphens, --no-trunc."),
    ("docker images \u2013no-trunc", "A long dash \u2013 comes before no-trunc: type two hyphens, --no-trunc."),
    ("docker images \u2013-no-trunc", "A long dash \u2013 comes before no-trunc: type two hyphens, --no-trunc."),
    ("docker ps \u2013a", "A long dash \u2013 comes before a: type one hyphen, -a."),
    ("docker ps\ndocker images", "Your answer holds 2 lines: write a single command (a line that ends with \\ goes on to the next)."),
    ("docker ps\nCONTAINER ID   IMAGE   COMMAND", "Your answer holds 2 lines: write a single command (a line that ends with \\ goes on to the next)."),
    ("docker pull nginx:1.26 && docker run nginx:1.26", "This line holds several docker commands: write only the one asked for."),
    ("ls -l | grep docker", "A Docker command starts with docker."),
    ("sudo", "Type a docker command."),
    ("# docker ps", "Type a docker command."),
    ("docker run -h", "The flag -h needs a value."),
    ("docker --version ps", "docker --version prints the version and stops: write nothing after it."),
    ("docker volume create --name data data", "Give the name once: with --name or as an argument, not both."),
    ("docker help imagez", "Unknown help topic: imagez."),
    ("docker run --rm=yes alpine", "The flag --rm is a switch: write it alone (or =true, =false)."),
    ("docker pull nginx:", "nginx: is not a valid image name."),
    ("docker pull nginx@sha256:abc", "nginx@sha256:abc is not a valid image name."),
    ("docker rm $(docker ps -aq", "A parenthesis is not closed."),
])
def test_wrong_commands_say_what_is_wrong(typed, message):
    with pytest.raises(CommandError) as caught:
        parse(typed)
    assert str(caught.value) == message


def test_flags_after_the_image_belong_to_the_containers_command():
    command = parse("docker run --rm alpine ls -la /")
    assert command.args == ("alpine:latest", "ls", "-la", "/")
    assert command.options == (("--rm", True),)


def test_double_dash_ends_the_flags():
    assert parse("docker rm -- -web").args == ("-web",)
    assert parse("docker run -- alpine ls").args == ("alpine:latest", "ls")


def test_double_dash_after_the_image_is_kept_in_the_containers_command():
    assert parse("docker run --rm alpine -- ls -la").args == ("alpine:latest", "--", "ls", "-la")
    assert parse("docker exec web -- ls").args == ("web", "--", "ls")


def test_the_shell_around_the_command_is_judged_apart_and_named_in_the_notes():
    reading = read("docker inspect web | more")
    assert reading.command.args == ("web",)  # `|` and `more` are not container names
    assert reading.notes == ("Only the docker command is graded; left aside: | more.",)
    assert read("docker ps -a # tous").notes == ("Only the docker command is graded; left aside: # tous.",)
    assert read("docker logs web 2>&1 | grep error").notes == ("Only the docker command is graded; left aside: 2>&1 · | grep error.",)
    assert read("cd app && docker build -t app .").notes == ("Only the docker command is graded; left aside: cd app.",)
    # What a lesson itself shows, and what a prompt or sudo adds, needs no note.
    assert read("$ sudo docker run hello-world").notes == ()
    assert read("docker run -d \\\n  nginx:1.26").notes == ()
    assert str(read("docker --help | more").command) == "docker --help"


def test_a_hash_inside_a_word_is_not_a_comment():
    assert parse("docker run alpine echo a#b").args == ("alpine:latest", "echo", "a#b")
    assert parse("docker run alpine echo 'a # b'").args == ("alpine:latest", "echo", "a # b")


def test_what_the_learner_can_fix_before_submitting_is_named_at_once():
    assert typing_problem("docker images \u2014no-trunc") == "A long dash \u2014 comes before no-trunc: type two hyphens, --no-trunc."
    assert typing_problem("docker ps\ndocker images").startswith("Your answer holds 2 lines")
    assert typing_problem("docker images --notrunc") == ""  # a wrong command is graded wrong, not refused
    assert typing_problem("docker ps \\\n -a") == ""


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=MAX_LENGTH + 5) | st.builds(" ".join, st.lists(st.sampled_from([
    "docker", "run", "-it", "--rm", "-v", "data:/data", "--mount", "type=volume,src=a", "nginx:1.26", "|", "more", "&&", ";",
    "2>&1", ">", "#", "\\\n", "'", '"', "$(", ")", "`", "\u2014no-trunc", "\u2019", "--help", "-h", "compose", "-f", "--",
    "help", "image", "rmi", "volume", "create", "--name", "x", "--version", "-v", "sudo", "$", "=", "--no-trunc=tRuE",
]), max_size=12)))
def test_any_line_is_read_or_refused_with_a_message(line):
    try:
        reading = read(line)
    except CommandError as error:
        assert str(error)
    else:
        assert str(reading.command).startswith("docker")
        assert parse(str(reading.command)) == reading.command  # the canonical form reads back as itself
    assert isinstance(typing_problem(line), str)


def lesson_commands():
    """Each docker command line of the lessons' shell code blocks (continuations joined)."""
    for path in sorted((BASE_DIR / "content" / "docker-fr" / "lessons").glob("*.md")):
        for block in re.finditer(r"```(?:sh|bash|console|shell)[^\n]*\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            for line in block.group(1).replace("\\\n", " ").splitlines():
                if re.match(r"^(\$ |sudo )?docker(\s|$)", line.strip()):
                    yield path.name, line.strip()


@pytest.mark.parametrize("lesson, line", list(lesson_commands()))
def test_every_docker_command_a_lesson_shows_is_understood(lesson, line):
    parse(line)


def test_a_command_prints_in_its_canonical_form():
    assert str(parse("docker images -qa --no-trunc")) == "docker image ls --all --no-trunc --quiet"
    assert str(parse("docker compose -f c.yaml up -d")) == "docker compose --file c.yaml up --detach"
    assert str(parse("docker pull nginx")) == "docker image pull nginx:latest"


def test_go_templates_ignore_spaces_inside_actions_but_not_around_them():
    assert normalize_template("{{   .State.Status  }}") == "{{.State.Status}}"
    assert normalize_template("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}") == "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    assert normalize_template('{{ index .Config.Labels "a  b" }}') == '{{index .Config.Labels "a  b"}}'
    assert normalize_template("{{- .X -}}") == "{{- .X -}}"
    assert normalize_template("{{.A}}") != normalize_template("{{.A}} ")


def test_a_backslash_that_ends_the_answer_continues_nothing():
    assert parse("docker ps -a \\") == parse("docker ps -a")


def test_a_long_dash_inside_quotes_is_text_not_a_flag():
    assert parse("docker run alpine echo '\u2014bonjour'").args == ("alpine:latest", "echo", "\u2014bonjour")
