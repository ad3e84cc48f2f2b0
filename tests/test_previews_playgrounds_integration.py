"""Web previews and playgrounds for real: sandboxes on the Docker engine, nginx:1.22 from the course registry."""

from pathlib import Path

import pytest
import redis
from django.contrib.auth.models import User
from django.urls import reverse

from grader import disks, engine
from grader.preview import PREVIEW_ANSWER_LIMIT, PREVIEW_SECONDS
from labs import playgrounds, queue, sandboxes
from labs.models import Sandbox
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def no_queue(monkeypatch):
    """The tasks a workflow queues are run by the test itself (no worker runs here)."""
    queued = []
    monkeypatch.setattr(queue, "after_commit", lambda name, *args, host=None, **options: queued.append((name, *args)))
    return queued


def run_in(sandbox, script, timeout=120):
    result = engine.default().exec_in_sandbox(sandbox.container_name, script, timeout=timeout)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def nginx_sandbox(shipped_course, learner, ready_sandbox_for, no_queue):
    sandbox = ready_sandbox_for(learner)
    run_in(sandbox, "docker run -d --name web -p 8080:80 nginx:1.22 >/dev/null && "
                    "for i in $(seq 100); do curl -sf localhost:8080/ >/dev/null && exit 0; sleep 0.1; done; exit 1")
    return sandbox


def preview_link(client, sandbox, port=8080):
    response = client.get(reverse("labs:preview_open", args=[sandbox.pk, port]))
    assert response.status_code == 302, response.content
    return response["Location"]


def test_the_owner_gets_nginxs_page_through_the_preview_and_nobody_else_does(nginx_sandbox, learner_client, client):
    ports = learner_client.get(reverse("labs:sandbox_ports", args=[nginx_sandbox.pk]), HTTP_ACCEPT="application/json").json()["ports"]
    assert [(p["port"], p["container_port"], p["container"]) for p in ports] == [(8080, 80, "web")]
    link = preview_link(learner_client, nginx_sandbox)
    page = learner_client.get(link)
    assert page.status_code == 200 and b"Welcome to nginx!" in page.content and page["Content-Type"].startswith("text/html")
    assert page["Content-Security-Policy"].startswith("sandbox") and not page.cookies
    User.objects.create_user("mallory", "m@example.com", "pw-mallory-12345")
    client.login(username="mallory", password="pw-mallory-12345")
    assert client.get(reverse("labs:preview_open", args=[nginx_sandbox.pk, 8080])).status_code == 404
    assert client.get(link).status_code == 404


def test_preview_requests_past_the_minutes_limit_are_counted_in_redis_and_refused_with_a_429(nginx_sandbox, learner_client, settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"drydock:preview-requests:{nginx_sandbox.owner_id}"
    client.delete(key)  # owners are numbered from 1 in every test database: an earlier test's count is not this one's
    settings.PREVIEW_REQUESTS_PER_MINUTE = 2
    try:
        link = preview_link(learner_client, nginx_sandbox)
        assert learner_client.get(link).status_code == 200
        refused = learner_client.get(link)
        assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
        assert client.zcard(key) == 2 and 0 < client.ttl(key) <= 61
    finally:
        client.delete(key)
        client.close()


def test_a_port_not_published_is_refused_and_a_port_where_nothing_listens_says_so(nginx_sandbox, learner_client):
    # Listening in the sandbox but not published by a container: not offered.
    run_in(nginx_sandbox, "(busybox httpd -p 9090 -h /tmp 2>/dev/null || true)")
    assert learner_client.get(reverse("labs:preview_open", args=[nginx_sandbox.pk, 9090])).status_code == 404
    run_in(nginx_sandbox, "docker run -d --name muet -p 8081:80 busybox:1.35 sleep 300 >/dev/null")
    page = learner_client.get(preview_link(learner_client, nginx_sandbox, 8081))
    assert page.status_code == 502 and "8081" in page.text


def test_a_server_that_takes_the_connection_and_never_answers_is_given_up_on_and_the_learner_told(nginx_sandbox, learner_client):
    # nc accepts and reads, and has nothing to write: the preview's curl gives up after PREVIEW_SECONDS.
    run_in(nginx_sandbox, "docker run -d --name lent -p 8082:80 busybox:1.35 sh -c 'sleep 600 | nc -l -p 80' >/dev/null && "
                          "for i in $(seq 100); do docker exec lent netstat -ltn | grep -q ':80 ' && exit 0; sleep 0.1; done; exit 1")
    page = learner_client.get(preview_link(learner_client, nginx_sandbox, 8082))
    assert page.status_code == 502 and "8082" in page.text and f"{PREVIEW_SECONDS} s" in page.text


def test_a_page_whose_server_stalls_after_its_first_bytes_is_shown_as_cut(nginx_sandbox, learner_client):
    # Headers and a first word, then silence: curl ends at its time limit, its output as clean as a whole page's.
    answer = "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 1000\\r\\n\\r\\nbonjour"
    run_in(nginx_sandbox, f"docker run -d --name hesite -p 8083:80 busybox:1.35 sh -c '{{ printf \"{answer}\"; sleep 600; }} | nc -l -p 80' "
                          ">/dev/null && for i in $(seq 100); do docker exec hesite netstat -ltn | grep -q ':80 ' && exit 0; sleep 0.1; done; exit 1")
    page = learner_client.get(preview_link(learner_client, nginx_sandbox, 8083))
    assert page.status_code == 200 and page.content.startswith(b"bonjour")
    assert page["X-Drydock-Preview"] == "truncated"


def test_path_and_query_reach_the_learners_server_and_a_huge_page_is_cut(nginx_sandbox, learner_client):
    run_in(nginx_sandbox, "docker exec web sh -c 'mkdir -p /usr/share/nginx/html/d && echo bonjour > /usr/share/nginx/html/d/a.txt && "
                          "head -c 3000000 /dev/zero | tr \"\\0\" x > /usr/share/nginx/html/big.html'")
    link = preview_link(learner_client, nginx_sandbox)
    small = learner_client.get(link + "d/a.txt?x=1&y=%C3%A9")
    assert small.status_code == 200 and small.content == b"bonjour\n"
    # nginx redirects /d to /d/: the redirect stays inside the preview.
    moved = learner_client.get(link + "d")
    assert moved.status_code == 301 and moved["Location"].startswith(link) and moved["Location"].endswith("/d/")
    big = learner_client.get(link + "big.html")
    assert big.status_code == 200 and big["X-Drydock-Preview"] == "truncated"
    assert PREVIEW_ANSWER_LIMIT - 1024 < len(big.content) < PREVIEW_ANSWER_LIMIT + 1024


def test_no_request_reaches_another_host(nginx_sandbox, learner_client):
    link = preview_link(learner_client, nginx_sandbox)
    for tail in ["/drydock-registry:5000/v2/_catalog", "@drydock-registry:5000/v2/_catalog", "%2F%2Fdrydock-registry:5000/v2/_catalog",
                 "..%2F..%2Fv2/_catalog", "x?u=http://drydock-registry:5000/v2/_catalog#frag"]:
        answer = learner_client.get(link + tail)
        # Whatever the path says, nginx in the sandbox answers (404), never the registry (its catalog is JSON).
        assert answer.status_code == 404 and b"nginx" in answer.content and b"repositories" not in answer.content, tail


@pytest.fixture
def playground_root(settings, tmp_path):
    settings.PLAYGROUND_DISK_ROOT = tmp_path / "playgrounds"
    yield settings.PLAYGROUND_DISK_ROOT


def start_playground(ground):
    sandbox = playgrounds.start(ground)
    ready = sandboxes.provision(sandbox.pk, engine=engine.default())
    assert ready.status == Sandbox.Status.READY, (ready.failure, ready.failure_detail)
    return ready


def stop_playground(ground, sandbox):
    playgrounds.stop(ground)
    sandboxes.remove_container(sandbox.pk, engine=engine.default())


def test_files_in_root_and_a_pulled_image_survive_a_stop_and_a_start_until_start_fresh(learner, playground_root, no_queue):
    ground = playgrounds.playground_for(learner)
    first = start_playground(ground)
    try:
        run_in(first, "echo 'mes notes' > /root/notes.txt && docker pull -q nginx:1.22 >/dev/null && docker volume create garde >/dev/null")
        # What the learner leaves at the daemon's marks on the kept disk (a folder, a FIFO) never stops the next start.
        run_in(first, "cd /run/drydock && rm -f network-isolated daemon-started && mkdir -p network-isolated/x daemon-listening && mkfifo daemon-started")
        stop_playground(ground, first)
        assert Path(ground.disk_path).is_file()
        second = start_playground(ground)
        assert run_in(second, "cat /root/notes.txt") == "mes notes\n"
        assert "nginx:1.22" in run_in(second, "docker image ls --format '{{.Repository}}:{{.Tag}}'")
        assert "garde" in run_in(second, "docker volume ls -q")
        old_disk = ground.disk_path
        playgrounds.start_fresh(ground)
        sandboxes.remove_container(second.pk, engine=engine.default())
        third = start_playground(ground)
        assert run_in(third, "ls /root; docker image ls -q | wc -l").split() == ["0"]
        assert playgrounds.reap_storage(engine=engine.default())["playground_disks"] == 1 and not Path(old_disk).exists()
        stop_playground(ground, third)
    finally:
        for row in Sandbox.objects.filter(playground=ground):
            engine.default().remove_sandbox(row.container_name, sandboxes.socket_dir(row))


def test_expired_playground_storage_is_reaped(learner, playground_root, no_queue, settings):
    from datetime import timedelta

    from django.utils import timezone

    ground = playgrounds.playground_for(learner)
    sandbox = start_playground(ground)
    run_in(sandbox, "echo x > /root/x")
    stop_playground(ground, sandbox)
    ground.refresh_from_db()
    wait_until(lambda: not disks.in_use(ground.disk_path), 20, message="the disk's loop device to be released")
    later = timezone.now() + timedelta(days=settings.PLAYGROUND_RETENTION_DAYS, hours=1)
    assert playgrounds.reap_storage(engine=engine.default(), now=later) == {"playgrounds_expired": 1, "playground_disks": 1}
    assert not Path(ground.disk_path).exists() and list(playground_root.iterdir()) == []
