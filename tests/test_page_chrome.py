"""The page chrome that only the language decides is rendered once per process (courses/templatetags/page_chrome.py)."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.template import loader
from django.urls import reverse

from courses.templatetags.page_chrome import PerLanguageNode

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')  # masked afresh on every page


def kept_blocks():
    return loader.get_template("base.html").template.nodelist.get_nodes_by_type(PerLanguageNode)


def rendered_each_time(patch):
    patch.setattr(PerLanguageNode, "render", lambda node, context: node.nodelist.render(context))


def test_pages_show_the_same_chrome_as_when_it_was_rendered_each_time_whoever_asks_and_in_each_language(client, mini_course, monkeypatch):
    alice = User.objects.create_user("alice")
    staff = User.objects.create_user("root-of-it", is_staff=True)
    pages = []
    for user, language, url in ((None, "fr", reverse("courses:home")), (alice, "fr", mini_course.get_absolute_url()),
                                (staff, "fr", reverse("courses:home") + "?page=2"), (alice, "en", reverse("courses:home"))):
        client.logout()
        if user is not None:
            client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        kept = TOKEN.sub("", client.get(url).text)
        with monkeypatch.context() as patch:
            rendered_each_time(patch)
            assert TOKEN.sub("", client.get(url).text) == kept
        pages.append(kept)
    assert "Se connecter" in pages[0] and "alice" in pages[1] and "root-of-it" not in pages[1]
    assert "root-of-it" in pages[2] and "?page=2" in pages[2] and 'lang="en"' in pages[3]


def test_the_chrome_is_rendered_once_per_language(client, mini_course):
    for block in kept_blocks():
        block.kept.clear()
    for language in ("fr", "en", "fr", "en"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        assert client.get(reverse("courses:home")).status_code == 200
    head = kept_blocks()[0].kept
    assert sorted(language for language, _, _ in head) == ["en", "fr"]
    assert all(len(block.kept) == 2 for block in kept_blocks() if block.kept)
