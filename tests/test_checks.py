"""Every check on a snapshot like the ones a sandbox daemon gives, passing and failing."""

import pytest

from grader.checks import CHECKS, params_problems, run_check
from grader.checks import http_needed
from grader.snapshot import (
    BUILDKIT_STEP, BuildRecord, Container, HistoryEntry, HttpAnswer, Image, Mount, Network, Port, Snapshot, Volume, normalize_reference,
)

NGINX = Image(id="sha256:" + "a1" * 32, tags=("nginx:1.22", "nginx:latest"), digests=("nginx@sha256:" + "d1" * 32,), layers=("base", "n1", "n2"))
REDIS = Image(id="sha256:" + "b2" * 32, tags=("redis:7.0",), digests=("redis@sha256:" + "d2" * 32,), layers=("base", "r1"))
APP_OLD = Image(id="sha256:" + "c3" * 32, tags=(), layers=("base", "node", "pkg-v1", "deps-v1", "src"))
APP = Image(id="sha256:" + "c4" * 32, tags=("app:1",), layers=("base", "node", "pkg-v2", "deps-v2", "src"))
WEB = Container(
    id="e" * 64, name="web", image="nginx", image_id=NGINX.id, status="running", ip_address="172.17.0.2",
    networks={"bridge": "172.17.0.2", "front": "172.18.0.3"},
    mounts=(Mount("volume", "data", "/data", True), Mount("bind", "/srv/conf", "/etc/nginx/conf.d", False)),
    ports=(Port(80, "tcp", 8080),),
)
HELLO = Container(id="f" * 64, name="hello", image="busybox:1.35", image_id="sha256:" + "0f" * 32, status="exited", exit_code=0)
STACK = (
    Container(id="1" * 64, name="site-web-1", image="nginx", image_id=NGINX.id, status="running",
              labels={"com.docker.compose.project": "site", "com.docker.compose.service": "web"}),
    Container(id="2" * 64, name="site-cache-1", image="redis:7.0", image_id=REDIS.id, status="exited", exit_code=1,
              labels={"com.docker.compose.project": "site", "com.docker.compose.service": "cache"}),
)
SNAPSHOT = Snapshot(
    images=(NGINX, REDIS, APP_OLD, APP),
    containers=(WEB, HELLO, *STACK),
    volumes=(Volume("data"),),
    networks=(Network("bridge"), Network("front")),
    files={("data", "notes.txt"): "bonjour depuis le volume\n"},
)


def check(name, params, answer=None, snapshot=SNAPSHOT):
    return run_check(name, snapshot, params, answer)


@pytest.mark.parametrize("ref, expected", [
    ("nginx", "nginx:latest"), ("docker.io/library/nginx:1.22", "nginx:1.22"), ("library/redis:7.0", "redis:7.0"),
    ("bitnami/nginx", "bitnami/nginx:latest"), ("localhost:5000/app", "localhost:5000/app:latest"),
])
def test_references_are_normalised_like_the_cli(ref, expected):
    assert normalize_reference(ref) == expected


def test_image_present_passes_and_fails_with_what_is_there():
    assert check("image_present", {"image": "nginx:1.22"}).passed
    assert check("image_present", {"image": "nginx"}).passed
    verdict = check("image_present", {"image": "nginx:1.23.3"})
    assert not verdict.passed
    assert verdict.message == "L'image nginx:1.23.3 n'est pas sur le démon. Attendu : nginx:1.23.3 ; présent : nginx:1.22, nginx:latest."


def test_an_image_pulled_by_digest_counts_as_present():
    assert check("image_present", {"image": "nginx@sha256:" + "d1" * 32}).passed


def test_image_absent_passes_once_the_image_is_deleted_and_names_it_while_it_stays():
    assert check("image_absent", {"image": "busybox"}).passed
    assert "encore présente" in check("image_absent", {"image": "redis:7.0"}).message
    # An image leaves the disk with its last name: each name asked for must be gone.
    verdict = check("image_absent", {"image": "busybox", "also": ["nginx:1.22"]})
    assert not verdict.passed and verdict.found == "nginx:1.22 (a1a1a1a1a1a1)" and "docker rmi nginx:1.22" in verdict.message


def test_same_image_compares_image_ids_and_names_what_is_missing():
    assert check("same_image", {"images": ["nginx:latest", "nginx:1.22"]}).passed
    verdict = check("same_image", {"images": ["nginx:latest", "redis:7.0"]})
    assert not verdict.passed and "a1a1a1a1a1a1" in verdict.found and "b2b2b2b2b2b2" in verdict.found
    assert "Il manque httpd:latest" in check("same_image", {"images": ["httpd", "nginx"]}).message


@pytest.mark.parametrize("answer", ["a1a1a1a1a1a1", "  sha256:" + "a1" * 32 + "\n", "A1" * 32, "`a1a1a1a1a1a1a1`"])
def test_image_id_answers_are_compared_leniently(answer):
    assert check("answer_image_id", {"image": "nginx:latest"}, answer).passed


def test_image_id_wrong_answers_say_why():
    assert "trop court" in check("answer_image_id", {"image": "nginx"}, "a1a1").message
    assert "redis:7.0" in check("answer_image_id", {"image": "nginx"}, "b2b2b2b2b2b2").message
    assert "chiffres hexadécimaux" in check("answer_image_id", {"image": "nginx"}, "nginx").message
    assert "Donnez l'identifiant" in check("answer_image_id", {"image": "nginx"}, "   ").message
    assert "tirez-la" in check("answer_image_id", {"image": "httpd"}, "a1a1a1a1a1a1").message


def test_full_image_id_is_required_when_asked():
    assert check("answer_image_id", {"image": "nginx", "full": True}, "a1" * 32).passed
    verdict = check("answer_image_id", {"image": "nginx", "full": True}, "a1a1a1a1a1a1")
    assert not verdict.passed and "--no-trunc" in verdict.message


def step(created, text, size=0, *, empty=False, buildkit=True):
    return HistoryEntry(created=created, created_by=text, comment=BUILDKIT_STEP if buildkit else "", size=size, empty_layer=empty)


NODE = Image(
    id="sha256:" + "d5" * 32, tags=("node:18",), digests=("node@sha256:" + "d6" * 32,), layers=("base", "node"), size=300_000_000,
    history=(step(100, "", 74_000_000, buildkit=False), step(110, "/bin/sh -c apt-get install nodejs", 226_000_000, buildkit=False),
             step(111, '/bin/sh -c #(nop)  CMD ["node"]', empty=True, buildkit=False)),
)
OWN = (
    step(200, "WORKDIR /app"), step(200, "ENV NODE_ENV=production", empty=True),
    step(200, "COPY package.json package-lock.json /app/ # buildkit", 386), step(201, "RUN /bin/sh -c npm ci # buildkit", 2_600),
)


def built(*steps, tags=("mon-app:1.0",), **config):
    """An image BuildKit built FROM node:18 with these own steps (after OWN's first four unless told)."""
    layers = NODE.layers + tuple(f"own{i}" for i, s in enumerate(steps) if not s.empty_layer)
    size = NODE.size + sum(s.size for s in steps)
    return Image(id="sha256:" + f"{abs(hash(steps)):x}".rjust(64, "0")[:64], tags=tags, layers=layers, size=size, history=NODE.history + steps, **config)


REBUILT = built(*OWN, step(260, "COPY server.js /app/ # buildkit", 1_060), step(260, 'CMD ["node" "server.js"]', empty=True), cmd=("node", "server.js"))
# The RUN step's record was loaded by a second build: usage 2.
CACHE_USED = (BuildRecord("r-npm", "mount / from exec /bin/sh -c npm ci", created=201, last_used=260, usage_count=2),
              BuildRecord("r-pkg", "[3/5] COPY package.json package-lock.json /app/", created=200, last_used=201, usage_count=1))


def test_image_built_wants_dockerfile_steps_beyond_the_base():
    snapshot = Snapshot(images=(NODE, REBUILT))
    verdict = check("image_built", {"image": "mon-app:1.0", "base": "node:18", "cmd": ["node", "server.js"]}, snapshot=snapshot)
    assert verdict.passed and "4 couche(s) ajoutée(s)" in verdict.message
    # Without the base named, the image of the snapshot it starts with is its base.
    assert check("image_built", {"image": "mon-app:1.0"}, snapshot=snapshot).passed
    assert "vient d'un registre" in check("image_built", {"image": "nginx"}).message
    assert "docker build -t app:2" in check("image_built", {"image": "app:2"}).message
    # An old recorded image without history proves no build.
    assert not check("image_built", {"image": "app:1"}).passed


def test_image_built_refuses_docker_commit_a_retag_and_another_base():
    committed = built(*OWN, step(300, "sh -c echo x > /tmp/x", 3, buildkit=False), tags=("mon-app:1.0",))
    verdict = check("image_built", {"image": "mon-app:1.0", "base": "node:18"}, snapshot=Snapshot(images=(NODE, committed)))
    assert not verdict.passed and "docker commit" in verdict.message and "sh -c echo x > /tmp/x" in verdict.found
    retagged = Image(**{**NODE.__dict__, "tags": ("node:18", "mon-app:1.0")})
    verdict = check("image_built", {"image": "mon-app:1.0", "base": "node:18"}, snapshot=Snapshot(images=(retagged,)))
    assert not verdict.passed and "même image que node:18" in verdict.message
    verdict = check("image_built", {"image": "mon-app:1.0", "base": "busybox:1.35"}, snapshot=Snapshot(images=(NODE, REBUILT, BUSYBOX_135)))
    assert not verdict.passed and "pas construite sur busybox:1.35" in verdict.message and verdict.found == "node:18"


def test_image_built_judges_the_config_the_dockerfile_gives():
    app = built(*OWN, step(260, "COPY . /app/ # buildkit", 31_000_000), entrypoint=("node", "/app/bonjour.js"), cmd=("monde",), working_dir="/app")
    snapshot = Snapshot(images=(NODE, app))
    params = {"image": "mon-app:1.0", "base": "node:18"}
    assert check("image_built", {**params, "entrypoint": ["node", "bonjour.js"], "cmd": ["monde"]}, snapshot=snapshot).passed
    verdict = check("image_built", {**params, "entrypoint": ["node", "autre.js"]}, snapshot=snapshot)
    assert verdict.message == 'Le ENTRYPOINT de mon-app:1.0 est ["node", "/app/bonjour.js"], attendu : ["node", "autre.js"].'
    shell = built(*OWN, entrypoint=("/bin/sh", "-c", "node bonjour.js"))
    verdict = check("image_built", {**params, "entrypoint": ["node", "bonjour.js"]}, snapshot=Snapshot(images=(NODE, shell)))
    assert "forme shell" in verdict.message and "forme exec" in verdict.message
    verdict = check("image_built", {**params, "non_root": True}, snapshot=snapshot)
    assert not verdict.passed and verdict.found == "aucun USER (root par défaut)"
    for user, passed in (("root", False), ("0:0", False), ("nobody", True), ("1000:1000", True)):
        image = built(*OWN, user=user)
        assert check("image_built", {**params, "non_root": True}, snapshot=Snapshot(images=(NODE, image))).passed is passed, user
    verdict = check("image_built", {**params, "max_added_mb": 1}, snapshot=snapshot)
    assert not verdict.passed and "31,0 Mo" in verdict.message and ".dockerignore" in verdict.message and "COPY . /app/" in verdict.message
    assert check("image_built", {**params, "max_added_mb": 1}, snapshot=Snapshot(images=(NODE, REBUILT))).passed


def test_build_cache_reused_wants_the_steps_before_the_change_from_the_cache_and_the_rest_redone():
    params = {"image": "mon-app:1.0", "changed_step": "COPY server.js", "base": "node:18"}
    verdict = check("build_cache_reused", params, snapshot=Snapshot(images=(NODE, REBUILT), build_cache=CACHE_USED))
    assert verdict.passed and "repris 2 étape(s) du cache" in verdict.message
    # One build only (or --no-cache): the RUN step's record was never loaded again.
    once = tuple(BuildRecord(r.id, r.description, created=r.created, last_used=r.last_used, usage_count=1) for r in CACHE_USED)
    verdict = check("build_cache_reused", params, snapshot=Snapshot(images=(NODE, REBUILT), build_cache=once))
    assert not verdict.passed and "d'un seul coup" in verdict.message and "RUN /bin/sh -c npm ci (00:03:21)" in verdict.found
    # Rebuilt with nothing changed: COPY server.js came from the cache too.
    unchanged = built(*OWN, step(201, "COPY server.js /app/ # buildkit", 1_060))
    verdict = check("build_cache_reused", params, snapshot=Snapshot(images=(NODE, unchanged), build_cache=CACHE_USED))
    assert not verdict.passed and "viennent elles aussi du cache" in verdict.message
    assert "n'a pas d'étape « COPY index.html »" in check(
        "build_cache_reused", {**params, "changed_step": "COPY index.html"}, snapshot=Snapshot(images=(NODE, REBUILT), build_cache=CACHE_USED),
    ).message
    # WORKDIR alone before the change proves nothing: BuildKit reuses it even under --no-cache.
    verdict = check("build_cache_reused", {**params, "changed_step": "COPY package.json"}, snapshot=Snapshot(images=(NODE, REBUILT), build_cache=CACHE_USED))
    assert not verdict.passed and "aucune" in verdict.found
    assert "Aucune image mon-app:1.0" in check("build_cache_reused", params, snapshot=Snapshot(images=(NODE,))).message


def test_multi_stage_smaller_wants_a_copy_from_a_stage_and_a_smaller_image():
    small = Image(
        id="sha256:" + "5a" * 32, tags=("bonjour-web:1.0",), layers=BUSYBOX_135.layers + ("www",), size=4_100_000,
        history=BUSYBOX_135.history + (step(300, "COPY /app/public /www # buildkit", 2_000),),
    )
    staged = Image(**{**small.__dict__, "history": BUSYBOX_135.history + (step(300, "COPY --from=build /app/public /www # buildkit", 2_000),)})
    params = {"image": "bonjour-web:1.0", "than": "mon-app:1.0", "base": "busybox:1.35"}
    snapshot = Snapshot(images=(NODE, REBUILT, BUSYBOX_135, staged))
    verdict = check("multi_stage_smaller", params, snapshot=snapshot)
    assert verdict.passed and "4,1 Mo contre 300,0 Mo" in verdict.message
    # Docker 26 writes the step as `COPY /app/public /www`: its build cache record keeps the --from.
    record = BuildRecord("r-www", "[stage-1 2/2] COPY --from=build /app/public /www", created=300, last_used=300, usage_count=1)
    assert check("multi_stage_smaller", params, snapshot=Snapshot(images=(NODE, REBUILT, BUSYBOX_135, small), build_cache=(record,))).passed
    verdict = check("multi_stage_smaller", params, snapshot=Snapshot(images=(NODE, REBUILT, BUSYBOX_135, small)))
    assert not verdict.passed and "COPY --from" in verdict.message
    assert "Aucune image mon-app:1.0 à comparer" in check("multi_stage_smaller", params, snapshot=Snapshot(images=(BUSYBOX_135, staged))).message
    heavy = Image(**{**staged.__dict__, "size": 400_000_000})
    verdict = check("multi_stage_smaller", params, snapshot=Snapshot(images=(NODE, REBUILT, BUSYBOX_135, heavy)))
    assert not verdict.passed and verdict.found == "400,0 Mo"


def test_image_pushed_wants_the_registry_digest_of_that_repository():
    ref = "localhost:5000/outils/busybox:1.35"
    tagged = Image(**{**BUSYBOX_135.__dict__, "tags": ("busybox:1.35", ref), "digests": ("busybox@sha256:" + "e1" * 32,)})
    verdict = check("image_pushed", {"image": ref, "source": "busybox:1.35"}, snapshot=Snapshot(images=(tagged,)))
    assert not verdict.passed and "docker push localhost:5000/outils/busybox:1.35" in verdict.message
    pushed = Image(**{**tagged.__dict__, "digests": tagged.digests + ("localhost:5000/outils/busybox@sha256:" + "e1" * 32,)})
    assert check("image_pushed", {"image": ref}, snapshot=Snapshot(images=(pushed,))).passed
    verdict = check("image_pushed", {"image": ref, "source": "busybox:1.35"}, snapshot=Snapshot(images=(BUSYBOX_135,)))
    assert "docker tag busybox:1.35 localhost:5000/outils/busybox:1.35" in verdict.message and verdict.found == "busybox:1.35"


def test_pruning_checks_name_what_is_left_and_what_should_have_stayed():
    old = Container(id="3" * 64, name="ancien-1", image="busybox:1.35", image_id=BUSYBOX_135.id, status="exited", started_at="2026-12-01T10:00:00Z")
    kept = Container(id="4" * 64, name="journal", image="busybox:1.35", image_id=BUSYBOX_135.id, status="exited", started_at="2026-12-01T10:00:00Z")
    verdict = check("stopped_containers_removed", {"keep": ["journal"]}, snapshot=Snapshot(containers=(WEB, old, kept)))
    assert not verdict.passed and verdict.found == "ancien-1 (exited)"
    assert check("stopped_containers_removed", {"keep": ["journal", "web"]}, snapshot=Snapshot(containers=(WEB, kept))).passed
    verdict = check("stopped_containers_removed", {"keep": ["journal"]}, snapshot=Snapshot(containers=(WEB,)))
    assert not verdict.passed and "journal a été supprimé" in verdict.message
    dangling = Image(id="sha256:" + "dd" * 32, layers=("x",))
    verdict = check("dangling_images_removed", {"keep": ["busybox:1.35"]}, snapshot=Snapshot(images=(BUSYBOX_135, dangling)))
    assert not verdict.passed and verdict.found == "<none> dddddddddddd"
    assert check("dangling_images_removed", {"keep": ["busybox:1.35"]}, snapshot=Snapshot(images=(BUSYBOX_135,))).passed
    verdict = check("dangling_images_removed", {"keep": ["busybox:1.35", "nginx:1.22"]}, snapshot=Snapshot(images=(BUSYBOX_135,)))
    assert not verdict.passed and "nginx:1.22 a été supprimée" in verdict.message and "prune -a" in verdict.message


def test_the_image_count_answer_is_the_number_of_images_the_daemon_holds():
    assert check("answer_image_count", {}, " 4 ").passed
    assert "ne garde pas 3 images" in check("answer_image_count", {}, "3").message
    assert "n'est pas un nombre" in check("answer_image_count", {}, "quatre").message


def test_container_checks_tell_existing_running_and_exited_apart():
    assert check("container_running", {"name": "web", "image": "nginx:1.22"}).passed
    assert check("container_exited", {"name": "hello", "exit_code": 0}).passed
    assert "ne tourne pas (état : exited)" in check("container_running", {"name": "hello"}).message
    assert "n'est pas terminé" in check("container_exited", {"name": "web"}).message
    verdict = check("container_exited", {"name": "site-cache-1", "exit_code": 0})
    assert verdict.message == "Le conteneur site-cache-1 s'est terminé avec le code 1, attendu : 0."
    assert "Conteneurs présents : web, hello" in check("container_running", {"name": "db"}).message


def test_container_from_the_wrong_image_is_refused():
    verdict = check("container_running", {"name": "web", "image": "redis:7.0"})
    assert not verdict.passed and verdict.message == "Le conteneur web a été créé depuis nginx, pas depuis redis:7.0."


def test_the_container_ip_answer_must_be_an_address_the_container_has():
    assert check("answer_container_ip", {"name": "web"}, " 172.17.0.2 ").passed
    assert check("answer_container_ip", {"name": "web"}, "172.18.0.3").passed
    assert "n'est pas une adresse IP" in check("answer_container_ip", {"name": "web"}, "web").message
    assert "172.17.0.9 n'est pas l'adresse de web" in check("answer_container_ip", {"name": "web"}, "172.17.0.9").message
    assert "pas d'adresse IP" in check("answer_container_ip", {"name": "hello"}, "172.17.0.2").message


def test_port_published_checks_the_container_port_and_the_host_port_asked_for():
    assert check("port_published", {"name": "web", "container_port": 80}).passed
    assert check("port_published", {"name": "web", "container_port": 80, "host_port": 8080}).passed
    assert "attendu sur 9000" in check("port_published", {"name": "web", "container_port": 80, "host_port": 9000}).message
    assert "n'est pas publié" in check("port_published", {"name": "web", "container_port": 443}).message


def test_volume_and_mount_checks_read_type_source_destination_and_mode():
    assert check("volume_exists", {"name": "data"}).passed
    assert "Aucun volume nommé cache" in check("volume_exists", {"name": "cache"}).message
    assert check("container_mounts", {"name": "web", "destination": "/data", "volume": "data", "type": "volume"}).passed
    assert check("container_mounts", {"name": "web", "destination": "/etc/nginx/conf.d/", "type": "bind", "read_only": True}).passed
    assert check("container_mounts", {"name": "web", "destination": "/data", "read_only": False}).passed
    verdict = check("container_mounts", {"name": "web", "destination": "/srv"})
    assert verdict.message == "Le conteneur web n'a pas de montage sur /srv (montages : /data, /etc/nginx/conf.d)."
    assert "attendu : le volume logs" in check("container_mounts", {"name": "web", "destination": "/data", "volume": "logs"}).message
    assert "lecture-écriture, attendu : lecture seule" in check("container_mounts", {"name": "web", "destination": "/data", "read_only": True}).message
    assert "type volume, attendu : bind" in check("container_mounts", {"name": "web", "destination": "/data", "type": "bind"}).message


def test_a_file_in_a_volume_is_read_and_its_text_compared():
    assert check("volume_file_contains", {"volume": "data", "path": "notes.txt", "text": "bonjour"}).passed
    assert "ne contient pas « salut »" in check("volume_file_contains", {"volume": "data", "path": "notes.txt", "text": "salut"}).message
    assert "n'existe pas dans le volume" in check("volume_file_contains", {"volume": "data", "path": "autre.txt", "text": "x"}).message


def test_network_checks_list_the_networks_that_exist_when_one_is_missing():
    assert check("network_exists", {"name": "front"}).passed
    assert "Réseaux présents : bridge, front" in check("network_exists", {"name": "back"}).message
    assert check("container_connected", {"name": "web", "network": "front"}).passed
    assert "réseaux : bridge, front" in check("container_connected", {"name": "web", "network": "back"}).message


def test_compose_running_names_the_services_that_are_not_up():
    assert check("compose_running", {"project": "site", "services": ["web"]}).passed
    verdict = check("compose_running", {"project": "site", "services": ["web", "cache"]})
    assert not verdict.passed and "les conteneurs de cache existent mais sont arrêtés" in verdict.message
    assert verdict.found == "site : cache (exited), web (running)" and verdict.expected == "site : web, cache en marche"
    assert "aucun conteneur pour db" in check("compose_running", {"project": "site", "services": ["web", "db"]}).message


def test_compose_running_names_the_project_that_runs_the_services_under_another_name():
    verdict = check("compose_running", {"project": "autre-nom", "services": ["web", "cache"]})
    assert not verdict.passed and "le projet `site` fait tourner ces services : cache (exited), web (running)" in verdict.message
    assert "-p autre-nom" in verdict.message and verdict.found == "site : cache (exited), web (running)"
    nothing = check("compose_running", {"project": "site", "services": ["web"]}, snapshot=Snapshot())
    assert "Aucun conteneur du projet Compose site" in nothing.message and nothing.found == "aucun"


def test_check_params_are_validated_for_the_pack_loader():
    assert params_problems("image_present", {"image": "nginx"}) == []
    assert params_problems("image_present", {}) == ["missing param 'image'"]
    assert params_problems("image_present", {"image": "x", "tag": "y"}) == ["unknown param 'tag' (allowed: image)"]
    assert params_problems("image_here", {})[0].startswith("unknown check 'image_here'")


def test_every_registered_check_is_exercised_here():
    source = open(__file__, encoding="utf-8").read()
    assert [name for name in CHECKS if f'"{name}"' not in source] == []


BUSYBOX_135 = Image(id="sha256:" + "0f" * 32, tags=("busybox:1.35",), layers=("bb",))
HELLO_IMAGE = Image(id="sha256:" + "4e" * 32, tags=("hello-world:latest",), layers=("hw",))


def test_an_image_named_without_a_tag_matches_a_container_of_any_tag_of_that_repository():
    # The learner ran busybox:1.35; the task says "from the busybox image": no unrelated pull is needed.
    snapshot = Snapshot(images=(BUSYBOX_135,), containers=(HELLO,))
    assert check("container_exited", {"name": "hello", "image": "busybox", "exit_code": 0}, snapshot=snapshot).passed
    assert check("container_exited", {"name": "hello", "image": "busybox:1.35"}, snapshot=snapshot).passed
    refused = check("container_exited", {"name": "hello", "image": "busybox:1.36"}, snapshot=snapshot)
    assert not refused.passed and "pas depuis busybox:1.36" in refused.message
    assert not check("container_exited", {"name": "hello", "image": "nginx"}, snapshot=snapshot).passed


def test_a_container_made_from_an_image_id_counts_for_every_tag_of_that_image():
    retagged = Container(id="9" * 64, name="hello", image="sha256:" + "0f" * 32, image_id=BUSYBOX_135.id, status="exited", started_at="2026-12-01T10:00:00Z")
    snapshot = Snapshot(images=(BUSYBOX_135,), containers=(retagged,))
    assert check("container_exited", {"name": "hello", "image": "busybox"}, snapshot=snapshot).passed


def test_running_hello_world_is_needed_a_pull_alone_or_a_created_container_is_not_enough():
    pulled = Snapshot(images=(HELLO_IMAGE,))
    verdict = check("container_ran", {"image": "hello-world"}, snapshot=pulled)
    assert not verdict.passed and "il faut la lancer" in verdict.message
    created = Container(id="7" * 64, name="vide", image="hello-world", image_id=HELLO_IMAGE.id, status="created")
    verdict = check("container_ran", {"image": "hello-world"}, snapshot=Snapshot(images=(HELLO_IMAGE,), containers=(created,)))
    assert not verdict.passed and "jamais démarré" in verdict.message and verdict.found == "vide (créé, jamais démarré)"
    ran = Container(id="8" * 64, name="joyeux_turing", image="hello-world", image_id=HELLO_IMAGE.id, status="exited", started_at="2026-12-01T10:00:00.1Z")
    verdict = check("container_ran", {"image": "hello-world"}, snapshot=Snapshot(images=(HELLO_IMAGE,), containers=(created, ran)))
    assert verdict.passed and "joyeux_turing" in verdict.message


def test_an_image_retagged_under_the_name_asked_for_is_not_a_pull_of_it():
    # docker tag redis:7.0 nginx:1.22: the name is there, nginx's registry digest is not.
    retagged = Image(id=REDIS.id, tags=("redis:7.0", "nginx:1.22"), digests=REDIS.digests, layers=REDIS.layers)
    verdict = check("image_present", {"image": "nginx:1.22"}, snapshot=Snapshot(images=(retagged,)))
    assert not verdict.passed and "docker pull nginx:1.22" in verdict.message and "sans digest nginx" in verdict.found
    assert check("image_present", {"image": "redis:7.0"}, snapshot=Snapshot(images=(retagged,))).passed


def test_a_task_that_says_start_refuses_a_container_that_was_only_created():
    created = Container(id="6" * 64, name="lecteur", image="nginx:1.22", image_id=NGINX.id, status="created",
                        mounts=(Mount("volume", "donnees", "/data", True),))
    params = {"name": "lecteur", "destination": "/data", "volume": "donnees", "type": "volume", "started": True}
    verdict = check("container_mounts", params, snapshot=Snapshot(images=(NGINX,), containers=(created,)))
    assert not verdict.passed and "jamais été démarré" in verdict.message and "docker start lecteur" in verdict.message
    started = Container(**{**created.__dict__, "status": "running", "started_at": "2026-12-01T10:00:00Z"})
    assert check("container_mounts", params, snapshot=Snapshot(images=(NGINX,), containers=(started,))).passed
    # Without `started`, the mount alone is what is judged (as before).
    assert check("container_mounts", {**params, "started": False}, snapshot=Snapshot(images=(NGINX,), containers=(created,))).passed


# --- A container's life, published ports that answer, user networks, Compose for real --------------------

BUSYBOX = Image(id="sha256:" + "0f" * 32, tags=("busybox:1.35",), digests=("busybox@sha256:" + "d3" * 32,), layers=("bb",))


def life(**changes):
    base = {"id": "a" * 64, "name": "veilleur", "image": "nginx:1.22", "image_id": NGINX.id, "status": "running",
            "started_at": "2026-12-01T10:00:00.5Z"}
    return Container(**{**base, **changes})


def test_a_container_stopped_then_started_again_is_told_from_one_never_stopped_or_still_stopped():
    again = life(finished_at="2026-12-01T09:59:59.999999999Z", started_at="2026-12-01T10:00:00.1Z")
    assert check("container_restarted", {"name": "veilleur", "image": "nginx:1.22"}, snapshot=Snapshot(images=(NGINX,), containers=(again,))).passed
    never = check("container_restarted", {"name": "veilleur"}, snapshot=Snapshot(containers=(life(),)))
    assert not never.passed and "n'a jamais été arrêté" in never.message and never.found == "jamais arrêté"
    stopped = life(status="exited", finished_at="2026-12-01T10:00:02Z")
    verdict = check("container_restarted", {"name": "veilleur"}, snapshot=Snapshot(containers=(stopped,)))
    assert not verdict.passed and "docker start veilleur" in verdict.message and verdict.found == "exited"
    # Same second, the start's fraction later than the stop's: compared as times, not as text.
    close = life(finished_at="2026-12-01T10:00:00.9Z", started_at="2026-12-01T10:00:00.95Z")
    assert close.started_again and not life(finished_at="2026-12-01T10:00:00.95Z", started_at="2026-12-01T10:00:00.9Z").started_again


def test_container_absent_passes_once_removed_and_says_how_while_it_stays():
    assert check("container_absent", {"name": "jetable"}).passed
    running = check("container_absent", {"name": "web"})
    assert not running.passed and "docker rm -f web" in running.message and running.found == "web (running)"
    assert "arrêté n'est pas supprimé : docker rm hello" in check("container_absent", {"name": "hello"}).message


def test_restart_policy_names_the_policy_found_and_counts_the_restarts_asked_for():
    fragile = life(name="fragile", image="busybox:1.35", image_id=BUSYBOX.id, status="restarting", exit_code=1,
                   restart_policy="on-failure", restart_max_retries=5, restart_count=2)
    snapshot = Snapshot(images=(BUSYBOX,), containers=(fragile, life()))
    params = {"name": "fragile", "policy": ["on-failure", "always", "unless-stopped"], "min_restarts": 1, "image": "busybox"}
    verdict = check("restart_policy", params, snapshot=snapshot)
    assert verdict.passed and "relancé 2 fois" in verdict.message
    assert not check("restart_policy", {**params, "min_restarts": 3}, snapshot=snapshot).passed
    none = check("restart_policy", {"name": "veilleur", "policy": "unless-stopped"}, snapshot=snapshot)
    assert not none.passed and none.found == "no" and "docker update --restart" in none.message
    assert check("restart_policy", {"name": "veilleur", "policy": "no"}, snapshot=snapshot).passed


SERVEUR = life(name="serveur", networks={"mon-reseau": "172.20.0.2"})


def client(**changes):
    base = {"id": "c" * 64, "name": "client", "image": "busybox:1.35", "image_id": BUSYBOX.id, "status": "exited", "exit_code": 0,
            "networks": {"mon-reseau": ""}, "command": ("wget", "-qO-", "http://serveur/"), "finished_at": "2026-12-01T10:00:01Z"}
    return life(**{**base, **changes})


def reached(*containers, **params):
    return check("container_reached", {"name": "client", "target": "serveur", **params}, snapshot=Snapshot(images=(BUSYBOX,), containers=containers))


def test_a_client_that_reached_the_server_by_name_on_a_shared_network_passes():
    assert reached(SERVEUR, client(), network="mon-reseau", image="busybox").passed
    assert reached(SERVEUR, client(command=("sh", "-c", "ping -c 1 serveur.mon-reseau"))).passed
    assert reached(SERVEUR, client(command=("nslookup", "serveur"))).passed


def test_a_client_on_the_default_bridge_by_address_or_still_running_is_refused_with_why():
    bridge = reached(SERVEUR, client(networks={"bridge": ""}, exit_code=1))
    assert not bridge.passed and "Sur le pont par défaut, les noms des conteneurs ne sont pas résolus" in bridge.message
    by_address = reached(SERVEUR, client(command=("wget", "-qO-", "http://172.20.0.2/")))
    assert not by_address.passed and "ne nomme pas serveur" in by_address.message and by_address.found == "wget -qO- http://172.20.0.2/"
    assert "ne nomme pas" in reached(SERVEUR, client(command=("wget", "http://monserveur/"))).message
    failed = reached(SERVEUR, client(exit_code=1))
    assert not failed.passed and failed.found == "1" and "docker logs client" in failed.message
    assert "n'est pas terminé" in reached(SERVEUR, client(status="running")).message
    assert "sans --rm" in reached(SERVEUR).message
    assert "tous deux sur autre" in reached(SERVEUR, client(), network="autre").message


def test_port_answers_judges_the_binding_and_a_real_answer():
    web = life(name="web", ports=(Port(80, "tcp", 8080),))
    params = {"name": "web", "container_port": 80, "host_port": 8080, "text": "Welcome to nginx"}
    assert http_needed("port_answers", params) == [(8080, "/")]
    assert http_needed("port_answers", {**params, "path": "/sante"}) == [(8080, "/sante")]
    page = HttpAnswer(200, "<h1>Welcome to nginx!</h1>")
    verdict = check("port_answers", params, snapshot=Snapshot(containers=(web,), http={(8080, "/"): page}))
    assert verdict.passed and verdict.message == "http://localhost:8080/ répond 200 : le port 80 de web est publié sur 8080."
    silent = check("port_answers", params, snapshot=Snapshot(containers=(web,), http={(8080, "/"): None}))
    assert not silent.passed and "rien n'y répond en HTTP" in silent.message and silent.found == "aucune réponse"
    other = check("port_answers", params, snapshot=Snapshot(containers=(web,), http={(8080, "/"): HttpAnswer(200, "<p>Autre   page</p>")}))
    assert not other.passed and "ne contient pas « Welcome to nginx »" in other.message and other.found == "<p>Autre page</p>"
    missing = check("port_answers", params, snapshot=Snapshot(containers=(web,), http={(8080, "/"): HttpAnswer(404, "")}))
    assert missing.message == "http://localhost:8080/ répond 404, attendu : 200."
    unpublished = check("port_answers", {**params, "host_port": 9090}, snapshot=Snapshot(containers=(web,)))
    assert not unpublished.passed and "attendu sur 9090" in unpublished.message
    stopped = check("port_answers", params, snapshot=Snapshot(containers=(life(name="web", status="exited", ports=web.ports),)))
    assert not stopped.passed and "ne tourne pas" in stopped.message


def test_a_probe_in_a_lab_is_a_port_and_an_absolute_path_never_an_address():
    base = {"name": "web", "container_port": 80}
    assert params_problems("port_answers", {**base, "host_port": 8080, "path": "/sante"}) == []
    for port, path in [(0, "/"), (70000, "/"), (True, "/"), ("x", "/"), (8080, "drydock-registry:5000/"), (8080, "//drydock-registry/"),
                       (8080, "/@x y")]:
        problems = params_problems("port_answers", {**base, "host_port": port, "path": path})
        assert len(problems) == 1 and problems[0].startswith("cannot probe port"), (port, path, problems)


def compose(service, *, project="compteur", depends_on="", **changes):
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service}
    if depends_on:
        labels["com.docker.compose.depends_on"] = depends_on
    return life(id=service[0] * 64, name=f"{project}-{service}-1", labels=labels, **changes)


def test_compose_waits_healthy_reads_the_depends_on_label_and_the_dependencys_health():
    params = {"project": "compteur", "service": "web", "dependency": "cache"}
    web = compose("web", depends_on="cache:service_healthy:false")
    assert check("compose_waits_healthy", params, snapshot=Snapshot(containers=(web, compose("cache", health="healthy")))).passed
    started = Snapshot(containers=(compose("web", depends_on="cache:service_started:false"), compose("cache", health="healthy")))
    verdict = check("compose_waits_healthy", params, snapshot=started)
    assert not verdict.passed and "condition : service_started" in verdict.message and verdict.found == "service_started"
    unhealthy = check("compose_waits_healthy", params, snapshot=Snapshot(containers=(web, compose("cache", health="unhealthy"))))
    assert "unhealthy" in unhealthy.message and unhealthy.found == "unhealthy"
    assert "pas de healthcheck" in check("compose_waits_healthy", params, snapshot=Snapshot(containers=(web, compose("cache")))).message
    alone = check("compose_waits_healthy", params, snapshot=Snapshot(containers=(compose("web"), compose("cache", health="healthy"))))
    assert "web ne dépend pas de cache" in alone.message
    assert "Aucun conteneur du service cache" in check("compose_waits_healthy", params, snapshot=Snapshot(containers=(web,))).message


def test_compose_down_wants_the_containers_and_the_volumes_gone_after_a_build():
    built = Image(id="sha256:" + "e5" * 32, tags=("compteur-web:latest",), layers=("base", "app"))
    data = Volume("compteur_donnees", {"com.docker.compose.project": "compteur", "com.docker.compose.volume": "donnees"})
    params = {"project": "compteur", "image": "compteur-web"}
    assert check("compose_down", params, snapshot=Snapshot(images=(built,), volumes=(Volume("autre"),))).passed
    kept = check("compose_down", params, snapshot=Snapshot(images=(built,), volumes=(data,)))
    assert not kept.passed and "le volume compteur_donnees reste" in kept.message and "down -v" in kept.message
    stopped = check("compose_down", params, snapshot=Snapshot(images=(built,), containers=(compose("web", status="exited"),)))
    assert not stopped.passed and "arrêtés mais pas supprimés" in stopped.message and stopped.found == "web (exited)"
    never = check("compose_down", params, snapshot=Snapshot())
    assert not never.passed and "Aucune image compteur-web:latest" in never.message


def test_a_recorded_snapshot_without_the_new_fields_still_loads():
    from grader.snapshot import from_dict, to_dict

    data = to_dict(Snapshot(containers=(WEB,), http={(8080, "/"): HttpAnswer(200, "ok"), (8081, "/"): None}))
    assert from_dict(data).http == {(8080, "/"): HttpAnswer(200, "ok"), (8081, "/"): None}
    for key in ("finished_at", "restart_policy", "restart_max_retries", "restart_count", "health", "command"):
        del data["containers"][0][key]
    del data["http"]
    old = from_dict(data)
    assert old.containers[0] == WEB and old.containers[0].restart_policy == "no" and old.http == {}


def test_different_images_tells_two_versions_apart_and_refuses_one_image_under_two_names():
    # Fuller cases in tests/test_checks_versions.py.
    assert check("different_images", {"images": ["nginx:1.22", "redis:7.0"]}).passed
    assert not check("different_images", {"images": ["nginx:1.22", "nginx:latest"]}).passed
