"""The pager leads through each chapter: its lessons, then its labs, then its quizzes, then the next chapter."""

import pytest
import yaml
from django.urls import reverse

from courses import pager
from courses.packs import load_pack, read_pack
from tests.quizzes import add_quiz

pytestmark = pytest.mark.django_db

LAB = {
    "slug": "tirer", "title": "Tirer une version", "minutes": 10, "instructions": "Tirez **nginx**.",
    "tasks": [{"slug": "t", "title": "Tirer", "prompt": "Tirez `nginx:1.22`.", "check": "image_present", "params": {"image": "nginx:1.22"}}],
}


@pytest.fixture
def course(pack_builder):
    # Chapter 1: intro, images, then a lab and a quiz; chapter 2: volumes, then a second lab.
    pack_builder.course["chapters"][0]["labs"] = ["labs/tirer.yaml"]
    pack_builder.course["chapters"][1]["labs"] = ["labs/volumes.yaml"]
    pack_builder.files["labs/tirer.yaml"] = yaml.safe_dump(LAB, allow_unicode=True, sort_keys=False)
    pack_builder.files["labs/volumes.yaml"] = yaml.safe_dump({**LAB, "slug": "volumes-tp", "title": "Un volume"}, allow_unicode=True, sort_keys=False)
    add_quiz(pack_builder)
    pack_builder.write()
    return load_pack(read_pack(pack_builder.root)).course


def urls(course):
    return {
        "intro": reverse("courses:lesson", args=[course.slug, "intro"]),
        "images": reverse("courses:lesson", args=[course.slug, "images"]),
        "volumes": reverse("courses:lesson", args=[course.slug, "volumes"]),
        "tirer": reverse("labs:lab", args=[course.slug, "tirer"]),
        "volumes-tp": reverse("labs:lab", args=[course.slug, "volumes-tp"]),
        "quiz": reverse("quizzes:quiz", args=[course.slug, "bases-quiz"]),
    }


def test_the_path_is_each_chapters_lessons_then_labs_then_quizzes(course, learner):
    path = pager.course_path(learner, course)
    assert [(step.key, step.slug) for step in path] == [
        ("lessons", "intro"), ("lessons", "images"), ("labs", "tirer"), ("quizzes", "bases-quiz"),
        ("lessons", "volumes"), ("labs", "volumes-tp"),
    ]


def test_the_last_lesson_of_a_chapter_leads_to_its_lab_and_the_lab_back_to_it(learner_client, course):
    url = urls(course)
    lesson = learner_client.get(url["images"]).text
    assert f'rel="prev" href="{url["intro"]}"' in lesson
    assert f'rel="next" href="{url["tirer"]}"' in lesson and "TP : Tirer une version" in lesson
    # Marking it read goes on to the lab, not to the next chapter's lesson.
    assert f'<input type="hidden" name="next" value="{url["tirer"]}">' in lesson

    lab = learner_client.get(url["tirer"]).text
    assert f'rel="prev" href="{url["images"]}"' in lab
    assert f'rel="next" href="{url["quiz"]}"' in lab


def test_the_quiz_leads_to_the_next_chapter_and_the_last_lab_ends_the_path(learner_client, course):
    url = urls(course)
    quiz = learner_client.get(url["quiz"]).text
    assert f'rel="prev" href="{url["tirer"]}"' in quiz
    assert f'rel="next" href="{url["volumes"]}"' in quiz
    volumes = learner_client.get(url["volumes"]).text
    assert f'rel="prev" href="{url["quiz"]}"' in volumes and f'rel="next" href="{url["volumes-tp"]}"' in volumes
    last = learner_client.get(url["volumes-tp"]).text
    assert f'rel="prev" href="{url["volumes"]}"' in last and 'rel="next"' not in last


def test_a_chapter_without_labs_or_quizzes_goes_from_lesson_to_lesson(client, mini_course):
    page = client.get(reverse("courses:lesson", args=["mini", "images"])).text
    assert f'rel="next" href="{reverse("courses:lesson", args=["mini", "volumes"])}"' in page


def test_the_shipped_course_leads_from_the_last_lesson_of_a_chapter_to_its_labs(shipped_course, learner):
    path = [(step.key, step.slug) for step in pager.course_path(learner, shipped_course)]
    after = path[path.index(("lessons", "tags-et-versions")) + 1:]
    assert after[:2] == [("labs", "tirer-une-version"), ("labs", "observer-les-images")]
    assert after[2][0] == "quizzes"
    assert len(path) == len(set(path))


def test_a_course_path_is_built_once_then_kept_until_the_pack_changes(course, learner, pack_builder, django_assert_num_queries):
    first = pager.course_path(learner, course)
    with django_assert_num_queries(0):
        assert pager.course_path(learner, course) is first
    pack_builder.files["labs/tirer.yaml"] = yaml.safe_dump({**LAB, "title": "Tirer une autre version"}, allow_unicode=True, sort_keys=False)
    pack_builder.write()
    reloaded = load_pack(read_pack(pack_builder.root)).course
    assert "Tirer une autre version" in [step.title for step in pager.course_path(learner, reloaded)]


def test_a_course_path_is_built_on_every_page_when_not_kept(course, learner, settings, django_assert_num_queries):
    settings.COURSE_PATH_SECONDS = 0
    pager.course_path(learner, course)
    with django_assert_num_queries(3):
        pager.course_path(learner, course)


def test_the_outline_shows_each_chapters_labs_and_quizzes_in_place_in_the_pagers_order(learner_client, learner, course):
    page = learner_client.get(course.get_absolute_url()).text
    outline = page[page.index('class="outline"'):]  # not the "Start the course" link above it
    positions = [outline.index(f'href="{step.url}"') for step in pager.course_path(learner, course)]
    assert positions == sorted(positions)  # lesson, lesson, lab, quiz, then the next chapter's lesson and lab
    lab = outline[outline.rindex("<li", 0, positions[2]):positions[2]]
    assert 'class="badge badge-lab">TP</span>' in lab
    # A chapter lists its labs and quizzes before the next chapter starts.
    assert positions[3] < outline.index('id="chapitre-', positions[2]) < positions[4]


def test_the_shipped_outline_follows_the_pager_through_the_whole_course(client, shipped_course, learner):
    client.force_login(learner)
    page = client.get(shipped_course.get_absolute_url()).text
    outline = page[page.index('class="outline"'):]
    path = pager.course_path(learner, shipped_course)
    assert {step.key for step in path} == {"lessons", "labs", "quizzes"}
    positions = [outline.index(f'href="{step.url}"') for step in path]
    assert positions == sorted(positions)
