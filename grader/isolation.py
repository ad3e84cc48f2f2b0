"""The host's side of keeping sandboxes apart on their network: put in place, and check.

Sandboxes share one bridge with the course registry. Nothing here trusts an
address a sandbox could forge:
- every sandbox's port on the bridge is *isolated* (Linux bridge port
  isolation): isolated ports reach only ports that are not, which is the
  registry's alone, so one sandbox never reaches another at layer 2;
- the host takes nothing from the bridge: no IPv6 on it (no link-local
  address a sandbox could reach), and INPUT drops what comes in on it, IPv4
  and IPv6; nothing is forwarded from it elsewhere.

Standard library only: images/build.py (before the virtualenv exists) puts
the rules in place, the platform isolates each sandbox's port as it starts it
(and turns IPv6 off again on a bridge an engine restart re-made), and
/healthz checks all of it.
"""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

COMMENT = "drydock-sandboxes"


class IsolationError(Exception):
    """A rule could not be put in place or a port isolated; the message says which."""


def _run(cmd, *, check=True, stdin=None, pass_fds=()):
    # In C's locale: callers match the kernel's messages ("File exists"), which a host's locale would translate.
    try:
        result = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20, pass_fds=pass_fds,
                                env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as exc:
        raise IsolationError(f"`{' '.join(cmd)}` did not run: {exc}") from exc
    if check and result.returncode != 0:
        raise IsolationError(f"`{' '.join(cmd)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def host_rules(bridge):
    """(tool, chain, rule) the host needs for a sandbox bridge, in the order they go in."""
    tag = ["-m", "comment", "--comment", COMMENT]
    return [
        ("iptables", "INPUT", ["-i", bridge, *tag, "-j", "DROP"]),
        ("ip6tables", "INPUT", ["-i", bridge, *tag, "-j", "DROP"]),
        # Docker's rules for an --internal network drop what would leave it; this one does not depend on them.
        ("iptables", "FORWARD", ["-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"]),
        ("ip6tables", "FORWARD", ["-i", bridge, *tag, "-j", "DROP"]),
    ]


# Every sandbox's root is the same host uid (100000), and each container a nested runc starts holds a
# session keyring charged to it: the kernel's default quota (200 keys) would cap all sandboxes together
# at 200 running containers. What one sandbox can take is bounded by its pids limit.
KEY_QUOTAS = {"/proc/sys/kernel/keys/maxkeys": 100000, "/proc/sys/kernel/keys/maxbytes": 10_000_000}


def ensure_key_quotas():
    """Raise the per-user key quotas to KEY_QUOTAS (never lower them); return what changed."""
    changed = []
    for path, wanted in KEY_QUOTAS.items():
        current = Path(path)
        if current.exists() and int(current.read_text()) < wanted:
            current.write_text(f"{wanted}\n")
            changed.append(f"{current.name} {wanted}")
    return changed


def ipv6_sysctl(bridge):
    return Path("/proc/sys/net/ipv6/conf") / bridge / "disable_ipv6"


def apply_host_rules(bridge):
    """Put the host's rules for `bridge` in place (idempotent); return what changed, for the build's log."""
    changed = []
    for tool, chain, rule in host_rules(bridge):
        if shutil.which(tool) is None:
            raise IsolationError(f"{tool} is missing: install iptables")
        if _run([tool, "-C", chain, *rule], check=False).returncode != 0:
            _run([tool, "-I", chain, "1", *rule])
            changed.append(f"{tool} {chain} {' '.join(rule)}")
    if ensure_ipv6_off(bridge):
        changed.append(f"IPv6 off on {bridge}")
    changed += ensure_key_quotas()
    return changed


def ensure_ipv6_off(bridge):
    """IPv6 off on the bridge (a restarted engine re-makes it with IPv6 on); True if it had to be turned off."""
    sysctl = ipv6_sysctl(bridge)
    if sysctl.exists() and sysctl.read_text().strip() != "1":
        sysctl.write_text("1\n")
        return True
    return False


def host_problems(bridge):
    """What is missing of the host's rules for `bridge` (empty when all is in place)."""
    problems = []
    for tool, chain, rule in host_rules(bridge):
        if shutil.which(tool) is None or _run([tool, "-C", chain, *rule], check=False).returncode != 0:
            problems.append(f"missing {tool} {chain} rule for {bridge}")
    for path, wanted in KEY_QUOTAS.items():
        if Path(path).exists() and int(Path(path).read_text()) < wanted:
            problems.append(f"{Path(path).name} is below {wanted}")
    sysctl = ipv6_sysctl(bridge)
    if not sysctl.exists():
        problems.append(f"bridge {bridge} does not exist")
    elif sysctl.read_text().strip() != "1":
        problems.append(f"IPv6 is on for bridge {bridge}")
    return problems


def _json(cmd):
    try:
        return json.loads(_run(cmd).stdout or "[]")
    except ValueError as exc:
        raise IsolationError(f"`{' '.join(cmd)}` did not print JSON: {exc}") from exc


# The kernel's view of the host's links: a bridge lists its ports in brif/, each port's brport/isolated says 1 or 0.
# Read and written there, a sandbox's start costs no `ip` or `bridge` command listing every link of the host (each
# one took longer the more sandboxes ran); the tools remain for a kernel without the file.
SYS_NET = Path("/sys/class/net")


def _isolated_flag(port):
    return SYS_NET / port / "brport" / "isolated"


def bridge_ports(bridge):
    """{port name: isolated?} for every port of the bridge."""
    ports = SYS_NET / bridge / "brif"
    try:
        names = sorted(os.listdir(ports))
    except OSError:
        names = None
    if names is None or not all((ports / name / "isolated").exists() for name in names):
        return {port["ifname"]: bool(port.get("isolated")) for port in _json(["bridge", "-j", "-d", "link", "show"]) if port.get("master") == bridge}
    found = {}
    for name in names:
        try:
            found[name] = (ports / name / "isolated").read_text().strip() == "1"
        except OSError:
            continue  # a port gone since the listing: a sandbox that stopped
    return found


def port_on(netns_path, bridge):
    """The port of `bridge` that leads into the network namespace `netns_path` (the host side of its veth)."""
    inside = _json(["nsenter", f"--net={netns_path}", "ip", "-j", "link", "show"])
    peers = {link["link_index"] for link in inside if link.get("link_index") is not None}
    ports = []
    for index in sorted(peers):
        try:
            name = socket.if_indextoname(index)
        except OSError:
            continue  # no link of the host's has that index: the peer is in another namespace
        if (SYS_NET / name / "master").resolve().name == bridge:
            ports.append(name)
    if len(ports) != 1:
        # None, or more than the one network a sandbox is given: which one is its own cannot be told for sure.
        raise IsolationError(f"{len(ports)} ports of {bridge} lead into {netns_path}, not one")
    return ports[0]


def port_isolated(bridge, port):
    """Whether `port` is an isolated port of `bridge`."""
    flag = SYS_NET / bridge / "brif" / port / "isolated"
    try:
        return flag.read_text().strip() == "1"
    except OSError:
        if _isolated_flag(port).exists():
            return False  # the kernel has the file, and the port is not on that bridge
    return bridge_ports(bridge).get(port) is True


def isolate_port(netns_path, bridge):
    """Isolate the container's port on `bridge`; return the port's name."""
    port = port_on(netns_path, bridge)
    try:
        _isolated_flag(port).write_text("1\n")
    except OSError:
        # No such file on this kernel, or /sys read-only (a container that is not privileged: the compose file's
        # workers): the bridge tool needs only CAP_NET_ADMIN.
        _run(["bridge", "link", "set", "dev", port, "isolated", "on"])
    if not port_isolated(bridge, port):
        raise IsolationError(f"{port} is not an isolated port of {bridge}")
    return port


# A sandbox's port exists, not isolated, from its container's start until the engine isolates it a moment
# later (seconds on a loaded host: measured at 400 sandboxes); the sandbox runs nothing in between
# (images/sandbox/entrypoint.sh waits). A port seen not isolated this long ago, and still not, is a problem.
PORT_SETTLE_SECONDS = 10.0
# port -> when this process first saw it not isolated (time.monotonic()), for port_problems.
_SEEN_NOT_ISOLATED = {}


def port_problems(bridge, *, open_ports, settle=PORT_SETTLE_SECONDS, now=time.monotonic, seen=_SEEN_NOT_ISOLATED):
    """Ports of `bridge` that are wrong: a sandbox's port not isolated, or an `open_ports` one (the registry's) isolated.

    It never waits: a port found not isolated is remembered, and named once it is still so `settle` seconds
    after it was first found (at a later call: /healthz is polled).
    """
    problems = []
    ports = bridge_ports(bridge)
    for port, isolated in sorted(ports.items()):
        if port in open_ports and isolated:
            problems.append(f"the registry's port {port} is isolated: sandboxes cannot pull")
    unisolated = {port for port, isolated in ports.items() if port not in open_ports and not isolated}
    for port in set(seen) - unisolated:
        del seen[port]
    at = now()
    for port in unisolated:
        seen.setdefault(port, at)
    unisolated = {port for port in unisolated if at - seen[port] >= settle}
    problems += [f"port {port} of {bridge} is not isolated" for port in sorted(unisolated)]
    return problems
