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


def test_the_sandboxes_subnet_holds_one_address_per_sandbox_the_host_may_hold_past_dockers_sixteenth():
    assert build.sandbox_subnet({}) == "10.215.0.0/20"
    # 512 addresses: Docker's 32, the network's own and its broadcast are not leased.
    assert build.leasable_addresses(build.ipaddress.IPv4Network("10.9.0.0/23")) == 479
    assert build.sandbox_subnet({"SANDBOX_SUBNET": "10.9.0.0/23", "SANDBOX_MAX_PER_HOST": "479"}) == "10.9.0.0/23"
    with pytest.raises(build.BuildError, match=r"SANDBOX_SUBNET=10.9.0.0/24 has 239 addresses sandboxes may lease \(its first sixteenth is Docker's, the registry's\); SANDBOX_MAX_PER_HOST=400 needs 400"):
        build.sandbox_subnet({"SANDBOX_SUBNET": "10.9.0.0/24"})
    # Docker's range alone when it networks the sandboxes itself (the bench's baseline): 252 of a /20's first /24.
    with pytest.raises(build.BuildError, match=r"SANDBOX_NETWORK_BY_ENGINE=1: Docker gives sandboxes the 253 addresses of 10.215.0.0/24 alone"):
        build.sandbox_subnet({"SANDBOX_NETWORK_BY_ENGINE": "1"})
    assert build.sandbox_subnet({"SANDBOX_NETWORK_BY_ENGINE": "1", "SANDBOX_MAX_PER_HOST": "100"}) == "10.215.0.0/20"
    with pytest.raises(build.BuildError, match=r"SANDBOX_SUBNET=10.9.0.0/29 has 0 addresses"):
        build.sandbox_subnet({"SANDBOX_SUBNET": "10.9.0.0/29", "SANDBOX_MAX_PER_HOST": "1"})
    with pytest.raises(build.BuildError, match="SANDBOX_SUBNET='10.9.0.300/20' is not an IPv4 subnet"):
        build.sandbox_subnet({"SANDBOX_SUBNET": "10.9.0.300/20"})


# --- The catalogue: two nginx versions, one image under several tags, shared bases ------------


def course_entries():
    _, _, entries = build.load_catalog()
    return {ref: entry for entry in entries if entry.course for ref in entry.refs}


def test_nginx_latest_is_the_1_26_image_under_its_full_version_tag_and_1_22_is_another():
    entries = course_entries()
    assert entries["nginx:latest"] is entries["nginx:1.26"] is entries["nginx:1.26.3"]
    assert entries["nginx:1.22"] is entries["nginx:1.22.1"]
    assert entries["nginx:1.22"] is not entries["nginx:1.26"]
    assert entries["nginx:1.22"].froms == ["debian:bookworm-slim"]
    assert entries["nginx:1.26"].froms == ["debian:trixie-slim"]


def test_the_bookworm_images_share_their_base_and_nginx_1_26_shares_trixie_with_published_images():
    entries = course_entries()
    for ref in ("nginx:1.22", "redis:7.0", "httpd:2.4", "node:18"):
        assert entries[ref].froms == ["debian:bookworm-slim"], ref
    # debian:trixie-slim is a course image itself, and registry:2 is built on it too.
    assert entries["debian:trixie-slim"].context is None and "debian:13-slim" in entries
    assert entries["registry:2"].froms == ["debian:trixie-slim"]


def test_registry_2_is_a_writable_registry_on_5000_with_its_storage_a_volume():
    dockerfile = (BASE_DIR / "images" / "registry-2" / "Dockerfile").read_text()
    config = (BASE_DIR / "images" / "registry-2" / "config.yml").read_text()
    assert "VOLUME /var/lib/registry" in dockerfile and "EXPOSE 5000" in dockerfile
    assert "rootdirectory: /var/lib/registry" in config and "addr: :5000" in config
    assert "readonly" not in config
    assert {"registry:2", "registry:latest", "registry:2.8.3"} <= set(course_entries())


def test_every_versioned_entry_lists_its_full_version_tag_so_packs_can_name_it():
    _, _, entries = build.load_catalog()
    for entry in entries:
        if entry.package or entry.version_cmd:
            assert any(build.re.fullmatch(r"\d+\.\d+\.\d+", tag) for tag in entry.tags), entry.name


def test_a_tag_claimed_by_two_entries_or_a_base_that_is_not_one_stops_the_build():
    one = build.Entry(name="nginx", tags=["1.22", "latest"], context="nginx-1.22", course=True)
    two = build.Entry(name="nginx", tags=["1.26", "latest"], context="nginx-1.26", course=True)
    with pytest.raises(build.BuildError, match="nginx:latest is tagged by two entries"):
        build.check_catalog([one, two], ["debian:bookworm-slim"])
    base = build.Entry(name="debian", tags=["sid-slim"], context=None, course=True)
    with pytest.raises(build.BuildError, match="debian:sid-slim is not one"):
        build.check_catalog([base], ["debian:bookworm-slim"])
    build.check_catalog([one, build.Entry(name="nginx", tags=["1.26"], context="nginx-1.26", course=True)], ["debian:bookworm-slim"])


def test_two_entries_of_one_name_are_built_in_from_order():
    _, _, entries = build.load_catalog()
    order = [entry.ref for entry in build.build_order(entries)]
    assert order.index("debian:trixie-slim") < order.index("nginx:1.26") and order.index("debian:bookworm-slim") < order.index("nginx:1.22")


@pytest.mark.integration
def test_the_course_registry_serves_every_catalogue_tag_one_image_per_entry():
    port = int(build.os.environ.get("DRYDOCK_REGISTRY_PORT", "5000"))
    _, _, entries = build.load_catalog()
    for entry in (e for e in entries if e.course):
        ids = {tag: build.registry_image_id(port, f"library/{entry.name}", tag) for tag in entry.tags}
        assert None not in ids.values(), f"{entry.name}: not served: {[t for t, i in ids.items() if i is None]}"
        assert len(set(ids.values())) == 1, f"{entry.name}: {ids}"
    assert build.registry_image_id(port, "library/nginx", "1.22") != build.registry_image_id(port, "library/nginx", "1.26")


def test_a_registry_that_lost_the_sandboxes_network_is_attached_to_it_again(monkeypatch):
    """Up to date but off the sandboxes' network (made again, disconnected by hand): sandboxes would pull from nowhere."""
    calls = []
    monkeypatch.setattr(build, "ensure_network", lambda name, *, internal: None)
    monkeypatch.setattr(build, "ensure_volume", lambda name: None)
    monkeypatch.setattr(build, "wait_registry", lambda port: None)
    monkeypatch.setattr(build, "docker", lambda *args, **kw: calls.append(args))
    image = {"Id": "sha256:" + "ab" * 32}
    config = build.hashlib.sha256(
        f"{image['Id']} 5000  {build.REGISTRY_PORT_ON_NETWORK} {build.SANDBOX_NETWORK} {build.SANDBOX_SUBNET}".encode()).hexdigest()[:16]
    networks = {build.HOST_NETWORK: {}}
    container = {"Id": "cd" * 32, "Config": {"Labels": {"drydock.config-hash": config}}, "State": {"Running": True},
                 "NetworkSettings": {"Networks": networks}}
    monkeypatch.setattr(build, "inspect", lambda kind, name: image if kind == "image" else container)
    build.ensure_registry(5000, "")
    assert calls == [("network", "connect", "--ip", build.registry_ip(), build.SANDBOX_NETWORK, build.REGISTRY_CONTAINER)]
    calls.clear()
    networks[build.SANDBOX_NETWORK] = {}
    build.ensure_registry(5000, "")
    assert calls == []
