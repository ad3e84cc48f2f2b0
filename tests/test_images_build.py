"""images/build.py makes the network and registry that settings name, from the same variables."""

import importlib.util
import sys

import pytest

from tests.conftest import BASE_DIR

spec = importlib.util.spec_from_file_location("images_build", BASE_DIR / "images" / "build.py")
build = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = build  # its dataclasses look their module up by name
spec.loader.exec_module(build)


def test_the_build_uses_the_settings_defaults_when_nothing_is_set():
    assert build.sandbox_network({}) == "drydock-sandboxes"
    assert build.registry_address({}) == ("drydock-registry", 5000)


def test_the_build_follows_the_sandbox_network_and_mirror_a_deployment_sets(settings):
    environ = {"SANDBOX_NETWORK": "ecole-bacs", "SANDBOX_REGISTRY_MIRROR": "http://ecole-registry:5050"}
    assert build.sandbox_network(environ) == "ecole-bacs"
    assert build.registry_address(environ) == ("ecole-registry", 5050)


def test_the_build_and_the_platform_agree_on_the_names_in_this_run(settings):
    assert build.sandbox_network() == settings.SANDBOX_NETWORK
    assert f"http://{':'.join(map(str, build.registry_address()))}" == settings.SANDBOX_REGISTRY_MIRROR


@pytest.mark.parametrize("mirror", ["https://registry:443", "http://10.1.2.3:5000/v2", "http://:5000", "registry:5000"])
def test_a_mirror_that_is_not_a_registry_container_stops_the_build_with_a_clear_error(mirror):
    with pytest.raises(build.BuildError, match="must be http://<registry container name>:<port>"):
        build.registry_address({"SANDBOX_REGISTRY_MIRROR": mirror})
