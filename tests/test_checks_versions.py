"""`different_images`: another version of an image is another image, judged on recorded-like snapshots."""

from grader.checks import params_problems, run_check
from grader.snapshot import Image, Snapshot

NGINX_122 = Image(id="sha256:" + "a1" * 32, tags=("nginx:1.22", "nginx:1.22.1"), digests=("nginx@sha256:" + "d1" * 32,), layers=("bookworm", "n1"))
NGINX_126 = Image(id="sha256:" + "a2" * 32, tags=("nginx:1.26", "nginx:1.26.3", "nginx:latest"), digests=("nginx@sha256:" + "d2" * 32,), layers=("trixie", "n2"))
REDIS = Image(id="sha256:" + "b2" * 32, tags=("redis:7.0",), digests=("redis@sha256:" + "d3" * 32,), layers=("bookworm", "r1"))


def verdict(params, *images):
    return run_check("different_images", Snapshot(images=images), params)


def test_two_versions_pulled_from_the_registry_are_two_images():
    passed = verdict({"images": ["nginx:1.22", "nginx:1.26"]}, NGINX_122, NGINX_126)
    assert passed.passed
    assert passed.message == "nginx:1.22, nginx:1.26 sont bien des images différentes : nginx:1.22 = a1a1a1a1a1a1, nginx:1.26 = a2a2a2a2a2a2."


def test_a_missing_version_is_named():
    failed = verdict({"images": ["nginx:1.22", "nginx:1.26"]}, NGINX_122)
    assert not failed.passed
    assert failed.message == "Il manque nginx:1.26 : tirez d'abord ces images."
    assert failed.found == "nginx:1.22, nginx:1.22.1"


def test_one_image_under_both_names_is_refused():
    # `docker tag nginx:1.22 nginx:1.26`: the learner's tag, no pull of 1.26.
    retagged = Image(id=NGINX_122.id, tags=("nginx:1.22", "nginx:1.26"), digests=NGINX_122.digests, layers=NGINX_122.layers)
    failed = verdict({"images": ["nginx:1.22", "nginx:1.26"]}, retagged)
    assert not failed.passed
    assert "désignent la même image" in failed.message and failed.expected == "un IMAGE ID par tag"


def test_another_image_tagged_with_the_version_is_not_a_pull_of_it():
    # `docker tag redis:7.0 nginx:1.26`: different IDs, but nginx:1.26 never came from the registry.
    redis_as_nginx = Image(id=REDIS.id, tags=("redis:7.0", "nginx:1.26"), digests=REDIS.digests, layers=REDIS.layers)
    failed = verdict({"images": ["nginx:1.22", "nginx:1.26"]}, NGINX_122, redis_as_nginx)
    assert not failed.passed
    assert failed.message.startswith("nginx:1.26 n'a pas été tirée du registre") and "docker pull nginx:1.26" in failed.message


def test_the_lab_must_name_the_images_to_compare():
    assert params_problems("different_images", {"images": ["nginx:1.22", "nginx:1.26"]}) == []
    assert params_problems("different_images", {}) != []
