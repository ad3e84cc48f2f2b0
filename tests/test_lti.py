"""LTI 1.3 / Advantage, driven by a test LMS on loopback (tests/lti_platform.py) that signs real id_tokens."""

import logging
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from classrooms.models import Classroom, Membership
from courses.models import Chapter, Course
from grader.fake_engine import FakeEngine
from grader.snapshot import Image, Snapshot
from labs import grading, sandboxes
from labs import queue as labs_queue
from labs.models import Lab, LabTask
from lti import keys, outbox, platform_client, tasks
from lti import queue as lti_queue
from lti.models import Context, DeepLinkingRequest, Deployment, Launch, LoginState, LtiUser, Platform, ResourceLink, Score
from quizzes import attempts
from quizzes.models import Attempt, Quiz
from tests.lti_platform import CLAIM, LoopbackLMS, rsa_key, tool_keys

INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
LAB_URL = "http://testserver/cours/mini/tp/web/"


@pytest.fixture(autouse=True)
def premade_tool_keys(monkeypatch):
    monkeypatch.setattr(keys.rsa, "generate_private_key", tool_keys())


@pytest.fixture
def lms():
    cache.clear()
    platform = LoopbackLMS().start()
    yield platform
    platform.stop()
    cache.clear()


@pytest.fixture
def platform(db, lms):
    row = Platform.objects.create(
        name="Moodle de test", issuer=lms.issuer, client_id=lms.client_id,
        auth_login_url=lms.auth_login_url, token_url=lms.token_url, keyset_url=lms.keyset_url,
    )
    Deployment.objects.create(platform=row, deployment_id=lms.deployment_id)
    lms.tool_jwks = keys.jwks()
    return row


@pytest.fixture
def lab(db):
    course = Course.objects.create(slug="mini", title="Mini", language="fr")
    chapter = Chapter.objects.create(course=course, slug="bases", title="Les bases", position=1)
    lab = Lab.objects.create(
        course=course, chapter=chapter, slug="web", title="Un serveur web", minutes=5, position=1,
        source_path="labs/web.yaml", instructions_markdown="", instructions_html="",
    )
    LabTask.objects.create(lab=lab, slug="tirer-nginx", title="Tirer nginx", position=1, prompt_html="",
                           check_name="image_present", check_params={"image": "nginx:1.22"})
    return lab


@pytest.fixture
def queued(monkeypatch):
    """(task name, id) of every LTI and labs task queued after commit, in order (nothing reaches Redis)."""
    sent = []
    monkeypatch.setattr(lti_queue, "after_commit", lambda name, *args: sent.append((name, *args)))
    monkeypatch.setattr(labs_queue, "after_commit", lambda name, *args, host=None: sent.append((name, *args)))
    return sent


def start_login(client, lms, **params):
    response = client.post("/lti/login/", {
        "iss": lms.issuer, "login_hint": "hint-42", "target_link_uri": LAB_URL, "client_id": lms.client_id,
        "lti_message_hint": "message-hint", "lti_deployment_id": lms.deployment_id, **params,
    })
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    return response, {k: v[0] for k, v in query.items()}


def launch(client, lms, *, claims=None, token=None, **claim_args):
    """A whole launch as the browser carries it: login initiation, the platform's id_token posted back."""
    _, auth = start_login(client, lms)
    claim_args.setdefault("target_link_uri", LAB_URL)
    token = token or lms.id_token(claims(auth) if callable(claims) else lms.claims(nonce=auth["nonce"], **claim_args))
    return client.post("/lti/launch/", {"id_token": token, "state": auth["state"]}), auth, token


def counts():
    return {model.__name__: model.objects.count() for model in (User, LtiUser, ResourceLink, Launch, Context, DeepLinkingRequest, Score)}


# --- Keys and set-up --------------------------------------------------------------------------------------


def test_the_tool_publishes_its_keys_and_rotation_keeps_the_old_one_published(db):
    first = keys.current()
    response = _jwks(db)
    assert [k["kid"] for k in response["keys"]] == [first.kid]
    assert "d" not in response["keys"][0] and response["keys"][0]["alg"] == "RS256"
    call_command("lti_keys", "--rotate")
    second = keys.current()
    assert second.kid != first.kid
    assert {k["kid"] for k in _jwks(db)["keys"]} == {first.kid, second.kid}
    token = keys.sign({"hello": "world"})
    assert jwt.get_unverified_header(token)["kid"] == second.kid


def _jwks(db):
    from django.test import Client

    response = Client().get("/lti/jwks.json")
    assert response.status_code == 200
    return response.json()


def test_admins_get_a_page_of_the_urls_to_paste_into_the_lms(admin_client, platform, client, learner):
    page = admin_client.get("/lti/configuration/").content.decode()
    for url in ("http://testserver/lti/login/", "http://testserver/lti/launch/", "http://testserver/lti/jwks.json"):
        assert url in page
    assert platform.client_id in page and "deployment-1" in page
    client.force_login(learner)
    assert client.get("/lti/configuration/").status_code == 302
    canvas = client.get("/lti/canvas.json").json()
    assert canvas["oidc_initiation_url"] == "http://testserver/lti/login/" and canvas["public_jwk_url"] == "http://testserver/lti/jwks.json"


# --- Launch ---------------------------------------------------------------------------------------------


def test_login_initiation_sends_the_browser_to_the_platform_with_state_and_nonce(client, lms, platform):
    response, auth = start_login(client, lms)
    assert response["Location"].startswith(lms.auth_login_url + "?")
    assert auth["client_id"] == lms.client_id and auth["login_hint"] == "hint-42" and auth["lti_message_hint"] == "message-hint"
    assert auth["redirect_uri"] == "http://testserver/lti/launch/" and auth["response_mode"] == "form_post" and auth["scope"] == "openid"
    row = LoginState.objects.get(state=auth["state"])
    assert row.nonce == auth["nonce"] and row.used_at is None
    cookie = response.cookies[f"lti1p3-state-{auth['state']}"]
    assert cookie.value == auth["state"] and cookie["httponly"]


def test_over_https_the_state_cookie_is_samesite_none_and_secure(client, lms, platform):
    response = client.post("/lti/login/", {"iss": lms.issuer, "login_hint": "x", "client_id": lms.client_id}, secure=True)
    cookie = next(iter(response.cookies.values()))
    assert cookie["samesite"] == "None" and cookie["secure"]


def test_logins_older_than_a_day_are_deleted_as_new_ones_come(client, lms, platform):
    _, old = start_login(client, lms)
    LoginState.objects.filter(state=old["state"]).update(created_at=timezone.now() - timezone.timedelta(days=2))
    _, new = start_login(client, lms)
    assert list(LoginState.objects.values_list("state", flat=True)) == [new["state"]]


def test_a_learner_launch_links_an_account_and_opens_the_lab(client, lms, platform, lab):
    response, _, _ = launch(client, lms)
    assert response.status_code == 302 and response["Location"] == "/cours/mini/tp/web/"
    account = LtiUser.objects.get(platform=platform, sub="lms-user-42")
    assert account.user.first_name == "Ada" and not account.user.has_usable_password()
    link = ResourceLink.objects.get()
    assert link.target == "lab:mini/web" and link.lineitem_url == lms.lineitem_url and link.posts_scores
    assert Launch.objects.get().lti_user == account
    page = client.get("/cours/mini/tp/web/")
    assert page.status_code == 200 and page.context["user"] == account.user and "Un serveur web" in page.content.decode()
    # The launched page may show in the LMS's frame, and only there.
    assert "X-Frame-Options" not in page and page["Content-Security-Policy"] == f"frame-ancestors 'self' {lms.url}"


def test_the_same_platform_user_gets_the_same_account_and_email_never_links_one(client, lms, platform, lab):
    User.objects.create_user("ada", "ada@example.org", "a-password-of-hers")
    launch(client, lms)
    client.logout()
    launch(client, lms)
    account = LtiUser.objects.get()
    assert account.user.username != "ada" and User.objects.filter(email="ada@example.org").count() == 2
    client.logout()
    launch(client, lms, sub="another-user")
    assert LtiUser.objects.count() == 2 and Launch.objects.count() == 2


def test_a_session_without_an_lti_launch_is_never_framed(client, learner, lab):
    client.force_login(learner)
    page = client.get("/cours/mini/tp/web/")
    assert page["X-Frame-Options"] == "DENY" and "Content-Security-Policy" not in page


def test_a_launch_whose_cookie_the_browser_blocked_offers_a_new_tab(client, lms, platform, lab):
    _, auth = start_login(client, lms)
    client.cookies.clear()
    before = counts()
    response = client.post("/lti/launch/", {"id_token": lms.id_token(lms.claims(nonce=auth["nonce"])), "state": auth["state"]})
    assert response.status_code == 200 and counts() == before
    page = response.content.decode()
    assert 'target="_blank"' in page and "/lti/login/?iss=" in page and "Ouvrir dans un nouvel onglet" in page
    assert LoginState.objects.get(state=auth["state"]).used_at is None


def other_key_same_kid(lms, auth):
    return lms.id_token(lms.claims(nonce=auth["nonce"]), key=rsa_key(1))


BAD_LAUNCHES = {
    # name: (how the id_token is made from (lms, auth), reason, status, French words of the page)
    "bad signature": (other_key_same_kid, "bad_signature", 403, "La signature de la plateforme"),
    "unknown key": (lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"]), kid="nobody"), "bad_signature", 403, "La signature"),
    "expired token": (lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], exp=1_000_000, iat=999_000)), "expired_token", 403, "a expiré"),
    "wrong audience": (lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], aud="another-tool")), "wrong_audience", 403, "un autre outil"),
    "wrong issuer": (lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], iss="https://evil.example")), "wrong_issuer", 403, "ne vient pas"),
    "nonce of another login": (lambda lms, auth: lms.id_token(lms.claims(nonce="not-this-one")), "bad_nonce", 403, "nonce"),
    "unknown deployment": (
        lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], **{CLAIM + "deployment_id": "dep-999"})),
        "unknown_deployment", 403, "dep-999",
    ),
    "not a jwt": (lambda lms, auth: "not.a.jwt", "bad_message", 400, "pas un message LTI 1.3"),
    "unknown target": (
        lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], target_link_uri="http://testserver/cours/mini/tp/nothing/")),
        "unknown_target", 404, "ne mène à rien",
    ),
    "wrong version": (lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], **{CLAIM + "version": "1.1"})), "bad_message", 400, "LTI 1.3"),
    "learner asking for deep linking": (
        lambda lms, auth: lms.id_token(lms.claims(nonce=auth["nonce"], message_type="LtiDeepLinkingRequest")), "not_instructor", 403, "enseignant",
    ),
}


@pytest.mark.parametrize("case", list(BAD_LAUNCHES))
def test_a_bad_launch_is_refused_with_a_clear_page_and_a_log_line_and_creates_nothing(case, client, lms, platform, lab, caplog):
    make, reason, status, words = BAD_LAUNCHES[case]
    _, auth = start_login(client, lms)
    before = counts()
    with caplog.at_level(logging.WARNING, logger="lti.launch"):
        response = client.post("/lti/launch/", {"id_token": make(lms, auth), "state": auth["state"]})
    assert response.status_code == status
    page = response.content.decode()
    assert f'data-reason="{reason}"' in page and words in page
    assert f"lti: launch refused ({reason})" in caplog.text
    assert counts() == before and "_auth_user_id" not in client.session
    assert LoginState.objects.get(state=auth["state"]).used_at is None


def test_a_replayed_launch_is_refused_and_creates_nothing_more(client, lms, platform, lab, caplog):
    first, auth, token = launch(client, lms)
    assert first.status_code == 302
    before = counts()
    with caplog.at_level(logging.WARNING, logger="lti.launch"):
        again = client.post("/lti/launch/", {"id_token": token, "state": auth["state"]})
    assert again.status_code == 403 and 'data-reason="replayed"' in again.content.decode()
    assert "lti: launch refused (replayed)" in caplog.text and counts() == before


def test_unknown_platforms_and_states_are_refused(client, lms, platform):
    response = client.post("/lti/login/", {"iss": "https://unknown.example", "login_hint": "x"})
    assert response.status_code == 403 and 'data-reason="unknown_platform"' in response.content.decode()
    assert LoginState.objects.count() == 0
    response = client.post("/lti/launch/", {"id_token": "x.y.z", "state": "never-issued"})
    assert response.status_code == 400 and 'data-reason="unknown_state"' in response.content.decode()
    response = client.post("/lti/launch/", {})
    assert 'data-reason="missing_parameters"' in response.content.decode()


def test_the_refusal_page_speaks_english_when_asked(client, lms, platform, lab):
    client.cookies["django_language"] = "en"
    _, auth = start_login(client, lms)
    response = client.post("/lti/launch/", {"id_token": lms.id_token(lms.claims(nonce=auth["nonce"], aud="x")), "state": auth["state"]})
    assert "This launch was meant for another tool (wrong audience)." in response.content.decode()


def test_an_unreachable_keyset_is_refused_without_creating_anything(client, lms, platform, lab):
    Platform.objects.filter(pk=platform.pk).update(keyset_url="http://127.0.0.1:9/jwks")
    before = counts()
    response, _, _ = launch(client, lms)
    assert response.status_code == 502 and 'data-reason="keyset_unavailable"' in response.content.decode() and counts() == before


# --- Deep linking ---------------------------------------------------------------------------------------


def test_an_instructor_picks_a_lab_and_the_platform_gets_a_signed_response_with_a_line_item(client, lms, platform, lab):
    response, _, _ = launch(client, lms, message_type="LtiDeepLinkingRequest", roles=INSTRUCTOR)
    assert response.status_code == 302 and response["Location"].startswith("/lti/choisir/")
    picker = client.get(response["Location"])
    assert picker.status_code == 200 and 'value="lab:mini/web"' in picker.content.decode() and 'value="chapter:mini/bases"' in picker.content.decode()
    answer = client.post(response["Location"], {"target": ["lab:mini/web"], "score_maximum": "20"})
    assert answer.status_code == 200 and answer.context["return_url"] == lms.url + "/deep-linking/return"
    signed = answer.context["jwt"]
    tool_keys = {k["kid"]: k for k in client.get("/lti/jwks.json").json()["keys"]}
    claims = jwt.decode(signed, jwt.PyJWK(tool_keys[jwt.get_unverified_header(signed)["kid"]]).key, algorithms=["RS256"], audience=lms.issuer)
    assert claims["iss"] == lms.client_id and claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "deployment_id"] == lms.deployment_id and claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-42"
    [item] = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["type"] == "ltiResourceLink" and item["url"] == LAB_URL and item["custom"]["drydock_target"] == "lab:mini/web"
    assert item["lineItem"]["scoreMaximum"] == 20 and item["lineItem"]["resourceId"] == "lab:mini/web"
    assert client.post(response["Location"], {"target": ["lab:mini/web"]}).status_code == 400  # answered once

    # The activity the platform made launches the lab, scored on 20.
    client.logout()
    custom = {"drydock_target": item["custom"]["drydock_target"], "drydock_score_maximum": item["custom"]["drydock_score_maximum"]}
    response, _, _ = launch(client, lms, target_link_uri=item["url"], **{CLAIM + "custom": custom})
    assert response["Location"] == "/cours/mini/tp/web/" and ResourceLink.objects.get().score_maximum == 20


def test_a_pick_of_nothing_or_of_something_unknown_is_refused(client, lms, platform, lab):
    response, _, _ = launch(client, lms, message_type="LtiDeepLinkingRequest", roles=INSTRUCTOR)
    assert client.post(response["Location"], {}).status_code == 400
    refused = client.post(response["Location"], {"target": ["lab:mini/nothing"]})
    assert refused.status_code == 400 and "Choisissez au moins" in refused.content.decode()
    assert DeepLinkingRequest.objects.get().used_at is None


# --- Scores (AGS) ---------------------------------------------------------------------------------------


def pass_the_task(user, lab):
    fake = FakeEngine()
    sandbox = sandboxes.provision(sandboxes.request_sandbox(user=user, lab=lab, engine=fake).pk, engine=fake)
    fake.sandboxes[sandbox.container_name].state = Snapshot(
        images=(Image(id="sha256:" + "a" * 64, tags=("nginx:1.22",), digests=("nginx@sha256:" + "d" * 64,)),),
    )
    return grading.grade(grading.submit(user=user, task=lab.tasks.get(), sandbox=sandbox).pk, engine=fake)


def test_a_passed_task_posts_one_score_to_the_line_item(client, lms, platform, lab, queued):
    launch(client, lms)
    account = LtiUser.objects.get()
    assert pass_the_task(account.user, lab).status == "passed"
    score = Score.objects.get()
    assert (lti_queue.POST_SCORE, score.pk) in queued
    assert tasks.post_score.apply(args=[score.pk]).successful()
    [(path, body)] = lms.scores
    assert path == "/courses/7/lineitems/3/lineitem/scores?type_id=2"
    assert body == {"userId": "lms-user-42", "scoreGiven": 100.0, "scoreMaximum": 100.0, "activityProgress": "Completed",
                    "gradingProgress": "FullyGraded", "timestamp": score.timestamp.isoformat(timespec="milliseconds")}
    score.refresh_from_db()
    assert score.status == Score.Status.SENT and score.sent_at and score.attempts == 1
    assert tasks.post_score.apply(args=[score.pk]).successful() and len(lms.scores) == 1  # sent is sent


def test_the_lms_failing_twice_then_accepting_ends_with_exactly_one_score(client, lms, platform, lab, queued, caplog):
    launch(client, lms)
    pass_the_task(LtiUser.objects.get().user, lab)
    score = Score.objects.get()
    lms.fail_scores = 2
    with caplog.at_level(logging.WARNING, logger="lti.outbox"):
        tasks.post_score.apply(args=[score.pk])  # as the worker runs it: each retry runs again, retries counted
    assert lms.score_requests == 3 and len(lms.scores) == 1 and len(lms.token_requests) == 1
    score.refresh_from_db()
    assert score.status == Score.Status.SENT and score.attempts == 3 and score.last_error == ""
    assert caplog.text.count("not taken by Moodle de test") == 2


def test_retries_back_off_and_a_score_the_retries_could_not_send_stays_in_the_outbox(client, lms, platform, lab, queued):
    assert [outbox.backoff(n) for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    launch(client, lms)
    pass_the_task(LtiUser.objects.get().user, lab)
    score = Score.objects.get()
    lms.fail_scores = 100
    tasks.post_score.apply(args=[score.pk])
    score.refresh_from_db()
    assert score.status == Score.Status.PENDING and score.attempts == tasks.post_score.max_retries + 1 and "HTTP 500" in score.last_error
    assert outbox.overdue() == []
    later = score.next_attempt_at + outbox.FLUSH_GRACE + timezone.timedelta(seconds=1)
    assert outbox.overdue(now=later) == [score.pk]
    lms.fail_scores = 0
    outbox.send(score.pk, now=later)
    assert len(lms.scores) == 1 and Score.objects.get().status == Score.Status.SENT


def test_a_score_the_platform_refuses_for_good_is_marked_failed_and_logged(client, lms, platform, lab, queued, caplog):
    launch(client, lms)
    ResourceLink.objects.update(lineitem_url=lms.url + "/no/such/lineitem")
    pass_the_task(LtiUser.objects.get().user, lab)
    with caplog.at_level(logging.ERROR, logger="lti.outbox"):
        tasks.post_score.apply(args=[Score.objects.get().pk])
    assert Score.objects.get().status == Score.Status.FAILED and "HTTP 404" in Score.objects.get().last_error
    assert "refused by Moodle de test for good" in caplog.text


def test_a_newer_grade_supersedes_a_pending_one(client, lms, platform, lab, queued):
    from lti import scores

    launch(client, lms)
    user = LtiUser.objects.get().user
    first = scores.record(user=user, lab=lab)[0]
    pass_the_task(user, lab)
    assert Score.objects.get(pk=first.pk).status == Score.Status.SUPERSEDED
    assert Score.objects.filter(status=Score.Status.PENDING).get().score_given == 100


def test_a_graded_quiz_attempt_posts_to_its_activity(client, lms, platform, lab, queued):
    quiz = Quiz.objects.create(course=lab.course, chapter=lab.chapter, slug="q", title="Quiz", position=2)
    custom = {"drydock_target": "quiz:mini/q"}
    launch(client, lms, target_link_uri="http://testserver/cours/mini/quiz/q/", **{CLAIM + "custom": custom})
    user = LtiUser.objects.get().user
    attempt = Attempt.objects.create(quiz=quiz, user=user, number=1, seed=1, started_at=timezone.now())
    attempts.submit(attempt=attempt)
    score = Score.objects.get()
    assert score.score_given == 0 and score.activity_progress == "Completed"


def test_a_learner_without_an_lti_launch_queues_nothing(learner, lab, queued):
    pass_the_task(learner, lab)
    assert Score.objects.count() == 0 and [name for name, *_ in queued if name.startswith("lti.")] == []


def test_the_score_task_is_routed_to_the_lms_queue():
    from drydock.celery import app

    assert app.amqp.router.route({}, lti_queue.POST_SCORE)["queue"].name == "lms"
    assert app.amqp.router.route({}, lti_queue.FLUSH_SCORES)["queue"].name == "lms"


def test_every_task_the_lti_app_sends_has_a_route():
    from drydock import queues

    sent = {value for name, value in vars(lti_queue).items() if name.isupper() and isinstance(value, str) and value.startswith("lti.")}
    assert sent == {task for task in queues.ROUTES if task.startswith("lti.")}


def test_a_launch_of_the_bare_tool_url_opens_the_catalogue(client, lms, platform, lab):
    response, _, _ = launch(client, lms, target_link_uri="http://testserver/lti/launch/")
    assert response.status_code == 302 and response["Location"] == "/" and ResourceLink.objects.get().target == ""


def test_scores_url_keeps_the_line_items_query():
    assert platform_client.scores_url("https://lms/li/3?type=2") == "https://lms/li/3/scores?type=2"
    assert platform_client.scores_url("https://lms/li/3/") == "https://lms/li/3/scores"


# --- Names and roles (NRPS) -----------------------------------------------------------------------------


def member(user_id, role="Learner", status="Active"):
    return {"user_id": user_id, "status": status, "name": f"User {user_id}", "given_name": "U", "family_name": user_id,
            "roles": [f"http://purl.imsglobal.org/vocab/lis/v2/membership#{role}"]}


def test_an_instructor_syncs_the_lms_roster_into_a_classroom(client, lms, platform, lab):
    launch(client, lms, sub="teacher-1", roles=INSTRUCTOR)
    teacher = LtiUser.objects.get(sub="teacher-1").user
    assert teacher.has_perm("classrooms.teach")
    context = Context.objects.get()
    lms.members = [member("teacher-1", "Instructor"), member("s1"), member("s2"), member("s3", status="Inactive")]
    response = client.post(f"/lti/cours-lms/{context.pk}/classe/", {"course": lab.course.pk})
    classroom = Classroom.objects.get()
    assert response.status_code == 302 and response["Location"] == classroom.get_absolute_url()
    assert classroom.owner == teacher and classroom.title == "Docker 101" and classroom.course == lab.course
    assert set(Membership.objects.values_list("user__lti_accounts__sub", flat=True)) == {"s1", "s2"}
    lms.members = [member("teacher-1", "Instructor"), member("s2")]
    client.post(f"/lti/cours-lms/{context.pk}/classe/")
    assert set(Membership.objects.values_list("user__lti_accounts__sub", flat=True)) == {"s2"} and Classroom.objects.count() == 1


def test_a_learner_cannot_sync_a_roster(client, lms, platform, lab):
    launch(client, lms)
    context = Context.objects.get()
    assert client.get(f"/lti/cours-lms/{context.pk}/classe/").status_code == 404
    assert client.post(f"/lti/cours-lms/{context.pk}/classe/", {"course": lab.course.pk}).status_code == 404
    assert Classroom.objects.count() == 0
