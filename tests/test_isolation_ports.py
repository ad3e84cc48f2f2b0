"""Which ports of the sandboxes' bridge /healthz reports, from what `bridge link` says (plain data)."""

from grader import isolation


def reading(*answers):
    """bridge_ports() answering each of `answers` in turn, and the pauses port_problems took."""
    answers, pauses = list(answers), []
    return (lambda bridge: answers.pop(0)), pauses


def test_a_port_isolated_a_moment_after_it_appeared_is_a_sandbox_starting_not_a_problem(monkeypatch):
    ports, pauses = reading({"vethreg": False, "veth1": True, "veth2": False}, {"vethreg": False, "veth1": True, "veth2": True})
    monkeypatch.setattr(isolation, "bridge_ports", ports)
    assert isolation.port_problems("drydock-sbx", open_ports={"vethreg"}, sleep=pauses.append) == []
    assert pauses == [isolation.PORT_SETTLE_SECONDS]


def test_a_port_still_not_isolated_after_the_pause_is_named(monkeypatch):
    ports, pauses = reading({"vethreg": False, "veth1": False, "veth2": False}, {"vethreg": False, "veth1": False})
    monkeypatch.setattr(isolation, "bridge_ports", ports)
    # veth2 went away meanwhile (its sandbox removed): only veth1 is a problem.
    assert isolation.port_problems("drydock-sbx", open_ports={"vethreg"}, sleep=pauses.append) == ["port veth1 of drydock-sbx is not isolated"]


def test_all_ports_isolated_but_the_registrys_answers_at_once(monkeypatch):
    ports, pauses = reading({"vethreg": False, "veth1": True})
    monkeypatch.setattr(isolation, "bridge_ports", ports)
    assert isolation.port_problems("drydock-sbx", open_ports={"vethreg"}, sleep=pauses.append) == []
    assert pauses == []


def test_an_isolated_registry_port_is_named_without_waiting(monkeypatch):
    ports, pauses = reading({"vethreg": True, "veth1": True})
    monkeypatch.setattr(isolation, "bridge_ports", ports)
    assert isolation.port_problems("drydock-sbx", open_ports={"vethreg"}, sleep=pauses.append) == [
        "the registry's port vethreg is isolated: sandboxes cannot pull"
    ]
