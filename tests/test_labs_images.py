"""The labs of images, for real: each task done the intended way, another valid way and a wrong way.

Through the platform (Celery worker, Redis, the engine and nested Docker 26), with the helpers of
tests/test_sandboxes.py.
"""

import pytest

from labs.models import Lab, Submission
from tests.test_sandboxes import alice, check, course, in_sandbox, no_sandbox_outlives_its_test, start, wait_ready  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSED, FAILED = Submission.Status.PASSED, Submission.Status.FAILED


def passes(client, lab, task):
    verdict = check(client, lab, task)
    assert verdict.status == PASSED, verdict.message
    return verdict


def fails(client, lab, task, *, saying):
    verdict = check(client, lab, task)
    assert verdict.status == FAILED and saying in verdict.message + verdict.found, (verdict.status, verdict.message, verdict.found)
    return verdict


def lab_sandbox(client, user, slug):
    client.force_login(user)
    lab = Lab.objects.get(slug=slug)
    return lab, wait_ready(start(client, lab), timeout=180)


APP = "cd /root/node-app && "


def test_cache_lab_rebuild_after_prune_and_with_buildx_and_not_without_a_rebuild_or_with_no_cache(client, alice, course, celery_worker):
    lab, sandbox = lab_sandbox(client, alice, "construire-avec-le-cache")
    # Wrong: a commit of a container is not a build.
    in_sandbox(sandbox, "docker run --name fait-main node:18 sh -c 'mkdir /app && echo x > /app/x' && docker commit fait-main mon-app:1.0 >/dev/null")
    fails(client, lab, "construire", saying="docker commit")
    in_sandbox(sandbox, APP + "docker build -t mon-app:1.0 . 2>&1")
    passes(client, lab, "construire")
    # Wrong: no rebuild.
    fails(client, lab, "reconstruire", saying="d'un seul coup")
    # Wrong: a rebuild with nothing changed gives the same image again (BuildKit loads only its last step).
    in_sandbox(sandbox, APP + "sleep 1 && docker build -t mon-app:1.0 . 2>&1")
    fails(client, lab, "reconstruire", saying="d'un seul coup")
    # Intended: server.js changed, rebuilt; the old image is pruned.
    in_sandbox(sandbox, APP + "sleep 1 && sed -i 's/Bonjour depuis Drydock/Salut depuis Drydock/' server.js && docker build -t mon-app:1.0 . 2>&1")
    in_sandbox(sandbox, "docker image prune -f")
    assert "repris 2 étape(s) du cache" in passes(client, lab, "reconstruire").message
    # Wrong: --no-cache, even after prune.
    in_sandbox(sandbox, APP + "sleep 1 && sed -i 's/Salut depuis/Coucou depuis/' server.js && docker build --no-cache -t mon-app:1.0 . 2>&1 && docker image prune -f")
    fails(client, lab, "reconstruire", saying="--no-cache")
    # Valid alternative: docker buildx build.
    in_sandbox(sandbox, APP + "sleep 1 && sed -i 's/Coucou depuis/Hello depuis/' server.js && docker buildx build -t mon-app:1.0 . 2>&1 && docker image prune -f")
    passes(client, lab, "reconstruire")


BONJOUR = "cd /root/bonjour && "
DOCKERFILE = """cat > Dockerfile <<'FIN'
FROM node:18
WORKDIR /app
COPY . .
USER nobody
ENTRYPOINT ["node", "bonjour.js"]
CMD ["monde"]
FIN
"""
WEB = """cat > Dockerfile.web <<'FIN'
FROM node:18 AS construction
WORKDIR /app
COPY construire.js .
RUN node construire.js

FROM busybox:1.35
COPY --from=construction /app/public /www
USER nobody
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
FIN
"""


def test_dockerfile_lab_entrypoint_dockerignore_user_and_multi_stage(client, alice, course, celery_worker):
    lab, sandbox = lab_sandbox(client, alice, "ecrire-un-dockerfile")
    # Wrong: shell form, no .dockerignore, root.
    in_sandbox(sandbox, BONJOUR + "printf 'FROM node:18\\nWORKDIR /app\\nCOPY . .\\nENTRYPOINT node bonjour.js\\n' > Dockerfile && docker build -q -t bonjour:1.0 .")
    fails(client, lab, "entrypoint-et-cmd", saying="forme shell")
    fails(client, lab, "dockerignore", saying="node_modules")
    fails(client, lab, "utilisateur-non-root", saying="root")
    # Intended.
    in_sandbox(sandbox, BONJOUR + DOCKERFILE + "printf 'node_modules\\n.env\\nDockerfile*\\n' > .dockerignore && docker build -q -t bonjour:1.0 .")
    assert in_sandbox(sandbox, "docker run --rm bonjour:1.0 Alice").output.strip() == "Bonjour, Alice !"
    for task in ("entrypoint-et-cmd", "dockerignore", "utilisateur-non-root"):
        passes(client, lab, task)
    # Valid alternatives: the script's absolute path, only the needed files copied, a user of one's own.
    in_sandbox(sandbox, BONJOUR + "rm .dockerignore && printf 'FROM node:18\\nRUN useradd --uid 1001 appli\\nWORKDIR /app\\nCOPY bonjour.js package.json ./\\nUSER appli\\n"
               "ENTRYPOINT [\"node\", \"/app/bonjour.js\"]\\nCMD [\"monde\"]\\n' > Dockerfile && docker build -q -t bonjour:1.0 .")
    for task in ("entrypoint-et-cmd", "dockerignore", "utilisateur-non-root"):
        passes(client, lab, task)
    # Multi-stage. Wrong: one stage on busybox with the file copied by hand has no COPY --from.
    in_sandbox(sandbox, BONJOUR + "mkdir -p public && echo '<h1>Bonjour</h1>' > public/index.html && "
               "printf 'FROM busybox:1.35\\nCOPY public /www\\n' > Dockerfile.faux && docker build -q -f Dockerfile.faux -t bonjour-web:1.0 .")
    fails(client, lab, "multi-etapes", saying="COPY --from")
    in_sandbox(sandbox, BONJOUR + WEB + "docker build -q -f Dockerfile.web -t bonjour-web:1.0 .")
    assert "contre 300" in passes(client, lab, "multi-etapes").message
    # Valid alternative: the stage named by its number, with buildx.
    in_sandbox(sandbox, BONJOUR + "sed -i 's/--from=construction/--from=0/' Dockerfile.web && docker buildx build -q -f Dockerfile.web -t bonjour-web:1.0 .")
    passes(client, lab, "multi-etapes")


REF = "localhost:5000/outils/busybox:1.35"


def test_push_lab_runs_a_registry_pushes_removes_and_pulls_back(client, alice, course, celery_worker):
    lab, sandbox = lab_sandbox(client, alice, "pousser-vers-un-registre")
    # Wrong: a registry without its port published.
    in_sandbox(sandbox, "docker run -d --name registre registry:2")
    fails(client, lab, "lancer-le-registre", saying="n'est pas publié")
    # Valid alternative: published on the loopback only.
    in_sandbox(sandbox, "docker rm -f registre && docker run -d -p 127.0.0.1:5000:5000 --name registre registry:2")
    passes(client, lab, "lancer-le-registre")
    # Intended.
    in_sandbox(sandbox, "docker rm -f registre && docker run -d -p 5000:5000 --name registre registry:2 && sleep 1")
    passes(client, lab, "lancer-le-registre")
    fails(client, lab, "supprimer-les-copies-locales", saying="encore présente")
    # Wrong: tagged, not pushed.
    in_sandbox(sandbox, f"docker tag busybox:1.35 {REF}")
    fails(client, lab, "pousser", saying=f"docker push {REF}")
    in_sandbox(sandbox, f"docker push {REF}")
    passes(client, lab, "pousser")
    # Wrong: only one of its names removed, the image stays on disk.
    in_sandbox(sandbox, f"docker rmi {REF}")
    fails(client, lab, "supprimer-les-copies-locales", saying="busybox:1.35")
    # Valid alternative: docker image rm.
    in_sandbox(sandbox, "docker image rm busybox:1.35")
    passes(client, lab, "supprimer-les-copies-locales")
    # Wrong: the course's busybox retagged is not a pull from the lab's registry.
    in_sandbox(sandbox, f"docker pull -q busybox:1.35 && docker tag busybox:1.35 {REF}")
    fails(client, lab, "retirer-du-registre", saying="docker pull")
    in_sandbox(sandbox, f"docker rmi busybox:1.35 {REF} && docker pull {REF}")
    passes(client, lab, "retirer-du-registre")


def test_cleanup_lab_counts_images_prunes_and_keeps_what_is_named(client, alice, course, celery_worker):
    lab, sandbox = lab_sandbox(client, alice, "faire-le-menage")
    total = in_sandbox(sandbox, "docker system df --format '{{.Type}} {{.TotalCount}}'").output
    count = next(line.split()[-1] for line in total.splitlines() if line.startswith("Images"))
    assert check(client, lab, "mesurer", "2").status == FAILED
    assert check(client, lab, "mesurer", f" {count} ").status == PASSED
    # Wrong: a plain prune removes journal too.
    fails(client, lab, "conteneurs-arretes", saying="ancien-1")
    in_sandbox(sandbox, "docker container prune -f --filter label!=garder=oui")
    passes(client, lab, "conteneurs-arretes")
    # Wrong: prune -a removes essai:latest, which no container uses.
    fails(client, lab, "images-pendantes", saying="<none>")
    in_sandbox(sandbox, "docker image prune -f")
    passes(client, lab, "images-pendantes")
    fails(client, lab, "supprimer-vieux-site", saying="docker rmi vieux-site:0.9")
    in_sandbox(sandbox, "docker rmi vieux-site", ok=False)  # wrong: no tag means vieux-site:latest
    fails(client, lab, "supprimer-vieux-site", saying="encore présente")
    in_sandbox(sandbox, "docker image rm vieux-site:0.9")
    passes(client, lab, "supprimer-vieux-site")
    in_sandbox(sandbox, "docker image prune -a -f")
    fails(client, lab, "images-pendantes", saying="essai:latest a été supprimée")
    in_sandbox(sandbox, "docker container prune -f")
    fails(client, lab, "conteneurs-arretes", saying="journal a été supprimé")


def test_cleanup_lab_accepts_removing_the_stopped_containers_one_by_one(client, alice, course, celery_worker):
    lab, sandbox = lab_sandbox(client, alice, "faire-le-menage")
    in_sandbox(sandbox, "docker rm ancien-1 ancien-2 jamais-lance && docker rmi $(docker images -q -f dangling=true)")
    passes(client, lab, "conteneurs-arretes")
    passes(client, lab, "images-pendantes")
