import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_sign_up_creates_the_account_and_logs_in(client):
    response = client.post(reverse("signup"), {
        "username": "bob", "email": "Bob@Example.com", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
    })
    assert response.status_code == 302
    user = User.objects.get(username="bob")
    assert user.email == "bob@example.com"
    assert client.get(reverse("courses:my_progress")).status_code == 200


def test_sign_up_refuses_an_email_already_used(client, learner):
    response = client.post(reverse("signup"), {
        "username": "other", "email": "ALICE@example.com", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
    })
    assert response.status_code == 200
    assert "Un compte utilise déjà cette adresse e-mail." in response.text
    assert not User.objects.filter(username="other").exists()


def test_log_in_and_log_out(client, learner):
    response = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_a_learner_changes_their_password_with_the_old_one(learner_client, learner):
    response = learner_client.post(reverse("password_change"), {
        "old_password": "correct-horse-battery", "new_password1": "another-long-phrase-7", "new_password2": "another-long-phrase-7",
    })
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.check_password("another-long-phrase-7")


def test_password_reset_sends_a_working_link(client, learner):
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/compte/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.text
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": "brand-new-phrase-9", "new_password2": "brand-new-phrase-9"})
    assert done.status_code == 302
    learner.refresh_from_db()
    assert learner.check_password("brand-new-phrase-9")


def test_admin_lists_lessons_for_staff(admin_client, mini_course):
    response = admin_client.get(reverse("admin:courses_lesson_changelist"))
    assert response.status_code == 200 and "Introduction" in response.text


# The signed-in user is read by a query written once (drydock/auth.py); what Django decides stays the same.


def test_a_signed_in_learner_is_read_by_one_query_with_every_field(learner_client, learner, django_assert_num_queries):
    from drydock.auth import get_user

    request = learner_client.get(reverse("courses:my_progress")).wsgi_request
    del request._cached_user
    with django_assert_num_queries(1) as captured:
        user = get_user(request)
    assert "auth_user" in captured.captured_queries[0]["sql"] and " LIMIT " not in captured.captured_queries[0]["sql"]  # not the ORM's get()
    expected = User.objects.get(pk=learner.pk)
    assert user == expected and user.is_authenticated
    assert {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in User._meta.concrete_fields
    }


def test_a_deactivated_learner_is_signed_out_of_the_session_already_open(learner_client, learner):
    assert learner_client.get(reverse("courses:my_progress")).status_code == 200
    User.objects.filter(pk=learner.pk).update(is_active=False)
    assert learner_client.get(reverse("courses:my_progress")).status_code == 302


def test_a_password_changed_elsewhere_ends_the_other_sessions(learner_client, learner):
    assert learner_client.get(reverse("courses:my_progress")).status_code == 200
    learner.set_password("a-new-long-passphrase-3")
    learner.save()
    assert learner_client.get(reverse("courses:my_progress")).status_code == 302
    assert "_auth_user_id" not in learner_client.session


def test_a_session_made_with_a_retired_secret_key_is_kept_and_signed_again(client, learner, settings):
    old_key = settings.SECRET_KEY
    client.force_login(learner)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-for-this-test-only-0123456789", [old_key]
    assert client.get(reverse("courses:my_progress")).status_code == 200
    assert client.session["_auth_user_hash"] == User.objects.get(pk=learner.pk).get_session_auth_hash()
