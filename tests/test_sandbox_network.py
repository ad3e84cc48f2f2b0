"""The addresses sandboxes lease on their subnet, and the order their port is made in (grader/sandbox_network.py).

Plain data: the kernel's answers are stood in for. The real ports are made by every sandbox the integration
tests start, and tests/test_sandbox_attacks.py attacks them.
"""

import ipaddress
import os
import shutil
import subprocess

import pytest

from grader import engine, isolation, sandbox_network
from grader.engine import EngineUnavailable

SUBNET = ipaddress.ip_network("10.215.0.0/20")
NETWORK = sandbox_network.SandboxNetwork(bridge="drydock-sbx", subnet=SUBNET, engine_range=ipaddress.ip_network("10.215.0.0/24"),
                                         gateway=ipaddress.ip_address("10.215.0.1"), docker_addresses=frozenset({ipaddress.ip_address("10.215.0.2")}))


def network(subnet, engine_range=None, **fields):
    subnet = ipaddress.ip_network(subnet)
    return sandbox_network.SandboxNetwork(bridge="b", subnet=subnet, engine_range=ipaddress.ip_network(engine_range) if engine_range else sandbox_network.engine_range(subnet), **fields)


def test_sandboxes_lease_past_the_subnets_first_sixteenth_dockers_and_short_of_its_broadcast():
    offsets = sandbox_network.sandbox_offsets(NETWORK)
    assert (offsets[0], offsets[-1], len(offsets)) == (256, 4094, 3839)
    assert sandbox_network.engine_range(SUBNET) == ipaddress.ip_network("10.215.0.0/24")
    # Docker's sixteenth is one address there, and the gateway is never leased.
    assert sandbox_network.sandbox_offsets(network("10.0.0.0/28", gateway=ipaddress.ip_address("10.0.0.1")))[:2] == [2, 3]
    with pytest.raises(isolation.IsolationError, match="10.0.0.0/29 is too small for sandboxes"):
        sandbox_network.engine_range(ipaddress.ip_network("10.0.0.0/29"))


def test_no_address_dockers_ipam_may_give_is_leased_wherever_its_range_and_gateway_are():
    # A network made by hand (or an older compose file) with Docker's range in the middle, the gateway past it.
    offsets = sandbox_network.sandbox_offsets(network("10.1.0.0/24", "10.1.0.64/27", gateway=ipaddress.ip_address("10.1.0.200")))
    assert offsets == [o for o in range(1, 255) if not 64 <= o <= 95 and o != 200]


def test_a_ports_name_is_its_lease_and_fits_linux_names():
    assert sandbox_network.port_name(12, 4094) == "dd12-4094"
    names = ["lo", "eth0", "dd12-300", "dd12-256", "dd7-257", "dd12-x", "drydock-sbx", "dd12-"]
    assert sandbox_network.leased_offsets(12, names) == {256, 300}
    with pytest.raises(isolation.IsolationError, match="longer than Linux allows"):
        sandbox_network.port_name(1234567, 1048574)


def test_leased_and_docker_addresses_are_never_offered():
    small = network("10.1.0.0/27", "10.1.0.0/30", docker_addresses=frozenset({ipaddress.ip_address("10.1.0.7")}))
    assert sandbox_network.free_offsets(small, 5, ["dd5-4", "dd5-6", "dd6-5"]) == [5, *range(8, 31)]


class Kernel:
    """What `ip` and `nsenter` answer: `taken` are the link names already there."""

    def __init__(self, taken=(), fail=None, ipv6_conf=None):
        self.taken, self.fail, self.calls = set(taken), fail, []
        self.ipv6_conf = ipv6_conf

    def names(self):
        return sorted(self.taken)

    def run(self, cmd, *, stdin=None, pass_fds=()):
        assert "/proc/self/fd/5" not in " ".join(cmd) or pass_fds == (5,)
        self.calls.append((cmd, stdin))
        words = " ".join(cmd) + (stdin or "")
        if self.fail and self.fail in words:
            return subprocess.CompletedProcess(cmd, 2, "", f"RTNETLINK answers: {self.fail} refused")
        if cmd[:3] == ["ip", "link", "add"]:
            if cmd[3] in self.taken:
                return subprocess.CompletedProcess(cmd, 2, "", "RTNETLINK answers: File exists")
            self.taken.add(cmd[3])
            (self.ipv6_conf / cmd[3]).mkdir()
            (self.ipv6_conf / cmd[3] / "disable_ipv6").write_text("0")
        if cmd[:3] == ["ip", "link", "del"]:
            self.taken.discard(cmd[3])
            shutil.rmtree(self.ipv6_conf / cmd[3], ignore_errors=True)
        if cmd[0] == "nsenter" and cmd[-2:] == ["show", "eth0"]:
            return subprocess.CompletedProcess(cmd, 1, "", "Device \"eth0\" does not exist.")
        return subprocess.CompletedProcess(cmd, 0, "", "")


@pytest.fixture
def kernel(monkeypatch, tmp_path):
    found = Kernel(ipv6_conf=tmp_path)
    monkeypatch.setattr(sandbox_network, "_run", found.run)
    monkeypatch.setattr(sandbox_network, "IPV6_CONF", found.ipv6_conf)
    monkeypatch.setattr(sandbox_network, "_bridge_index", lambda bridge: 12)
    monkeypatch.setattr(isolation, "port_isolated", lambda bridge, port: True)
    return found


def test_a_start_beside_this_one_leasing_the_same_address_makes_this_one_pick_another(kernel):
    # The listing is taken before the other start's link: this one picks 256 too, is refused it, looks again.
    listings = iter([[], ["dd12-256"]])
    kernel.taken.add("dd12-256")
    name, offset = sandbox_network._lease(5, NETWORK, 12, pick=lambda free: free[0], names=lambda: next(listings))
    assert (name, offset) == ("dd12-257", 257)
    assert kernel.taken == {"dd12-256", "dd12-257"}


def test_a_full_subnet_is_said_as_such(kernel):
    tiny = network("10.1.0.0/29", "10.1.0.0/31")
    with pytest.raises(isolation.IsolationError, match=r"no address is left for a sandbox on 10.1.0.0/29: all 5 are leased"):
        sandbox_network._lease(5, tiny, 12, names=lambda: [f"dd12-{n}" for n in range(2, 7)])


def test_the_hosts_end_is_isolated_before_it_is_up_and_the_sandbox_gets_no_ipv6(kernel, monkeypatch):
    monkeypatch.setattr(sandbox_network.os, "listdir", lambda path: ["dd12-256"])
    port = sandbox_network.connect(5, NETWORK)
    assert port.address in SUBNET and port.address != ipaddress.ip_address("10.215.1.0") and port.prefix_length == 20
    steps = [" ".join(cmd) + (stdin or "") for cmd, stdin in kernel.calls]
    isolated = next(i for i, step in enumerate(steps) if "isolated on" in step)
    host_up = next(i for i, step in enumerate(steps) if step == f"ip link set {port.name} up")
    inside = next(step for step in steps if step.startswith("nsenter --net=/proc/self/fd/5 sh -c"))
    assert steps[0].startswith(f"ip link add {port.name} type veth peer name eth0 netns /proc/self/fd/5")
    assert isolated < host_up == len(steps) - 1
    assert "disable_ipv6" in inside and "addrgenmode none" in inside and f"addr add {port.address}/20 dev eth0" in inside
    assert f"link set {port.name} addrgenmode none" in steps[isolated]
    assert (kernel.ipv6_conf / port.name / "disable_ipv6").read_text() == "1"


def test_a_host_end_whose_ipv6_cannot_be_disabled_is_removed_and_never_up(kernel, monkeypatch):
    monkeypatch.setattr(sandbox_network.os, "listdir", lambda path: [])
    monkeypatch.setattr(sandbox_network, "IPV6_CONF", kernel.ipv6_conf / "elsewhere")
    (kernel.ipv6_conf / "elsewhere").mkdir()
    with pytest.raises(isolation.IsolationError, match=r"IPv6 could not be disabled on dd12-\d+"):
        sandbox_network.connect(5, NETWORK)
    assert kernel.taken == set()


def test_a_port_that_would_not_isolate_is_removed_and_never_up(kernel, monkeypatch):
    monkeypatch.setattr(isolation, "port_isolated", lambda bridge, port: False)
    monkeypatch.setattr(sandbox_network.os, "listdir", lambda path: [])
    with pytest.raises(isolation.IsolationError, match="is not an isolated port of drydock-sbx"):
        sandbox_network.connect(5, NETWORK)
    assert kernel.taken == set()
    assert not any(cmd[-1] == "up" and cmd[:3] == ["ip", "link", "set"] for cmd, _ in kernel.calls)


def test_a_failing_step_removes_the_port(kernel, monkeypatch):
    kernel.fail = "addr add"
    monkeypatch.setattr(sandbox_network.os, "listdir", lambda path: [])
    with pytest.raises(isolation.IsolationError, match="refused"):
        sandbox_network.connect(5, NETWORK)
    assert kernel.taken == set()


def test_a_sandbox_in_the_hosts_network_namespace_is_refused_a_port():
    with pytest.raises(isolation.IsolationError, match="runs in the host's network namespace"):
        sandbox_network.open_namespace(os.getpid())


def spec(**changes):
    values = dict(name="s", image="i", labels={}, socket_dir="/tmp/s", network="drydock-sandboxes", bridge="drydock-sbx",
                  registry_mirror="http://drydock-registry:5000", memory_mb=1, pids_limit=1, cpus=1, log_max_size="1m", disk_gb=1,
                  disk_templates="/tmp", seccomp_profile="/dev/null")
    return engine.SandboxSpec(**{**values, **changes})


def inspected(**changes):
    return {
        "Id": "ab" * 32, "Options": {"com.docker.network.bridge.name": "drydock-sbx"},
        "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "10.215.0.0/20", "IPRange": "10.215.0.0/24", "Gateway": "10.215.0.1"}]},
        "Containers": {"c1": {"Name": "drydock-registry", "IPv4Address": "10.215.0.2/20"}, "c2": {"Name": "cli", "IPv4Address": "10.215.3.7/20"}},
        **changes,
    }


def test_the_network_a_start_uses_is_the_engines_own_description():
    network, registry = engine._described_network(inspected(), spec())
    assert (network.bridge, network.subnet, registry) == ("drydock-sbx", SUBNET, "10.215.0.2")
    assert (network.engine_range, network.gateway) == (NETWORK.engine_range, NETWORK.gateway)
    assert network.docker_addresses == {ipaddress.ip_address("10.215.0.2"), ipaddress.ip_address("10.215.3.7")}


@pytest.mark.parametrize(("changes", "message"), [
    ({"Options": {}}, "runs on bridge br-abababababab, not drydock-sbx"),
    ({"IPAM": {"Config": [{"Subnet": "fd00::/64"}]}}, "has no IPv4 subnet"),
    ({"IPAM": {"Config": [{"Subnet": "10.215.0.0/20"}]}}, r"lets Docker give any address of 10.215.0.0/20, those sandboxes lease too \(no ip-range\)"),
    ({"Containers": {}}, "the course registry drydock-registry is not on the sandboxes' network drydock-sandboxes"),
])
def test_a_network_sandboxes_cannot_use_is_refused_with_what_is_wrong(changes, message):
    with pytest.raises(EngineUnavailable, match=message):
        engine._described_network(inspected(**changes), spec())


def test_the_second_engines_sandboxes_network_keeps_dockers_range_as_the_first_engines_does():
    from tests.conftest import drydock_cli

    registry, sandboxes, docker_range = drydock_cli()._second_engine_subnets("10.224.0.0/21")
    assert (registry, sandboxes) == ("10.224.0.0/24", "10.224.4.0/22")
    assert docker_range == str(sandbox_network.engine_range(ipaddress.ip_network(sandboxes)))
