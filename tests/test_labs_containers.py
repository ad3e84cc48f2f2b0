"""The container labs for real: each task done the intended way, one valid alternative and one wrong way.

Through the platform (sandbox started by the provisioning worker, Checks graded by
the grading worker), with the learner's commands typed in the sandbox.
"""

import pytest

from labs.models import Lab, Submission
from tests.test_sandboxes import alice, check, course, in_sandbox, no_sandbox_outlives_its_test, start, wait_ready  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PASSED, FAILED = Submission.Status.PASSED, Submission.Status.FAILED


def passes(client, lab, task, answer=""):
    verdict = check(client, lab, task, answer)
    assert verdict.status == PASSED, (task, verdict.status, verdict.message)
    return verdict


def fails(client, lab, task, answer=""):
    verdict = check(client, lab, task, answer)
    assert verdict.status == FAILED, (task, verdict.status, verdict.message)
    return verdict


def answers(sandbox, port, *, path="/"):
    """Wait until something answers on the sandbox's port (a server takes a moment to listen)."""
    in_sandbox(sandbox, f"for i in $(seq 100); do curl -s -o /dev/null localhost:{port}{path} && exit 0; sleep 0.1; done; exit 1")


def test_container_life_cycle_lab(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="cycle-de-vie-d-un-conteneur")
    sandbox = wait_ready(start(client, lab))

    # Run in the background. Wrong: only created. Alternative: create, then start. Intended: run -d.
    in_sandbox(sandbox, "docker create --name veilleur nginx:1.22")
    assert fails(client, lab, "en-arriere-plan").message == "Le conteneur veilleur existe mais ne tourne pas (état : created)."
    in_sandbox(sandbox, "docker start veilleur")
    passes(client, lab, "en-arriere-plan")
    in_sandbox(sandbox, "docker rm -f veilleur && docker run -d --name veilleur nginx:1.22")
    passes(client, lab, "en-arriere-plan")
    # logs and exec are not judged (they change nothing the daemon keeps), but they work as the instructions say.
    assert "Debian" in in_sandbox(sandbox, "docker logs veilleur 2>&1; docker exec veilleur cat /etc/os-release").output

    # Stop, then start. Wrong: never stopped, then only stopped. Intended: stop + start. Alternative: docker restart.
    assert "n'a jamais été arrêté" in fails(client, lab, "arreter-et-relancer").message
    in_sandbox(sandbox, "docker stop veilleur")
    stopped = fails(client, lab, "arreter-et-relancer")
    assert "ne tourne pas (état : exited) : relancez-le : docker start veilleur" in stopped.message
    in_sandbox(sandbox, "docker start veilleur")
    passes(client, lab, "arreter-et-relancer")
    in_sandbox(sandbox, "docker rm -f veilleur && docker run -d --name veilleur nginx:1.22 && docker restart veilleur")
    passes(client, lab, "arreter-et-relancer")

    # Restart policy. Wrong: none. Alternative: always. Intended: on-failure:5.
    restarted_once = "for i in $(seq 100); do [ $(docker inspect -f '{{.RestartCount}}' fragile) -ge 1 ] && exit 0; sleep 0.2; done; exit 1"
    in_sandbox(sandbox, "docker run -d --name fragile busybox:1.35 sh -c 'sleep 1; exit 1'")
    none = fails(client, lab, "politique-de-redemarrage")
    assert none.found == "no" and "docker update --restart" in none.message
    in_sandbox(sandbox, f"docker rm -f fragile && docker run -d --name fragile --restart always busybox:1.35 sh -c 'exit 1' && {restarted_once}")
    passes(client, lab, "politique-de-redemarrage")
    in_sandbox(sandbox, f"docker rm -f fragile && docker run -d --name fragile --restart on-failure:5 busybox:1.35 sh -c 'sleep 1; exit 1' && {restarted_once}")
    assert "Docker l'a déjà relancé" in passes(client, lab, "politique-de-redemarrage").message

    # Remove. Wrong: only stopped. Alternative: stop, then rm. Intended: rm -f.
    in_sandbox(sandbox, "docker stop -t 1 jetable")
    assert "existe encore (état : exited) ; arrêté n'est pas supprimé : docker rm jetable" in fails(client, lab, "supprimer-jetable").message
    in_sandbox(sandbox, "docker rm jetable")
    passes(client, lab, "supprimer-jetable")
    in_sandbox(sandbox, "docker run -d --name jetable busybox:1.35 sleep 3600 && docker rm -f jetable")
    passes(client, lab, "supprimer-jetable")


def test_publish_a_port_lab_judges_the_binding_and_a_real_answer(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="publier-un-port")
    sandbox = wait_ready(start(client, lab))

    # Wrong: the ports the other way round; then a port published with nothing answering behind it.
    in_sandbox(sandbox, "docker run -d --name web -p 8080:8080 nginx:1.22")
    reversed_ = fails(client, lab, "publier-web")
    assert reversed_.message == "Le port 80 de web n'est pas publié (publiés : 8080->8080). Utilisez -p."
    in_sandbox(sandbox, "docker rm -f web && docker run -d --name web -p 8080:80 busybox:1.35 sleep 600")
    silent = fails(client, lab, "publier-web")
    assert "rien n'y répond en HTTP" in silent.message and silent.found == "aucune réponse"
    # Intended: -p 8080:80, reached with curl. Alternative: the long form of --publish.
    in_sandbox(sandbox, "docker rm -f web && docker run -d --name web -p 8080:80 nginx:1.22")
    answers(sandbox, 8080)
    assert "nginx" in in_sandbox(sandbox, "curl -s http://localhost:8080/").output
    assert passes(client, lab, "publier-web").message == "http://localhost:8080/ répond 200 : le port 80 de web est publié sur 8080."
    in_sandbox(sandbox, "docker rm -f web && docker run -d --name web --publish published=8080,target=80 nginx:1.22")
    answers(sandbox, 8080)
    passes(client, lab, "publier-web")

    # Wrong: nginx's own page, not the site's. Intended: -v. Alternative: --mount of the folder, read-only.
    in_sandbox(sandbox, "docker run -d --name site -p 8081:80 nginx:1.22")
    answers(sandbox, 8081)
    assert "ne contient pas « Drydock »" in fails(client, lab, "servir-sa-page").message
    in_sandbox(sandbox, "docker rm -f site && docker run -d --name site -p 8081:80 -v /root/site:/usr/share/nginx/html:ro nginx:1.22")
    answers(sandbox, 8081)
    passes(client, lab, "servir-sa-page")
    in_sandbox(sandbox, "docker rm -f site && docker run -d --name site -p 8081:80 --mount type=bind,src=/root/site,dst=/usr/share/nginx/html,readonly nginx:1.22")
    answers(sandbox, 8081)
    passes(client, lab, "servir-sa-page")

    # Wrong: --expose declares, publishes nothing. Intended: -P. Alternative: -p with the container port only.
    in_sandbox(sandbox, "docker run -d --name auto --expose 80 nginx:1.22")
    assert "n'est pas publié" in fails(client, lab, "port-choisi-par-docker").message
    in_sandbox(sandbox, "docker rm -f auto && docker run -d --name auto -P nginx:1.22")
    chosen = in_sandbox(sandbox, "docker port auto 80").output
    assert chosen.strip() and "0.0.0.0:" in chosen, chosen
    passes(client, lab, "port-choisi-par-docker")
    in_sandbox(sandbox, "docker rm -f auto && docker run -d --name auto -p 80 nginx:1.22")
    passes(client, lab, "port-choisi-par-docker")


def test_user_defined_networks_lab_reaches_a_server_by_name(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="reseaux-definis-par-l-utilisateur")
    sandbox = wait_ready(start(client, lab))

    # Wrong: another name. Intended: network create. Alternative: with its driver and subnet spelled out.
    in_sandbox(sandbox, "docker network create mon_reseau")
    assert "Réseaux présents : bridge, host, mon_reseau, none" in fails(client, lab, "creer-le-reseau").message
    in_sandbox(sandbox, "docker network create --driver bridge --subnet 10.50.0.0/24 mon-reseau")
    passes(client, lab, "creer-le-reseau")
    in_sandbox(sandbox, "docker network rm mon-reseau mon_reseau && docker network create mon-reseau")
    passes(client, lab, "creer-le-reseau")

    # Wrong: on the default bridge. Alternative: connected afterwards. Intended: --network.
    in_sandbox(sandbox, "docker run -d --name serveur nginx:1.22")
    assert fails(client, lab, "brancher-le-serveur").message == "serveur n'est pas connecté à mon-reseau (réseaux : bridge)."
    in_sandbox(sandbox, "docker network connect mon-reseau serveur")
    passes(client, lab, "brancher-le-serveur")
    in_sandbox(sandbox, "docker rm -f serveur && docker run -d --name serveur --network mon-reseau nginx:1.22")
    passes(client, lab, "brancher-le-serveur")

    # Wrong: a client on the default bridge (no names there), then one that uses the address.
    in_sandbox(sandbox, "docker run --name client busybox:1.35 wget -qO- http://serveur/", ok=False)
    assert "Sur le pont par défaut, les noms des conteneurs ne sont pas résolus" in fails(client, lab, "joindre-par-le-nom").message
    address = in_sandbox(sandbox, "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' serveur").output.strip()
    in_sandbox(sandbox, f"docker rm client && sleep 1 && docker run --name client --network mon-reseau busybox:1.35 wget -qO- http://{address}/")
    assert "ne nomme pas serveur" in fails(client, lab, "joindre-par-le-nom").message
    # Intended: wget by name. Alternative: created, connected to the network, then started.
    in_sandbox(sandbox, "docker rm client && docker run --name client --network mon-reseau busybox:1.35 wget -qO- http://serveur/")
    passes(client, lab, "joindre-par-le-nom")
    in_sandbox(sandbox, "docker rm client && docker create --name client busybox:1.35 wget -q -O /dev/null serveur:80"
                        " && docker network connect mon-reseau client && docker start -a client")
    passes(client, lab, "joindre-par-le-nom")


INTENDED_COMPOSE = """services:
  web:
    build: .
    ports:
      - "8000:3000"
    environment:
      REDIS_HOST: cache
    depends_on:
      cache:
        condition: service_healthy
  cache:
    image: redis:7.0
    volumes:
      - donnees:/data
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 2s
      timeout: 3s
      retries: 10
volumes:
  donnees:
"""
# Wrong twice: web waits only for cache to start, and has no REDIS_HOST.
WRONG_COMPOSE = INTENDED_COMPOSE.replace("    environment:\n      REDIS_HOST: cache\n", "").replace(
    "    depends_on:\n      cache:\n        condition: service_healthy\n", "    depends_on:\n      - cache\n")
# Other spellings of the same: environment as a list, the long form of ports, a shell healthcheck.
ALTERNATIVE_COMPOSE = INTENDED_COMPOSE.replace("      REDIS_HOST: cache\n", "      - REDIS_HOST=cache\n").replace(
    '      - "8000:3000"\n', "      - target: 3000\n        published: 8000\n").replace(
    '      test: ["CMD", "redis-cli", "ping"]\n', "      test: redis-cli ping | grep -q PONG\n")


def write_compose(sandbox, text):
    in_sandbox(sandbox, f"cat > /root/compteur/compose.yaml <<'FIN'\n{text}FIN")


def test_compose_for_real_lab_builds_waits_for_a_healthy_database_and_goes_down_with_its_volumes(client, alice, course, celery_worker):
    client.force_login(alice)
    lab = Lab.objects.get(slug="compose-pour-de-vrai")
    sandbox = wait_ready(start(client, lab), timeout=120)
    compose = "cd /root/compteur && docker compose"
    assert "Aucun conteneur du projet Compose compteur" in fails(client, lab, "demarrer-le-compteur").message

    # Wrong: the project under another name.
    write_compose(sandbox, WRONG_COMPOSE)
    in_sandbox(sandbox, f"{compose} -p autre up -d --build 2>&1")
    other = fails(client, lab, "demarrer-le-compteur")
    assert "le projet `autre` fait tourner ces services" in other.message and other.found.startswith("autre : cache (running), web (")
    in_sandbox(sandbox, f"{compose} -p autre down -v 2>&1")
    # Wrong: depends_on without a condition, and no environment for web.
    in_sandbox(sandbox, f"{compose} up -d --build 2>&1")
    passes(client, lab, "demarrer-le-compteur")
    assert fails(client, lab, "attendre-la-base").found == "service_started"
    answers(sandbox, 8000)
    assert fails(client, lab, "compter-les-visites").message == "http://localhost:8000/ répond 500, attendu : 200."

    # Intended: the compose.yaml of the instructions, up, curl, logs.
    write_compose(sandbox, INTENDED_COMPOSE)
    in_sandbox(sandbox, f"{compose} up -d --build 2>&1")
    passes(client, lab, "demarrer-le-compteur")
    passes(client, lab, "attendre-la-base")
    answers(sandbox, 8000)
    assert "Visites : " in in_sandbox(sandbox, "curl -s http://localhost:8000/").output
    passes(client, lab, "compter-les-visites")
    assert "visite n°" in in_sandbox(sandbox, f"{compose} logs web 2>&1").output

    # Down. Wrong: stop; then down without -v. Intended: down -v.
    in_sandbox(sandbox, f"{compose} stop 2>&1")
    assert "arrêtés mais pas supprimés" in fails(client, lab, "tout-supprimer").message
    in_sandbox(sandbox, f"{compose} down 2>&1")
    kept = fails(client, lab, "tout-supprimer")
    assert "le volume compteur_donnees reste" in kept.message and kept.found == "compteur_donnees"
    in_sandbox(sandbox, f"{compose} up -d 2>&1 && {compose} down -v 2>&1")
    passes(client, lab, "tout-supprimer")

    # Alternatives: other spellings of the file, built then started from another folder with -f, down --volumes.
    write_compose(sandbox, ALTERNATIVE_COMPOSE)
    elsewhere = "cd / && docker compose -f /root/compteur/compose.yaml"
    in_sandbox(sandbox, f"{elsewhere} build 2>&1 && {elsewhere} up -d 2>&1")
    passes(client, lab, "demarrer-le-compteur")
    passes(client, lab, "attendre-la-base")
    answers(sandbox, 8000)
    passes(client, lab, "compter-les-visites")
    in_sandbox(sandbox, f"{elsewhere} down --volumes --remove-orphans 2>&1")
    passes(client, lab, "tout-supprimer")
