"""Web previews of published ports, on the in-memory engine: who may see one, what is fetched, what comes back."""

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from courses.models import Chapter, Course
from grader import engine
from grader.fake_engine import FakeEngine
from grader.preview import PREVIEW_ANSWER_LIMIT, parse_answer, preview_url
from grader.snapshot import Container, HttpAnswer, Port
from labs import previews, sandboxes
from labs.models import Lab, Sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch):
    made = FakeEngine()
    monkeypatch.setattr(engine, "default", lambda: made)
    return made


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    return Lab.objects.create(course=course, chapter=chapter, slug="web", title="Un serveur web", minutes=5, position=1,
                              source_path="labs/web.yaml", instructions_markdown="", instructions_html="")


@pytest.fixture
def ready(fake, learner, lab):
    """The learner's ready sandbox on the fake engine, nginx publishing 8080 in it."""
    now = timezone.now()
    row = Sandbox.objects.create(owner=learner, lab=lab, status=Sandbox.Status.READY, expires_at=now + timedelta(minutes=60), last_activity_at=now)
    fake.start_sandbox(sandboxes.spec_for(row))
    serve(fake, row, 8080, {"/": HttpAnswer(200, "<h1>Welcome to nginx!</h1>"), "/a%20b?x=1&y=%C3%A9": HttpAnswer(200, "query passed")})
    return row


def serve(fake, row, port, pages):
    sandbox = fake.sandboxes[row.container_name]
    web = Container(id=f"{port:064d}", name="web", image="nginx:1.22", image_id="sha256:" + "0f" * 32, status="running",
                    ports=(Port(container_port=80, host_port=port),))
    sandbox.state = replace(sandbox.state, containers=sandbox.state.containers + (web,),
                            http={**sandbox.state.http, **{(port, path): answer for path, answer in pages.items()}})
    sandbox.daemon_running = True  # the learner's docker run started it


def open_preview(client, row, port=8080):
    response = client.get(reverse("labs:preview_open", args=[row.pk, port]))
    assert response.status_code == 302, response.content
    return response["Location"]


def test_the_owner_sees_the_published_ports_with_their_preview_links(learner_client, ready):
    data = learner_client.get(reverse("labs:sandbox_ports", args=[ready.pk]), HTTP_ACCEPT="application/json").json()
    assert data == {"ports": [{"port": 8080, "container_port": 80, "container": "web", "url": reverse("labs:preview_open", args=[ready.pk, 8080])}], "problem": ""}
    page = learner_client.get(reverse("labs:sandbox_ports", args=[ready.pk])).text
    assert "8080" in page and "web" in page


def test_the_owner_gets_the_page_through_the_preview_restricted_to_an_opaque_origin(learner_client, ready):
    link = open_preview(learner_client, ready)
    assert link.startswith("/apercu/")
    response = learner_client.get(link)
    assert response.status_code == 200 and b"Welcome to nginx!" in response.content
    assert response["Content-Security-Policy"].startswith("sandbox ")
    assert "allow-same-origin" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN" and response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies


def test_a_preview_link_works_without_cookies_for_the_pages_own_requests(client, learner_client, ready):
    link = open_preview(learner_client, ready)
    assert client.get(link).status_code == 200


def test_path_and_query_are_passed_to_the_learners_server(learner_client, ready):
    link = open_preview(learner_client, ready)
    response = learner_client.get(link + "a%20b?x=1&y=%C3%A9")
    assert response.status_code == 200 and response.content == b"query passed"


def test_another_learner_gets_a_404_for_the_ports_the_preview_and_even_the_owners_link(learner_client, ready, client):
    link = open_preview(learner_client, ready)
    User.objects.create_user("mallory", "m@example.com", "pw-mallory-12345")
    client.login(username="mallory", password="pw-mallory-12345")
    assert client.get(reverse("labs:sandbox_ports", args=[ready.pk])).status_code == 404
    assert client.get(reverse("labs:preview_open", args=[ready.pk, 8080])).status_code == 404
    assert client.get(link).status_code == 404


def test_a_port_not_published_is_refused_and_says_so(learner_client, ready, fake):
    response = learner_client.get(reverse("labs:preview_open", args=[ready.pk, 9000]))
    assert response.status_code == 404 and "9000" in response.text and "docker run -p" in response.text
    # A link made for a published port, asked about once the container stopped publishing it.
    link = open_preview(learner_client, ready)
    sandbox = fake.sandboxes[ready.container_name]
    sandbox.state = replace(sandbox.state, containers=())
    assert learner_client.get(link).status_code == 404


def test_a_port_where_nothing_answers_gets_a_clear_page(learner_client, ready, fake):
    serve(fake, ready, 8081, {})
    response = learner_client.get(open_preview(learner_client, ready, 8081))
    assert response.status_code == 502 and "8081" in response.text and response["Content-Security-Policy"].startswith("sandbox")


def test_a_forged_or_stale_link_or_an_ended_sandbox_is_a_404(learner_client, ready, settings):
    link = open_preview(learner_client, ready)
    token = link.split("/")[2]
    assert learner_client.get(f"/apercu/{token}x/").status_code == 404
    forged = signing.dumps([ready.pk, 22, ready.owner_id], salt="not-the-preview", compress=False)
    assert learner_client.get(f"/apercu/{forged}/").status_code == 404
    settings.PREVIEW_LINK_MINUTES = 0
    assert learner_client.get(link).status_code == 404
    settings.PREVIEW_LINK_MINUTES = 120
    sandboxes.stop(ready)
    assert learner_client.get(link).status_code == 404


def test_no_request_can_name_another_host():
    for path, query in [
        ("//drydock-registry:5000/v2/", ""), ("/@drydock-registry:5000/", ""), ("/ -x drydock-registry:5000", ""),
        ("http://drydock-registry:5000/", ""), ("/\\\\drydock-registry/", ""), ("/a#@drydock-registry/", "b"),
        ("/\r\nHost: drydock-registry", ""), ("/", "x=1#@drydock-registry:5000"), ("/{a,b}[1-2]", "u=http://10.0.0.1/"),
    ]:
        url = preview_url(8080, path, query)
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("http", "127.0.0.1", 8080), (path, url)
        assert not any(c in url for c in " \r\n\\#{}[]"), url
    assert preview_url(8080, "/" + "a" * 3000) is None


def test_the_learners_headers_are_filtered_and_redirects_stay_in_the_preview():
    raw = (b"HTTP/1.1 301 Moved\r\nSet-Cookie: sessionid=evil\r\nContent-Security-Policy: none\r\nLocation: http://127.0.0.1:8080/docs/\r\n"
           b"Content-Type: text/html\r\nX-Evil: 1\r\n\r\n")
    answer = parse_answer(raw)
    assert answer.status == 301 and answer.headers == {"location": "http://127.0.0.1:8080/docs/", "content-type": "text/html"}
    assert previews.local_location("http://127.0.0.1:8080/docs/", 8080, "/apercu/t/") == "/apercu/t/docs/"
    assert previews.local_location("/docs/", 8080, "/apercu/t/") == "/apercu/t/docs/"
    assert previews.local_location("docs/", 8080, "/apercu/t/") == "docs/"
    assert previews.local_location("http://drydock-registry:5000/", 8080, "/apercu/t/") is None
    assert previews.local_location("//drydock-registry:5000/", 8080, "/apercu/t/") is None


def test_a_huge_answer_is_cut_at_the_limit_and_says_so(learner_client, ready, fake):
    serve(fake, ready, 8082, {"/": HttpAnswer(200, "x" * (PREVIEW_ANSWER_LIMIT + 1000))})
    response = learner_client.get(open_preview(learner_client, ready, 8082))
    assert response.status_code == 200 and response["X-Drydock-Preview"] == "truncated"
    assert len(response.content) < PREVIEW_ANSWER_LIMIT + 500
    assert parse_answer(b"HTTP/1.1 200 OK\r\n\r\n" + b"y" * 10, limit=25).truncated
    assert parse_answer(b"garbage") is None and parse_answer(b"HTTP/1.1 200 OK\r\nno end") is None


def test_the_lab_page_shows_the_preview_panel_once_the_sandbox_is_ready(learner_client, ready, lab):
    page = learner_client.get(lab.get_absolute_url()).text
    assert 'id="preview"' in page and reverse("labs:sandbox_ports", args=[ready.pk]) in page


def test_past_the_minutes_preview_requests_the_learner_gets_a_429_saying_when_to_retry(learner_client, ready, settings, fake, monkeypatch):
    settings.PREVIEW_REQUESTS_PER_MINUTE = 3
    inspected = []
    published_ports = fake.published_ports
    monkeypatch.setattr(fake, "published_ports", lambda *args: inspected.append(args) or published_ports(*args))
    ports = reverse("labs:sandbox_ports", args=[ready.pk])
    assert learner_client.get(ports, HTTP_ACCEPT="application/json").status_code == 200
    link = open_preview(learner_client, ready)
    assert learner_client.get(link).status_code == 200
    # The fourth in the minute reaches no engine: each of the three pages answers 429 with Retry-After, in French.
    assert len(inspected) == 3
    page = learner_client.get(link, HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 429 and 1 <= int(page["Retry-After"]) <= 60
    assert "Trop de demandes d’aperçu : 3 par minute au plus." in page.text
    assert page["Content-Security-Policy"].startswith("sandbox ")
    listed = learner_client.get(ports, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="fr")
    assert listed.status_code == 429 and int(listed["Retry-After"]) >= 1
    assert listed.json()["ports"] == [] and listed.json()["problem"].startswith("Trop de demandes d’aperçu")
    opened = learner_client.get(reverse("labs:preview_open", args=[ready.pk, 8080]))
    assert opened.status_code == 429 and "Retry-After" in opened
    assert len(inspected) == 3
    # Another learner's sandbox has its own count.
    other = User.objects.create_user("bob", "bob@example.com", "pw-bob-123456")
    now = timezone.now()
    row = Sandbox.objects.create(owner=other, lab=ready.lab, status=Sandbox.Status.READY, expires_at=now + timedelta(minutes=60), last_activity_at=now)
    fake.start_sandbox(sandboxes.spec_for(row))
    learner_client.force_login(other)
    assert learner_client.get(reverse("labs:sandbox_ports", args=[row.pk]), HTTP_ACCEPT="application/json").status_code == 200


LISTED = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[{"Names":["/web"],"Ports":[{"PublicPort":8080,"PrivatePort":80,"Type":"tcp"}]}]'


@pytest.mark.parametrize("output, complete, problem", [
    (LISTED, True, None),
    (b"", True, "did not answer in the sandbox"),
    (LISTED[:60], False, "did not answer in the sandbox"),
    (b"HTTP/1.1 500 Internal Server Error\r\n\r\n{}", True, "answered 500"),
    (b"HTTP/1.1 200 OK\r\n\r\nnot json", True, "not Docker's API"),
    (b"HTTP/1.1 200 OK\r\n\r\n{}", True, "no list of at most"),
    (b"HTTP/1.1 200 OK\r\n\r\n[" + b",".join([b"{}"] * 501) + b"]", True, "no list of at most"),
    (b"HTTP/1.1 200 OK\r\n\r\n" + b" " * (engine.NESTED_ANSWER_LIMIT + 1), False, "more than 8 MiB"),
])
def test_an_engine_elsewhere_lists_ports_by_an_exec_in_the_sandbox_whatever_answers_there(monkeypatch, tmp_path, output, complete, problem):
    asked = []
    monkeypatch.setattr(engine.DockerEngine, "_bounded_output", lambda self, name, command, *, limit, seconds: asked.append((name, command, limit)) or (output, complete))
    # Even with a socket at the path: from an engine on another machine, no socket of this one is read.
    (tmp_path / "disk" / "run").mkdir(parents=True)
    (tmp_path / "disk" / "run" / "docker.sock").write_text("")
    elsewhere = engine.DockerEngine("tcp://127.0.0.1:1", tls_dir="")
    if problem is None:
        assert elsewhere.published_ports("sandbox-1", str(tmp_path)) == (engine.preview.PublishedPort(port=8080, container_port=80, container="web"),)
    else:
        with pytest.raises(engine.EngineUnavailable, match=problem):
            elsewhere.published_ports("sandbox-1", str(tmp_path))
    assert asked == [("sandbox-1", engine.NESTED_LIST_PROGRAM, engine.NESTED_ANSWER_LIMIT)]
    assert engine.NESTED_LIST_PROGRAM[-1] == "http://docker/v1.41/containers/json" and "/run/drydock/docker.sock" in engine.NESTED_LIST_PROGRAM


def test_the_lab_page_s_list_of_ports_does_not_start_a_daemon_that_waits_for_its_first_client(fake, learner, lab, learner_client):
    now = timezone.now()
    row = Sandbox.objects.create(owner=learner, lab=lab, status=Sandbox.Status.READY, expires_at=now + timedelta(minutes=60), last_activity_at=now)
    spec = sandboxes.spec_for(row)
    assert spec.daemon_on_demand
    fake.start_sandbox(spec)
    for _poll in range(3):  # the page asks every 15 s
        data = learner_client.get(reverse("labs:sandbox_ports", args=[row.pk]), HTTP_ACCEPT="application/json").json()
        assert data == {"ports": [], "problem": ""}
    assert not fake.daemon_started(row.container_name, sandboxes.socket_dir(row))
