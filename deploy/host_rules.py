#!/usr/bin/env python3
"""Put the host's side of sandbox isolation in place, from inside a Compose service.

The provision and housekeeping workers run this before Celery starts, so that
after a reboot (which loses iptables rules and sysctls) the rules are back
before any sandbox starts: grader/isolation.py's INPUT/FORWARD drops for the
sandboxes' bridge, IPv6 off on it, the kernel's key quotas raised. It needs
the host's network namespace, CAP_NET_ADMIN and a writable /proc/sys: what
docker-compose.yaml gives those workers. Standard library only.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from grader import isolation  # noqa: E402


def main():
    bridge = os.environ.get("SANDBOX_BRIDGE") or "drydock-sbx"
    # Compose creates the sandboxes' network (and so its bridge) before it starts any container.
    deadline = time.monotonic() + 30
    while not isolation.ipv6_sysctl(bridge).exists():
        if time.monotonic() > deadline:
            print(f"host-rules | bridge {bridge} does not exist: is this container on the host's network?", file=sys.stderr)
            return 2
        time.sleep(0.5)
    try:
        changed = isolation.apply_host_rules(bridge)
    except isolation.IsolationError as exc:
        print(f"host-rules | cannot isolate the sandboxes' bridge {bridge}: {exc}", file=sys.stderr)
        return 2
    for change in changed:
        print(f"host-rules | {change}")
    print(f"host-rules | sandbox isolation rules in place on {bridge}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
