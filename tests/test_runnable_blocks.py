"""Runnable shell blocks: the pack loader refuses what the sandbox cannot run, the renderer marks what the Run button may type."""

import json

import pytest
import yaml

from courses import markdown, runnable
from courses.packs import PackError, read_pack

CATALOG = {
    "images": [
        {"name": "nginx", "tags": ["1.22", "1.22.1"], "course": True},
        {"name": "nginx", "tags": ["1.26", "1.26.3", "latest"], "course": True},
        {"name": "busybox", "tags": ["1.35", "latest"], "course": True},
        {"name": "drydock/sandbox", "tags": ["latest"], "course": False},
    ],
}


@pytest.fixture
def catalog(tmp_path, settings):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(CATALOG))
    settings.COURSE_IMAGE_CATALOG = path
    return path


def lesson_with(builder, body):
    slug, title, minutes, _ = builder.lessons["lessons/02-images.md"]
    builder.lessons["lessons/02-images.md"] = (slug, title, minutes, body)
    return builder.write()


def problems(root):
    with pytest.raises(PackError) as caught:
        read_pack(root)
    return [str(p) for p in caught.value.problems]


def test_a_block_that_pulls_a_tag_the_registry_lacks_is_refused_with_the_tags_that_exist(pack_builder, catalog):
    root = lesson_with(pack_builder, "## Tirer\n\n```sh\ndocker pull nginx:1.22\ndocker pull nginx:1.25\n```\n")
    # Five lines of front matter, a heading, a blank line, the fence: the second command is on line 10.
    assert problems(root) == [
        f"{root}/lessons/02-images.md:10: sh block: nginx:1.25 is not in the course registry (nginx has: 1.22, 1.22.1, 1.26, 1.26.3, latest)",
    ]


def test_an_unknown_image_or_another_registry_is_refused_and_learner_images_are_not(pack_builder, catalog):
    root = lesson_with(pack_builder, (
        "```sh\ndocker run -d --name pg postgres:16\ndocker pull quay.io/prometheus/prometheus:v2.53.0\n"
        "docker run -d -p 8080:80 \\\n  --name web \\\n  drydock/sandbox\n```\n"
    ))
    found = problems(root)
    assert found[0].endswith(":7: sh block: postgres:16 is not in the course registry (it has: busybox, nginx)")
    assert found[1].endswith(":8: sh block: quay.io/prometheus/prometheus:v2.53.0 is on another registry (quay.io): the sandbox reaches only the course registry")
    # A continued command is named by its first line; images not pushed to the course registry do not count.
    assert found[2].endswith(":9: sh block: drydock/sandbox is not in the course registry (it has: busybox, nginx)")
    assert len(found) == 3


def test_images_the_learner_builds_tags_or_pushes_to_a_registry_of_their_own_are_allowed(pack_builder, catalog):
    root = lesson_with(pack_builder, (
        "```sh\ndocker run --rm busybox:1.35 echo ok\n```\n\n```sh\ndocker build -t mon-app:1.0 .\n```\n\n"
        "```bash\ndocker run -d mon-app:1.0\ndocker tag nginx:1.26 nginx:ma-version && docker run -d nginx:ma-version\n"
        "docker run -d -p 5000:5000 --name registre busybox\ndocker tag mon-app:1.0 localhost:5000/mon-app:1.0\n"
        "docker push localhost:5000/mon-app:1.0\ndocker pull localhost:5000/autre:2\ndocker pull docker.io/library/nginx@sha256:" + "a" * 64 + "\n```\n"
    ))
    assert read_pack(root).lessons[1].slug == "images"


def test_a_block_marked_shown_is_not_checked_and_gets_no_run_button(pack_builder, catalog):
    root = lesson_with(pack_builder, "```sh shown\ndocker search nginx\ndocker pull ubuntu:24.04\ndocker exec -it web sh\n```\n\n```sh\ndocker images\n```\n")
    html = read_pack(root).lessons[1].body_html
    assert '<code class="language-sh">docker search nginx' in html
    assert '<code class="runnable language-sh">docker images' in html
    assert "shown" not in html


@pytest.mark.parametrize("command, why", [
    ("docker --help | more", "starts the pager more"),
    ("docker inspect web | less", "starts the pager less"),
    ("less /etc/hosts", "starts the pager less"),
    ("vi Dockerfile", "starts the interactive program vi"),
    ("nano compose.yaml", "starts the interactive program nano"),
    ("top", "starts the interactive program top"),
    ("docker run -it busybox:1.35", "starts the image's own program on the terminal (-it without a command)"),
    ("docker run --rm -i -t nginx:1.22", "starts the image's own program on the terminal (-it without a command)"),
    ("docker run -it --rm busybox:1.35 sh", "starts an interactive shell (sh) in the container"),
    ("docker exec -it web sh", "starts an interactive shell (sh) in the container"),
    ("docker container exec --interactive --tty web bash", "starts an interactive shell (bash) in the container"),
    ("docker attach web", "connects the terminal to a container's program"),
    ("docker login registre.exemple.fr", "asks for a password (unless --password-stdin)"),
    ("docker stats", "refreshes the screen until Ctrl-C (add --no-stream)"),
])
def test_a_block_that_starts_a_pager_or_an_interactive_program_is_refused_saying_why(pack_builder, catalog, command, why):
    root = lesson_with(pack_builder, f"```sh\n{command}\n```\n")
    assert problems(root) == [
        f"{root}/lessons/02-images.md:7: sh block: `{command}` {why}, which the Run button cannot drive: mark the block ```sh shown, or make the command non-interactive",
    ]


@pytest.mark.parametrize("command", [
    "docker run -it --rm busybox:1.35 echo bonjour", "docker run -dit --name bb busybox:1.35", "docker exec web cat /etc/hostname",
    "docker exec -it web ls /", "docker stats --no-stream", "docker inspect web | head -n 20", "echo '| less'",
    "docker logs web 2>&1 | grep nginx",
])
def test_commands_that_return_to_the_prompt_stay_runnable(command):
    assert runnable.runnable(command + "\n")
    assert 'class="runnable language-sh"' in markdown.render(f"```sh\n{command}\n```\n").html


def test_the_renderer_gives_no_run_button_to_an_interactive_block_nor_to_a_quiz():
    assert 'class="language-sh"' in markdown.render("```sh\ndocker exec -it web sh\n```\n").html
    assert 'class="language-sh"' in markdown.render("```sh\ndocker ps\n```\n", runnable=False).html
    assert 'runnable' not in markdown.render("```text\ndocker ps\n```\n").html


def test_the_run_button_types_a_continued_command_as_one():
    found = runnable.commands("docker run -d \\\n  --name web \\\n  nginx:1.26\n\n# un commentaire\ndocker ps\n", first_line=10)
    assert [(c.line, c.text) for c in found] == [(10, "docker run -d --name web nginx:1.26"), (15, "docker ps")]


LAB_YAML = """\
slug: tirer
title: Tirer
minutes: 5
instructions: |
  Tirez :

  ```sh
  docker pull nginx:1.25
  ```
setup:
  - label: web
    run: docker run -d --name web httpd:2.4
tasks:
  - slug: t
    title: T
    prompt: |
      Entrez dans le conteneur :

      ```sh
      docker exec -it web sh
      ```
    check: image_present
    params: {image: "nginx:1.22"}
"""


def test_a_labs_instructions_prompts_and_setup_are_checked_with_their_lines(pack_builder, catalog):
    pack_builder.course["chapters"][0]["labs"] = ["labs/tirer.yaml"]
    pack_builder.files["labs/tirer.yaml"] = LAB_YAML
    root = pack_builder.write()
    found = problems(root)
    assert [p.removeprefix(f"{root}/labs/tirer.yaml:").split(" (")[0] for p in found] == [
        "8: sh block: nginx:1.25 is not in the course registry",
        "20: sh block: `docker exec -it web sh` starts an interactive shell",
        "12: sh block: httpd:2.4 is not in the course registry",
    ]


def test_the_shipped_course_loads_and_marks_the_hub_only_blocks_shown(shipped_pack):
    search = next(lesson for lesson in shipped_pack.lessons if lesson.slug == "chercher-sur-le-hub")
    assert '<code class="language-sh">docker search nginx' in search.body_html
    tags = next(lesson for lesson in shipped_pack.lessons if lesson.slug == "tags-et-versions")
    assert '<code class="runnable language-sh">docker pull nginx:1.26\n' in tags.body_html


def test_without_a_catalogue_only_the_interactive_rule_applies(pack_builder, settings):
    settings.COURSE_IMAGE_CATALOG = None
    root = lesson_with(pack_builder, "```sh\ndocker pull ubuntu:24.04\n```\n")
    assert read_pack(root).lessons[1].slug == "images"
