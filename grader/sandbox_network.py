"""A started sandbox's port on its bridge, made here rather than by the host's Docker engine.

A sandbox is started with networking disabled (the API's NetworkDisabled:
runc gives it a network namespace of its own with loopback alone; Docker
makes no endpoint, no /etc/hosts, runs no prestart hook), then given one
veth: its end in the sandbox is eth0 with an address of the sandboxes'
subnet, the host's end is a port of the sandboxes' bridge, isolated before it
is up (grader/isolation.py says why ports are isolated). No frame crosses it
before that, where Docker's port was up, unisolated, from the container's
start until the platform isolated it. Its /etc/hosts (the registry's name)
and /etc/resolv.conf (none: sandboxes have no DNS) are the platform's, read-only.

Measured on this 2-core machine, 10 sandbox containers started one after the
other by the host's engine (Docker 20.10): on Docker's network, 0.40 s and
0.24 core-s of the engine's CPU each; networking disabled, 0.16 s and 0.05
core-s. A class's starts share that CPU.

The address is leased by the port's name: `dd<bridge's ifindex>-<offset in
the subnet>`, a name the kernel gives once per network namespace. Two
workers picking one address at once: one of them is refused the name and
picks another. A sandbox gone takes its network namespace, and with it both
ends of its veth: the lease ends with it, whoever removed the container, even
a worker killed midway. Nothing is written anywhere to be swept.

Docker's IPAM gives addresses from the network's ip-range alone (the
subnet's first sixteenth, as images/build.py and docker-compose.yaml make it:
the registry's address, whatever the CLI attaches to the network), and the
platform leases none of those: Docker never sees a leased address (no
endpoint), so without the range it could give one to a container it attaches.
A network without a range is refused. Addresses Docker shows on the network
are never leased either.

Standard library only, as grader/isolation.py.
"""

import ipaddress
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from grader import isolation

# The host's per-link IPv6 settings.
IPV6_CONF = Path("/proc/sys/net/ipv6/conf")
# The sandbox's end of its veth.
SANDBOX_INTERFACE = "eth0"
PORT_PREFIX = "dd"
# Linux's limit on a link's name (IFNAMSIZ less its terminating NUL).
NAME_LIMIT = 15
# Of the lowest free addresses, one is picked at random: two workers starting at once seldom pick the same.
PICK_AMONG = 32
# Times a start picks another address when a worker beside it leased the one it picked.
LEASE_ATTEMPTS = 20


@dataclass(frozen=True)
class SandboxNetwork:
    """Where a sandbox's port goes: the bridge, its subnet, and the addresses Docker gave on it."""

    bridge: str
    subnet: ipaddress.IPv4Network
    # The addresses Docker's IPAM gives (the network's ip-range), its gateway, and those it gave.
    engine_range: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address | None = None
    docker_addresses: frozenset = frozenset()


@dataclass(frozen=True)
class Port:
    """A sandbox's veth: `name` is the host's end (the lease), `address` the sandbox's, on eth0."""

    name: str
    address: ipaddress.IPv4Address
    prefix_length: int


def _run(cmd, **options):
    """isolation's runner, the exit code left to the caller: a refused name is a lease lost, not an error."""
    return isolation._run(cmd, check=False, **options)


def _failed(cmd, result):
    return isolation.IsolationError(f"`{' '.join(cmd)}` failed: {result.stderr.strip() or result.stdout.strip()}")


def engine_range(subnet):
    """The part of `subnet` a sandboxes' network lets Docker's IPAM give: its first sixteenth."""
    if subnet.prefixlen > 28:
        raise isolation.IsolationError(f"subnet {subnet} is too small for sandboxes: /28 at least")
    return next(subnet.subnets(prefixlen_diff=4))


def sandbox_offsets(network):
    """The offsets in the network's subnet sandboxes may lease: none Docker may give (its range, its gateway),
    neither the subnet's own address nor its broadcast."""
    subnet, base = network.subnet, int(network.subnet.network_address)
    docker_first = int(network.engine_range.network_address) - base
    docker_last = docker_first + network.engine_range.num_addresses - 1
    gateway = int(network.gateway) - base if network.gateway is not None else None
    return [o for o in range(1, subnet.num_addresses - 1) if not docker_first <= o <= docker_last and o != gateway]


def port_name(bridge_index, offset):
    name = f"{PORT_PREFIX}{bridge_index}-{offset}"
    if len(name) > NAME_LIMIT:
        raise isolation.IsolationError(f"link name {name} is longer than Linux allows ({NAME_LIMIT}): use a smaller subnet")
    return name


def leased_offsets(bridge_index, names):
    """The offsets leased on the bridge of that ifindex, from the names of the host's links."""
    prefix = f"{PORT_PREFIX}{bridge_index}-"
    return {int(name[len(prefix):]) for name in names if name.startswith(prefix) and name[len(prefix):].isdigit()}


def free_offsets(network, bridge_index, names):
    """The offsets a new sandbox may take, lowest first."""
    leased = leased_offsets(bridge_index, names)
    docker = {int(address) - int(network.subnet.network_address) for address in network.docker_addresses}
    return [offset for offset in sandbox_offsets(network) if offset not in leased and offset not in docker]


def _bridge_index(bridge):
    try:
        return int((isolation.SYS_NET / bridge / "ifindex").read_text())
    except (OSError, ValueError) as exc:
        raise isolation.IsolationError(f"bridge {bridge} does not exist on this host: run bin/drydock setup") from exc


def open_namespace(pid):
    """A file descriptor of the network namespace of process `pid`, a sandbox's init: refused if it is this
    process's own (the host's), where a sandbox must never be."""
    try:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise isolation.IsolationError(f"the sandbox's process {pid} is gone: {exc.strerror}") from exc
    theirs, ours = os.fstat(fd), os.stat("/proc/self/ns/net")
    if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
        os.close(fd)
        raise isolation.IsolationError("the sandbox runs in the host's network namespace")
    return fd


def _namespace_path(netns_fd):
    """The path a child process given `netns_fd` (pass_fds) opens the namespace by."""
    return f"/proc/self/fd/{netns_fd}"


def _lease(netns_fd, network, bridge_index, *, pick=random.choice, names=lambda: os.listdir(isolation.SYS_NET)):
    """Make the veth whose host end's name leases a free address: (port name, offset). The sandbox's end is eth0."""
    netns_path = _namespace_path(netns_fd)
    for _ in range(LEASE_ATTEMPTS):
        free = free_offsets(network, bridge_index, names())
        if not free:
            total = len(sandbox_offsets(network))
            raise isolation.IsolationError(f"no address is left for a sandbox on {network.subnet}: all {total} are leased")
        offset = pick(free[:PICK_AMONG])
        name = port_name(bridge_index, offset)
        cmd = ["ip", "link", "add", name, "type", "veth", "peer", "name", SANDBOX_INTERFACE, "netns", netns_path]
        result = _run(cmd, pass_fds=(netns_fd,))
        if result.returncode == 0:
            return name, offset
        if "File exists" not in result.stderr:
            raise _failed(cmd, result)
        # Leased by a start beside this one since the listing (or an eth0 already in the sandbox: then it says so below).
        if _run(["nsenter", f"--net={netns_path}", "ip", "link", "show", SANDBOX_INTERFACE], pass_fds=(netns_fd,)).returncode == 0:
            raise isolation.IsolationError(f"the sandbox's network namespace already has an {SANDBOX_INTERFACE}")
    raise isolation.IsolationError(f"no address could be leased on {network.subnet} in {LEASE_ATTEMPTS} tries")


def connect(netns_fd, network):
    """Give the sandbox whose network namespace `netns_fd` is (open_namespace) its port on the bridge, isolated
    before it is up."""
    bridge_index = _bridge_index(network.bridge)
    name, offset = _lease(netns_fd, network, bridge_index)
    port = Port(name=name, address=network.subnet.network_address + offset, prefix_length=network.subnet.prefixlen)
    try:
        # The host's end takes no IPv6 address of its own either (no link-local the host would answer on).
        disable_ipv6(name)
        batch = (f"link set {name} addrgenmode none\nlink set {name} master {network.bridge}\n"
                 f"link set {name} type bridge_slave isolated on\n")
        cmd = ["ip", "-batch", "-"]
        result = _run(cmd, stdin=batch)
        if result.returncode != 0:
            raise _failed(cmd, result)
        if not isolation.port_isolated(network.bridge, name):
            raise isolation.IsolationError(f"{name} is not an isolated port of {network.bridge}")
        # The sandbox's end: no IPv6 (no link-local address another port could learn), its address, up. The host's
        # end is still down: nothing crosses yet.
        inside = (
            f"f=/proc/sys/net/ipv6/conf/{SANDBOX_INTERFACE}/disable_ipv6; if [ -e $f ]; then echo 1 > $f || exit 1; fi\n"
            "exec ip -batch - <<'EOF'\n"
            f"link set {SANDBOX_INTERFACE} addrgenmode none\n"
            f"addr add {port.address}/{port.prefix_length} dev {SANDBOX_INTERFACE}\n"
            f"link set {SANDBOX_INTERFACE} up\n"
            "link set lo up\n"
            "EOF\n"
        )
        cmd = ["nsenter", f"--net={_namespace_path(netns_fd)}", "sh", "-c", inside]
        result = _run(cmd, pass_fds=(netns_fd,))
        if result.returncode != 0:
            raise _failed(cmd[:3], result)
        cmd = ["ip", "link", "set", name, "up"]
        result = _run(cmd)
        if result.returncode != 0:
            raise _failed(cmd, result)
    except BaseException:
        disconnect(name)
        raise
    return port


def disable_ipv6(name, conf=None):
    """No IPv6 on the host's link `name`; a kernel without IPv6 has nothing to disable."""
    conf = conf or IPV6_CONF
    setting = conf / name / "disable_ipv6"
    if not conf.exists():
        return
    try:
        setting.write_text("1")
    except OSError as exc:
        raise isolation.IsolationError(f"IPv6 could not be disabled on {name}: {exc.strerror}") from exc


def disconnect(name):
    """Remove a port (both ends go), if it is still there: the container's removal would take it too, later."""
    _run(["ip", "link", "del", name])


def address_in(netns_path):
    """The IPv4 address of the sandbox's eth0, read in its network namespace ("" when it has none)."""
    cmd = ["nsenter", f"--net={netns_path}", "ip", "-json", "-4", "addr", "show", "dev", SANDBOX_INTERFACE]
    result = _run(cmd)
    if result.returncode != 0:
        return ""
    try:
        links = json.loads(result.stdout or "[]")
    except ValueError:
        return ""
    return next((a["local"] for link in links for a in link.get("addr_info", ()) if a.get("family") == "inet"), "")
