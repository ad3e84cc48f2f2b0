"""Which ports of the sandboxes' bridge /healthz reports, and how a port is read and isolated (plain data, a copy of the kernel's files)."""

from grader import isolation


class Host:
    """bridge_ports() answering what `ports` holds now, and a clock the test moves."""

    def __init__(self, monkeypatch, ports):
        self.ports, self.time, self.seen = ports, 100.0, {}
        monkeypatch.setattr(isolation, "bridge_ports", lambda bridge: dict(self.ports))

    def problems(self):
        return isolation.port_problems("drydock-sbx", open_ports={"vethreg"}, now=lambda: self.time, seen=self.seen)


def test_a_port_isolated_soon_after_it_appeared_is_a_sandbox_starting_not_a_problem(monkeypatch):
    host = Host(monkeypatch, {"vethreg": False, "veth1": True, "veth2": False})
    assert host.problems() == []
    host.time += 3
    host.ports["veth2"] = True
    assert host.problems() == []
    assert host.seen == {}


def test_a_port_still_not_isolated_when_the_settling_time_is_over_is_named(monkeypatch):
    host = Host(monkeypatch, {"vethreg": False, "veth1": False})
    assert host.problems() == []
    host.time += isolation.PORT_SETTLE_SECONDS - 1
    assert host.problems() == []
    host.time += 1
    assert host.problems() == ["port veth1 of drydock-sbx is not isolated"]


def test_a_port_that_went_away_is_forgotten_and_a_new_one_gets_its_own_time(monkeypatch):
    host = Host(monkeypatch, {"vethreg": False, "veth1": False})
    host.problems()
    host.time += isolation.PORT_SETTLE_SECONDS
    host.ports = {"vethreg": False, "veth2": False}  # veth1's sandbox removed, veth2's starting
    assert host.problems() == []
    assert host.seen == {"veth2": host.time}


def test_an_isolated_registry_port_is_named_at_once(monkeypatch):
    host = Host(monkeypatch, {"vethreg": True, "veth1": True})
    assert host.problems() == ["the registry's port vethreg is isolated: sandboxes cannot pull"]


# --- The kernel's files (/sys/class/net), on a copy of their layout --------------------------------------


def sysfs(tmp_path, monkeypatch, bridges):
    """A /sys/class/net of `bridges` ({bridge: {port: "0" or "1"}}), as the kernel lays it out: each port's brport
    folder, its master link to its bridge, and the bridge's brif/ entry leading to that folder."""
    for bridge, ports in bridges.items():
        (tmp_path / bridge / "brif").mkdir(parents=True)
        for port, isolated in ports.items():
            (tmp_path / port / "brport").mkdir(parents=True)
            (tmp_path / port / "brport" / "isolated").write_text(isolated + "\n")
            (tmp_path / port / "master").symlink_to(f"../{bridge}")
            (tmp_path / bridge / "brif" / port).symlink_to(f"../../{port}/brport")
    monkeypatch.setattr(isolation, "SYS_NET", tmp_path)
    monkeypatch.setattr(isolation, "_json", no_command)
    return tmp_path


def no_command(cmd):
    raise AssertionError(f"ran {cmd}")


def test_the_bridges_ports_are_read_from_the_kernels_files_without_running_a_command(tmp_path, monkeypatch):
    sysfs(tmp_path, monkeypatch, {"drydock-sbx": {"vethreg": "0", "veth1": "1"}, "docker0": {"veth9": "0"}})
    assert isolation.bridge_ports("drydock-sbx") == {"vethreg": False, "veth1": True}
    assert isolation.port_isolated("drydock-sbx", "veth1") and not isolation.port_isolated("drydock-sbx", "vethreg")
    assert not isolation.port_isolated("drydock-sbx", "veth9")  # isolated or not, it is another bridge's


def test_a_sandboxs_port_is_isolated_by_writing_its_flag(tmp_path, monkeypatch):
    root = sysfs(tmp_path, monkeypatch, {"drydock-sbx": {"vethreg": "0", "veth1": "0"}})
    monkeypatch.setattr(isolation, "port_on", lambda netns, bridge: "veth1")
    assert isolation.isolate_port("/run/docker/netns/abc", "drydock-sbx") == "veth1"
    assert (root / "veth1" / "brport" / "isolated").read_text() == "1\n"
    assert isolation.bridge_ports("drydock-sbx") == {"vethreg": False, "veth1": True}


def test_a_port_on_another_bridge_is_refused_after_its_flag_is_written(tmp_path, monkeypatch):
    sysfs(tmp_path, monkeypatch, {"drydock-sbx": {"vethreg": "0"}, "docker0": {"veth9": "0"}})
    monkeypatch.setattr(isolation, "port_on", lambda netns, bridge: "veth9")
    try:
        isolation.isolate_port("/run/docker/netns/abc", "drydock-sbx")
    except isolation.IsolationError as exc:
        assert "veth9 is not an isolated port of drydock-sbx" in str(exc)
    else:
        raise AssertionError("a port of another bridge was taken as isolated")


def test_without_the_kernels_files_the_bridge_tool_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(isolation, "SYS_NET", tmp_path)
    answer = [{"ifname": "veth1", "master": "drydock-sbx", "isolated": True}, {"ifname": "veth9", "master": "docker0"}]
    monkeypatch.setattr(isolation, "_json", lambda cmd: answer if cmd[:2] == ["bridge", "-j"] else [])
    assert isolation.bridge_ports("drydock-sbx") == {"veth1": True}
    assert isolation.port_isolated("drydock-sbx", "veth1")


def test_where_the_kernels_files_are_read_only_the_port_is_isolated_with_the_bridge_tool(tmp_path, monkeypatch):
    root = sysfs(tmp_path, monkeypatch, {"drydock-sbx": {"vethreg": "0", "veth1": "0"}})
    monkeypatch.setattr(isolation, "port_on", lambda netns, bridge: "veth1")
    flag = root / "veth1" / "brport" / "isolated"
    real_write = type(flag).write_text

    def read_only(path, *args, **kwargs):
        if path == flag:
            raise OSError(30, "Read-only file system")  # /sys in a container that is not privileged
        return real_write(path, *args, **kwargs)

    ran = []

    def bridge_tool(cmd, check=True):
        ran.append(cmd)
        real_write(flag, "1\n")  # what the kernel then shows

    monkeypatch.setattr(type(flag), "write_text", read_only)
    monkeypatch.setattr(isolation, "_run", bridge_tool)
    assert isolation.isolate_port("/run/docker/netns/abc", "drydock-sbx") == "veth1"
    assert ran == [["bridge", "link", "set", "dev", "veth1", "isolated", "on"]]


def inside_links(monkeypatch, peers, host_names):
    """The sandbox's links as `ip -j link show` prints them in its namespace, and the host's names of link indexes."""
    links = [{"ifname": "lo"}] + [{"ifname": f"eth{n}", "link_index": index} for n, index in enumerate(peers)]
    monkeypatch.setattr(isolation, "_json", lambda cmd: links if cmd[0] == "nsenter" else no_command(cmd))

    def if_indextoname(index):
        if index not in host_names:
            raise OSError(6, "No such device or address")
        return host_names[index]

    monkeypatch.setattr(isolation.socket, "if_indextoname", if_indextoname)


def test_the_sandboxs_port_is_the_host_side_of_its_one_veth_on_the_bridge(tmp_path, monkeypatch):
    sysfs(tmp_path, monkeypatch, {"drydock-sbx": {"vethreg": "0", "veth1": "0"}, "docker0": {"veth9": "0"}})
    inside_links(monkeypatch, [41], {41: "veth1", 42: "veth9"})
    assert isolation.port_on("/run/docker/netns/abc", "drydock-sbx") == "veth1"


def test_no_port_or_two_ports_on_the_bridge_are_refused(tmp_path, monkeypatch):
    sysfs(tmp_path, monkeypatch, {"drydock-sbx": {"vethreg": "0", "veth1": "0", "veth2": "1"}, "docker0": {"veth9": "0"}})
    for peers in ([42], [41, 43], [7]):
        inside_links(monkeypatch, peers, {41: "veth1", 42: "veth9", 43: "veth2"})
        try:
            isolation.port_on("/run/docker/netns/abc", "drydock-sbx")
        except isolation.IsolationError as exc:
            assert "ports of drydock-sbx lead into /run/docker/netns/abc, not one" in str(exc)
        else:
            raise AssertionError(f"a port was chosen for peers {peers}")
