"""How many more sandboxes the host can take, from what it really has.

A sandbox's memory is what the host runs out of first (DESIGN.md: ~40-70 MiB
idle, up to its limit when a learner builds). Admission keeps a reserve for
the host itself and asks each new sandbox to find SANDBOX_ADMISSION_MB free,
counting the ones already admitted but not yet started; the ceiling
SANDBOX_MAX_PER_HOST bounds it whatever the memory says.
"""

from pathlib import Path

from django.conf import settings

MEMINFO = Path("/proc/meminfo")
# One kernel, one MemAvailable: its boot id names it (random at each boot, the same in every container on it). A
# cloned virtual machine keeps /etc/machine-id, so that one is only read where no boot id is.
MACHINE_IDS = (Path("/proc/sys/kernel/random/boot_id"), Path("/etc/machine-id"))


def memory_available_mb(meminfo=MEMINFO):
    """MemAvailable of the host, in MiB; None where it cannot be read (then only the ceiling counts)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def machine_id(paths=MACHINE_IDS):
    """What names the machine (its kernel) this process runs on; "" where nothing says."""
    for path in paths:
        try:
            found = path.read_text().strip()
        except OSError:
            continue
        if found:
            return found[:64]
    return ""


def room(*, on_host, starting, available_mb, ceiling=None):
    """Sandboxes that may still be admitted on a host: below its ceiling (SANDBOX_MAX_PER_HOST unless given), and
    within the memory left after the reserve."""
    by_ceiling = (ceiling or settings.SANDBOX_MAX_PER_HOST) - on_host
    if available_mb is None:
        return max(0, by_ceiling)
    by_memory = (available_mb - settings.SANDBOX_HOST_RESERVE_MB) // settings.SANDBOX_ADMISSION_MB - starting
    return max(0, min(by_ceiling, by_memory))
