"""Classrooms: instructors create and run them, learners join them, and nobody sees what is not theirs."""

import importlib

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from classrooms import joining
from classrooms.access import INSTRUCTORS_GROUP, is_instructor
from classrooms.models import Classroom, Membership
from labs.models import Sandbox
from tests.classrooms_fixtures import T0, make_instructor, sandbox, world  # noqa: F401

pytestmark = pytest.mark.django_db


def english(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def instructor_urls(world, classroom, learner, sandbox_pk):
    pk = classroom.pk
    gets = [
        reverse("classrooms:detail", args=[pk]), reverse("classrooms:matrix", args=[pk]),
        reverse("classrooms:matrix_csv", args=[pk]), reverse("classrooms:attempts_csv", args=[pk]),
        reverse("classrooms:quiz_statistics", args=[pk]), reverse("classrooms:lab_statistics", args=[pk]),
        reverse("classrooms:sandboxes", args=[pk]), reverse("classrooms:learner", args=[pk, learner.pk]),
    ]
    posts = [
        reverse("classrooms:archive", args=[pk]), reverse("classrooms:member_remove", args=[pk, learner.pk]),
        reverse("classrooms:sandbox_stop", args=[pk, sandbox_pk]), reverse("classrooms:sandbox_extend", args=[pk, sandbox_pk]),
    ]
    return gets, posts


def test_the_data_migration_makes_the_instructors_group_with_the_teach_permission(db):
    from django.apps import apps

    migration = importlib.import_module("classrooms.migrations.0002_instructors_group")
    migration.create_group(apps, None)  # idempotent: the migration already ran it on this database
    migration.create_group(apps, None)
    group = Group.objects.get(name=INSTRUCTORS_GROUP)
    assert group.permissions.filter(codename="teach", content_type__app_label="classrooms").exists()
    user = User.objects.create_user("newcomer")
    assert not is_instructor(user)
    user.groups.add(group)
    assert is_instructor(User.objects.get(pk=user.pk))


def test_an_instructor_creates_a_classroom_and_gets_a_join_code(client):
    ines = make_instructor("ines")
    from tests.classrooms_fixtures import build_course

    course = build_course()[0]
    english(client, ines)
    response = client.post(reverse("classrooms:list"), {"title": "Terminale NSI", "course": course.pk}, follow=True)
    classroom = Classroom.objects.get()
    assert classroom.owner == ines and classroom.course == course and len(classroom.join_code) == 8
    assert classroom.join_code in response.text and "Terminale NSI" in response.text
    assert client.get(reverse("classrooms:list")).status_code == 200


def test_the_nav_leads_learners_to_join_and_instructors_to_their_classrooms(client, world):
    english(client, world.learners[0])
    assert f'href="{reverse("classrooms:mine")}"' in client.get(reverse("courses:home")).text
    assert client.get(reverse("classrooms:mine"))["Location"] == reverse("classrooms:join")
    page = client.get(reverse("classrooms:join")).text
    assert "Join a classroom" in page and f'href="{reverse("classrooms:list")}"' not in page
    english(client, world.ines)
    assert client.get(reverse("classrooms:mine"))["Location"] == reverse("classrooms:list")
    page = client.get(reverse("classrooms:join")).text
    assert "Classrooms you teach" in page and f'href="{reverse("classrooms:list")}"' in page and "Classe A" in page
    assert "Classe B" not in page


def test_a_learner_joins_with_a_code_in_any_case_and_spacing(client, world):
    newcomer = User.objects.create_user("newcomer")
    english(client, newcomer)
    code = world.class_a.join_code
    response = client.post(reverse("classrooms:join"), {"code": f" {code[:4].lower()} {code[4:]} "}, follow=True)
    assert Membership.objects.filter(classroom=world.class_a, user=newcomer).exists()
    assert "You joined the classroom « Classe A »." in messages_of(response)


def test_a_learner_joins_with_a_link_after_confirming(client, world):
    newcomer = User.objects.create_user("newcomer")
    english(client, newcomer)
    url = world.class_a.get_join_url()
    page = client.get(url)
    assert page.status_code == 200 and "Classe A" in page.text
    assert not Membership.objects.filter(user=newcomer).exists()  # a GET changes nothing
    client.post(url)
    assert Membership.objects.filter(classroom=world.class_a, user=newcomer).exists()


def test_the_join_link_sends_anonymous_visitors_to_log_in(client, world):
    response = client.get(world.class_a.get_join_url())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_joining_twice_is_harmless(client, world):
    learner = world.learners[0]
    english(client, learner)
    response = client.post(reverse("classrooms:join"), {"code": world.class_a.join_code}, follow=True)
    assert Membership.objects.filter(classroom=world.class_a, user=learner).count() == 1
    assert "You are already in the classroom « Classe A »." in messages_of(response)


def test_a_wrong_code_says_so(client, world):
    english(client, world.learners[0])
    response = client.post(reverse("classrooms:join"), {"code": "NOPE2345"}, follow=True)
    assert "No classroom has the code « NOPE2345 ». Check it with your instructor." in messages_of(response)
    response = client.get(reverse("classrooms:join_code", args=["NOPE2345"]), follow=True)
    assert any("No classroom has the code" in m for m in messages_of(response))


def test_an_archived_classroom_accepts_no_one_by_code_or_link(client, world):
    joining.set_archived(classroom=world.class_a, archived=True)
    newcomer = User.objects.create_user("newcomer")
    english(client, newcomer)
    response = client.post(reverse("classrooms:join"), {"code": world.class_a.join_code}, follow=True)
    assert "The classroom « Classe A » is archived: it accepts no new learners." in messages_of(response)
    client.post(world.class_a.get_join_url())
    assert not Membership.objects.filter(user=newcomer).exists()
    with pytest.raises(joining.JoinRefused):
        joining.join(user=newcomer, code=world.class_a.join_code)


def test_a_learner_may_be_in_several_classrooms_and_sees_only_their_own(client, world):
    learner = world.learners[0]
    joining.join(user=learner, code=world.class_b.join_code)
    english(client, learner)
    page = client.get(reverse("classrooms:join")).text
    assert "Classe A" in page and "Classe B" in page
    english(client, world.zoe)
    page = client.get(reverse("classrooms:join")).text
    assert "Classe B" in page and "Classe A" not in page


def test_the_instructor_sees_the_roster_and_removes_a_learner(client, world):
    english(client, world.ines)
    page = client.get(reverse("classrooms:detail", args=[world.class_a.pk])).text
    for learner in world.learners:
        assert learner.username in page
    assert "zoe" not in page
    removed = world.learners[3]
    client.post(reverse("classrooms:member_remove", args=[world.class_a.pk, removed.pk]))
    assert not Membership.objects.filter(classroom=world.class_a, user=removed).exists()
    assert removed.quiz_attempts.exists()  # their own work stays theirs


def test_the_instructor_archives_and_reopens_a_classroom(client, world):
    english(client, world.ines)
    client.post(reverse("classrooms:archive", args=[world.class_a.pk]), {"archived": "1"})
    world.class_a.refresh_from_db()
    assert world.class_a.is_archived
    client.post(reverse("classrooms:archive", args=[world.class_a.pk]), {"archived": "0"})
    world.class_a.refresh_from_db()
    assert not world.class_a.is_archived


def test_an_instructor_cannot_reach_another_instructors_classroom_by_any_url(client, world):
    learner = world.learners[0]
    live = sandbox(learner, world.lab, at=T0, status=Sandbox.Status.READY)
    client.force_login(world.bruno)
    gets, posts = instructor_urls(world, world.class_a, learner, live.pk)
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url).status_code == 404, url
    assert Membership.objects.filter(classroom=world.class_a).count() == 4
    live.refresh_from_db()
    world.class_a.refresh_from_db()
    assert live.status == Sandbox.Status.READY and not world.class_a.is_archived


def test_an_instructor_cannot_see_a_learner_or_sandbox_of_another_classroom_through_their_own(client, world):
    learner = world.learners[0]  # in Ines's classroom only
    live = sandbox(learner, world.lab, at=T0, status=Sandbox.Status.READY)
    client.force_login(world.bruno)
    gets, posts = instructor_urls(world, world.class_b, learner, live.pk)
    assert client.get(reverse("classrooms:learner", args=[world.class_b.pk, learner.pk])).status_code == 404
    for url in posts[1:]:
        assert client.post(url).status_code == 404, url
    live.refresh_from_db()
    assert live.status == Sandbox.Status.READY


def test_learners_get_no_instructor_page_even_of_their_own_classroom(client, world):
    learner = world.learners[0]
    live = sandbox(learner, world.lab, at=T0, status=Sandbox.Status.READY)
    client.force_login(learner)
    gets, posts = instructor_urls(world, world.class_a, learner, live.pk)
    for url in [reverse("classrooms:list"), *gets]:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url).status_code == 403, url
    live.refresh_from_db()
    assert live.status == Sandbox.Status.READY


def test_anonymous_visitors_are_sent_to_log_in_from_instructor_pages(client, world):
    response = client.get(reverse("classrooms:matrix", args=[world.class_a.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_other_classrooms_learners_never_appear_on_an_instructors_pages(client, world):
    client.force_login(world.ines)
    pk = world.class_a.pk
    for name in ("detail", "matrix", "quiz_statistics", "lab_statistics", "sandboxes"):
        body = client.get(reverse(f"classrooms:{name}", args=[pk])).content.decode()
        assert "zoe" not in body and "Zoé" not in body and "Message de Zoé" not in body, name
    for name in ("matrix_csv", "attempts_csv"):
        assert "zoe" not in client.get(reverse(f"classrooms:{name}", args=[pk])).content.decode("utf-8-sig")


def test_an_admin_grants_the_instructor_role_from_the_user_page(client, world):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-12345")
    client.force_login(admin)
    page = client.get(reverse("admin:auth_user_change", args=[world.learners[0].pk])).text
    assert INSTRUCTORS_GROUP in page
    assert client.get(reverse("admin:classrooms_classroom_changelist")).status_code == 200


def test_an_expired_code_says_so_and_a_renewed_code_replaces_the_old_one(client, world):
    from datetime import timedelta

    from django.utils import timezone

    world.class_a.join_code_expires_at = timezone.now() - timedelta(minutes=1)
    world.class_a.save()
    newcomer = User.objects.create_user("newcomer")
    english(client, newcomer)
    old_code = world.class_a.join_code
    response = client.post(reverse("classrooms:join"), {"code": old_code}, follow=True)
    assert f"The code « {old_code} » has expired. Ask your instructor for a new one." in messages_of(response)
    assert not Membership.objects.filter(user=newcomer).exists()

    english(client, world.ines)
    client.post(reverse("classrooms:renew_code", args=[world.class_a.pk]), {"expires_at": ""})
    world.class_a.refresh_from_db()
    assert world.class_a.join_code != old_code and world.class_a.join_code_expires_at is None
    english(client, newcomer)
    response = client.post(reverse("classrooms:join"), {"code": old_code}, follow=True)
    assert any("No classroom has the code" in m for m in messages_of(response))
    client.post(reverse("classrooms:join"), {"code": world.class_a.join_code})
    assert Membership.objects.filter(classroom=world.class_a, user=newcomer).exists()


def test_another_instructor_cannot_renew_my_code(client, world):
    code = world.class_a.join_code
    client.force_login(world.bruno)
    assert client.post(reverse("classrooms:renew_code", args=[world.class_a.pk])).status_code == 404
    world.class_a.refresh_from_db()
    assert world.class_a.join_code == code
