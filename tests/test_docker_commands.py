"""Command questions: which spellings of a docker command are the same command, and which are not."""

import pytest
from django.utils import translation

from quizzes.docker_commands import CommandError, equivalent, normalize_template, parse


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
