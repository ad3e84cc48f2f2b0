"""Which ports of the sandboxes' bridge /healthz reports, from what `bridge link` says (plain data)."""

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
