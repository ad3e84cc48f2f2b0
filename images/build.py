#!/usr/bin/env python3
"""Build every image Drydock needs, then start and seed the course registry.

    python3 images/build.py [--force]

Steps, each idempotent:
  1. bases     debian:bookworm-slim (the course's) and the catalog's other bases
               (debian:trixie-slim, the sandbox's): debootstrap of that suite
               from the Debian mirror + import (`docker pull` instead with
               DRYDOCK_PULL_BASES=1)
  2. images    every images/<context>/Dockerfile named in catalog.json, rebuilt
               only when the hash of its context (and of what it is built
               FROM) differs from the image's drydock.build-hash label
  3. registry  networks, volume and the drydock-registry container
  4. seed      push the course images to it under library/<name>:<tag>,
               skipping tags whose digest the registry already has

--force re-makes the base and rebuilds every image without the build cache.

Environment:
  DRYDOCK_REGISTRY_PORT        loopback port of the course registry (5000)
  DRYDOCK_REGISTRY_SEED_PORT   loopback port of the short-lived writable
                               registry used for seeding (5001)
  DRYDOCK_REGISTRY_REMOTE_URL  e.g. https://registry-1.docker.io: the registry
                               becomes a pull-through cache of Docker Hub and
                               is not seeded (only where there is internet)
  DRYDOCK_BUILD_TMP            where the debootstrap rootfs is made (/tmp)
  DRYDOCK_PULL_BASES           1: pull the base images from Docker Hub first
                               (only where it is reachable: otherwise nothing
                               is sent beyond the Debian mirror)
  SANDBOX_NETWORK              the sandboxes' network (drydock-sandboxes)
  SANDBOX_BRIDGE               its bridge's name on the host (drydock-sbx)
  SANDBOX_SUBNET               its IPv4 subnet (10.215.0.0/20): its first
                               sixteenth is Docker's (the registry's address),
                               the rest one address per sandbox, so it must
                               hold SANDBOX_MAX_PER_HOST of them (the host has
                               no address on it: no clash with a host route)
  SANDBOX_REGISTRY_MIRROR      the registry as sandboxes reach it
                               (http://drydock-registry:5000): its host name
                               is the registry container's, its port the one
                               the registry listens on

Only the docker CLI is used; no docker SDK.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# grader/isolation.py is standard library only, like this script.
sys.path.insert(0, str(HERE.parent))
from grader import isolation  # noqa: E402
# Named so: this module has a sandbox_network() of its own.
from grader import sandbox_network as port_leases  # noqa: E402

CATALOG = HERE / "catalog.json"
LOG_DIR = HERE.parent / "var" / "images-cache" / "logs"
LOCK_FILE = "/tmp/drydock-images-build.lock"

# Bump to rebuild everything when the way images are built changes.
RECIPE = "1"
# The host's own Debian release: its sources give the mirror every suite is fetched from.
HOST_SUITE = "bookworm"

SEED_CONTAINER = "drydock-registry-seed"
REGISTRY_IMAGE = "drydock/registry:latest"
REGISTRY_VOLUME = "drydock-registry-data"
HOST_NETWORK = "drydock-registry-host"
# The same variables and defaults as drydock/settings.py: the platform starts
# sandboxes on this network with this mirror, so the build must make them.
CONTAINER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


class BuildError(Exception):
    pass


def sandbox_bridge(environ=os.environ) -> str:
    name = environ.get("SANDBOX_BRIDGE") or "drydock-sbx"
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}", name):
        raise BuildError(f"SANDBOX_BRIDGE={name!r} is not a bridge name (15 characters at most)")
    return name


def sandbox_network(environ=os.environ) -> str:
    name = environ.get("SANDBOX_NETWORK") or "drydock-sandboxes"
    if not CONTAINER_NAME_RE.match(name):
        raise BuildError(f"SANDBOX_NETWORK={name!r} is not a valid network name")
    return name


def sandbox_subnet(environ=os.environ) -> str:
    """The sandboxes' subnet: big enough for one address per sandbox the host may hold, plus the registry's."""
    text = environ.get("SANDBOX_SUBNET") or "10.215.0.0/20"
    try:
        subnet = ipaddress.IPv4Network(text)
    except ValueError as exc:
        raise BuildError(f"SANDBOX_SUBNET={text!r} is not an IPv4 subnet: {exc}") from None
    ceiling = int(environ.get("SANDBOX_MAX_PER_HOST") or 400)
    leasable = leasable_addresses(subnet)
    if leasable < ceiling:
        raise BuildError(f"SANDBOX_SUBNET={text} has {leasable} addresses sandboxes may lease (its first sixteenth is "
                         f"Docker's, the registry's); SANDBOX_MAX_PER_HOST={ceiling} needs {ceiling}")
    if environ.get("SANDBOX_NETWORK_BY_ENGINE") == "1" and subnet.prefixlen <= 28:
        # Then Docker gives every sandbox its address, from its range alone (less the gateway and the registry).
        engine_addresses = port_leases.engine_range(subnet).num_addresses - 3
        if engine_addresses < ceiling:
            raise BuildError(f"SANDBOX_NETWORK_BY_ENGINE=1: Docker gives sandboxes the {engine_addresses} addresses of "
                             f"{port_leases.engine_range(subnet)} alone; SANDBOX_MAX_PER_HOST={ceiling} needs a subnet of "
                             f"{ceiling * 16} addresses or more, or fewer sandboxes")
    return str(subnet)


def leasable_addresses(subnet: ipaddress.IPv4Network) -> int:
    """Addresses sandboxes may lease on the network made for `subnet` (grader/sandbox_network.py)."""
    if subnet.prefixlen > 28:
        return 0
    network = port_leases.SandboxNetwork(bridge="", subnet=subnet, engine_range=port_leases.engine_range(subnet),
                                             gateway=ipaddress.IPv4Address(sandbox_gateway(subnet)))
    return len(port_leases.sandbox_offsets(network))


def registry_address(environ=os.environ) -> tuple[str, int]:
    """The registry container's name and the port it listens on, from SANDBOX_REGISTRY_MIRROR."""
    mirror = environ.get("SANDBOX_REGISTRY_MIRROR") or "http://drydock-registry:5000"
    parts = urllib.parse.urlsplit(mirror)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or not CONTAINER_NAME_RE.match(parts.hostname) or port is None or parts.path not in ("", "/"):
        raise BuildError(f"SANDBOX_REGISTRY_MIRROR={mirror!r} must be http://<registry container name>:<port>")
    return parts.hostname, port


# Set by main() from the environment, before any step runs.
SANDBOX_NETWORK = "drydock-sandboxes"
SANDBOX_BRIDGE = "drydock-sbx"
SANDBOX_SUBNET = "10.215.0.0/20"
REGISTRY_CONTAINER, REGISTRY_PORT_ON_NETWORK = "drydock-registry", 5000


# --- running things -------------------------------------------------------

def run(cmd: list[str], *, check: bool = True, stdin=None, stdout=subprocess.PIPE,
        timeout: float | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise BuildError(f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def docker(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return run(["docker", *args], check=check, **kw)


def inspect(kind: str, name: str) -> dict | None:
    proc = docker(kind, "inspect", name, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


@contextlib.contextmanager
def step(title: str):
    print(f"== {title}", flush=True)
    start = time.monotonic()
    yield
    print(f"   [{time.monotonic() - start:6.1f} s] {title}", flush=True)


def say(text: str) -> None:
    print(f"   {text}", flush=True)


# --- the catalog ------------------------------------------------------------

@dataclass
class Entry:
    name: str
    tags: list[str]
    context: str | None
    course: bool
    package: str | None = None
    version_cmd: list[str] | None = None
    froms: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.tags[0]}"

    @property
    def refs(self) -> list[str]:
        return [f"{self.name}:{tag}" for tag in self.tags]

    @property
    def dockerfile(self) -> Path:
        return HERE / self.context / "Dockerfile"


def load_catalog() -> tuple[str, list[str], list[Entry]]:
    data = json.loads(CATALOG.read_text())
    entries = [Entry(name=item["name"], tags=item["tags"], context=item.get("context"),
                     course=item.get("course", False), package=item.get("package"),
                     version_cmd=item.get("version_cmd"))
               for item in data["images"]]
    bases = [data["base"], *data.get("more_bases", [])]
    check_catalog(entries, bases)
    for entry in entries:
        if entry.context is None:
            continue
        if not entry.dockerfile.is_file():
            raise BuildError(f"{entry.name}: no Dockerfile at {entry.dockerfile}")
        entry.froms = dockerfile_froms(entry.dockerfile)
    return data["base"], bases, entries


def check_catalog(entries: list[Entry], bases: list[str]) -> None:
    """One tag, one image: a name may have an entry per version (nginx 1.22 and
    1.26 are two images), but no tag may belong to two of them."""
    owner: dict[str, Entry] = {}
    for entry in entries:
        if not entry.tags:
            raise BuildError(f"{entry.name}: an entry of catalog.json needs at least one tag")
        for ref in entry.refs:
            if ref in owner and owner[ref] is not entry:
                raise BuildError(f"{ref} is tagged by two entries of catalog.json")
            owner[ref] = entry
        if entry.context is None and entry.ref not in bases:
            raise BuildError(f"{entry.name}: an entry without context publishes a base, "
                             f"but {entry.ref} is not one ({', '.join(bases)})")


def suite_of(tag: str) -> str:
    """debian:trixie-slim -> trixie."""
    found = re.fullmatch(r"debian:([a-z]+)-slim", tag)
    if not found:
        raise BuildError(f"{tag}: a base must be debian:<suite>-slim")
    return found.group(1)


def dockerfile_froms(path: Path) -> list[str]:
    """Images a Dockerfile is built FROM (not `scratch`, not its own stages)."""
    froms, stages = [], set()
    for line in path.read_text().splitlines():
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        words = [w for w in words[1:] if not w.startswith("--")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image != "scratch" and image not in stages:
            froms.append(image if ":" in image.split("/")[-1] else image + ":latest")
    return froms


def build_order(entries: list[Entry]) -> list[Entry]:
    by_ref = {ref: entry for entry in entries for ref in entry.refs}
    ordered: list[Entry] = []
    visiting: set[str] = set()

    def visit(entry: Entry) -> None:
        if entry in ordered:
            return
        if entry.ref in visiting:
            raise BuildError(f"{entry.name}: circular FROM")
        visiting.add(entry.ref)
        for ref in entry.froms:
            if ref in by_ref:
                visit(by_ref[ref])
        ordered.append(entry)

    for entry in entries:
        visit(entry)
    return ordered


# --- step 1: the base image ---------------------------------------------------

def ensure_base(tag: str, *, force: bool) -> None:
    image = inspect("image", tag)
    if image and not force:
        say(f"{tag} present ({short(image['Id'])})")
        return
    if os.environ.get("DRYDOCK_PULL_BASES") == "1":
        proc = docker("pull", tag, check=False, timeout=600)
        if proc.returncode == 0:
            say(f"{tag} pulled")
            return
        say(f"docker pull {tag} failed, making it with debootstrap: "
            f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    debootstrap_base(tag, suite_of(tag))


def debootstrap_base(tag: str, suite: str) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.path.exists(debootstrap):
        say("installing debootstrap")
        if run(["apt-get", "install", "-y", "debootstrap"], check=False).returncode != 0:
            run(["apt-get", "update"])
            run(["apt-get", "install", "-y", "debootstrap"])
    sources = apt_sources(suite)
    mirror = next((s["uri"] for s in sources if suite in s["suites"]), None)
    if mirror is None:
        raise BuildError(f"no Debian mirror for {suite} in /etc/apt/sources.list(.d)")
    tmp = Path(tempfile.mkdtemp(prefix="drydock-rootfs-",
                                dir=os.environ.get("DRYDOCK_BUILD_TMP", "/tmp")))
    rootfs = tmp / "rootfs"
    try:
        say(f"debootstrap --variant=minbase {suite} from {mirror}")
        start = time.monotonic()
        log = LOG_DIR / f"debootstrap-{suite}.log"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            proc = subprocess.run([debootstrap, "--variant=minbase", "--components=main",
                                   suite, str(rootfs), mirror], stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise BuildError(f"debootstrap failed, see {log}:\n{tail(log)}")
        say(f"debootstrap took {time.monotonic() - start:.1f} s")
        slim(rootfs, sources)
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                               stdout=subprocess.PIPE)
        docker("import",
               "--change", 'CMD ["bash"]',
               "--change", f"LABEL drydock.image={tag} drydock.base-recipe={RECIPE}",
               "-", tag, stdin=tar.stdout)
        tar.stdout.close()
        if tar.wait() != 0:
            raise BuildError("tar of the rootfs failed")
        say(f"{tag} imported ({short(inspect('image', tag)['Id'])})")
    finally:
        remove_tree(tmp)


def apt_sources(suite: str) -> list[dict]:
    """The Debian `deb` entries for `suite` (and its -updates, -security): the host's own, or, for
    another release, the host's mirrors with that release's suite names."""
    found = []
    files = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list")),
             *sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))]
    for path in files:
        if not os.path.isfile(path):
            continue
        text = Path(path).read_text()
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                key = None
                for line in stanza.splitlines():
                    if line.startswith("#") or not line.strip():
                        continue
                    if line[0].isspace() and key:
                        fields[key] += " " + line.strip()
                    elif ":" in line:
                        key, value = line.split(":", 1)
                        key = key.strip().lower()
                        fields[key] = value.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                for uri in fields.get("uris", "").split():
                    found.append({"uri": uri, "suites": fields.get("suites", "").split(),
                                  "components": fields.get("components", "").split(),
                                  "signed_by": fields.get("signed-by", "")})
        else:
            for line in text.splitlines():
                line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    found.append({"uri": line[1], "suites": [line[2]],
                                  "components": line[3:], "signed_by": ""})
    host = [s for s in found if "main" in s["components"]
            and any(name.split("-")[0] == HOST_SUITE for name in s["suites"])]
    if suite == HOST_SUITE:
        return host
    return [{**s, "suites": [name.replace(HOST_SUITE, suite, 1) for name in s["suites"]]} for s in host]


DPKG_EXCLUDES = """\
# Slim image, as Debian's official -slim images: no docs, man pages, locales.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
"""

APT_CLEAN = """\
# Keep image layers small: no .deb cache, no translations.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::AutoRemove::SuggestsImportant "false";
"""


def slim(rootfs: Path, sources: list[dict]) -> None:
    """Make the debootstrap tree look like Debian's own -slim image of its release."""
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDES)
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# Services are not started in containers.\nexit 101\n")
    policy.chmod(0o755)
    # The host's Debian mirrors, for this release (its suite, -updates, -security).
    stanzas = []
    for source in sources:
        lines = ["Types: deb", f"URIs: {source['uri']}", f"Suites: {' '.join(source['suites'])}",
                 "Components: main"]
        keyring = source["signed_by"]
        if keyring.startswith("/") and (rootfs / keyring.lstrip("/")).is_file():
            lines.append(f"Signed-By: {keyring}")
        stanzas.append("\n".join(lines) + "\n")
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text("\n".join(stanzas))
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    for pattern in ("usr/share/doc/*/*", "usr/share/man/*", "usr/share/info/*",
                    "usr/share/locale/*", "usr/share/groff/*", "usr/share/lintian/*",
                    "var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
                    "var/log/*.log", "var/log/apt/*"):
        for path in glob.glob(str(rootfs / pattern)):
            if path.endswith(("/copyright", "/locale.alias")):
                continue
            # Some doc folders are symlinks to another package's: gone already.
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                Path(path).unlink(missing_ok=True)
    # Docker provides these per container; the host's must not leak in.
    for name in ("etc/resolv.conf", "etc/hostname"):
        (rootfs / name).write_text("")
    machine_id = rootfs / "etc/machine-id"
    if machine_id.exists():
        machine_id.write_text("")


def remove_tree(path: Path) -> None:
    # debootstrap mounts /proc and friends inside the target; never rm through them.
    mounts = []
    with open("/proc/mounts") as f:
        for line in f:
            point = line.split()[1].replace("\\040", " ")
            if point == str(path) or point.startswith(str(path) + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        run(["umount", "-l", point], check=False)
    shutil.rmtree(path, ignore_errors=True)


# --- step 2: the Dockerfile images ------------------------------------------------

def context_hash(entry: Entry, parents: dict[str, str]) -> str:
    digest = hashlib.sha256(f"recipe {RECIPE}\n".encode())
    context = HERE / entry.context
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        digest.update(f"file {rel} {os.access(path, os.X_OK)}\n".encode())
        digest.update(path.read_bytes())
    for ref in entry.froms:
        digest.update(f"from {ref} {parents[ref]}\n".encode())
    return digest.hexdigest()


def ensure_image(entry: Entry, *, force: bool) -> list[str]:
    """Build entry if its context changed; return every tag it carries."""
    parents = {}
    for ref in entry.froms:
        image = inspect("image", ref)
        if image is None:
            raise BuildError(f"{entry.name}: FROM {ref} is not here (and no registry is reachable)")
        parents[ref] = image["Id"]
    wanted = context_hash(entry, parents)
    existing = inspect("image", entry.ref)
    labels = (existing or {}).get("Config", {}).get("Labels") or {}
    if existing and not force and labels.get("drydock.build-hash") == wanted:
        image_id = existing["Id"]
        version_tag = next((t.split(":")[-1] for t in existing.get("RepoTags") or []
                            if t.startswith(entry.name + ":")
                            and re.fullmatch(r"\d+\.\d+\.\d+", t.split(":")[-1])), None)
        if version_tag is None and (entry.package or entry.version_cmd):
            version_tag = real_version(entry, image_id)
        tags = tag_all(entry, image_id, version_tag)
        say(f"{entry.name}: up to date ({short(image_id)}), {', '.join(tags)}")
        return tags
    say(f"{entry.name}: building from images/{entry.context}/"
        + (" (forced)" if force else " (new)" if not existing else " (changed)"))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"build-{entry.context}.log"
    with tempfile.TemporaryDirectory() as tmp:
        iidfile = Path(tmp) / "iid"
        cmd = ["docker", "build", "--iidfile", str(iidfile),
               "--label", f"drydock.build-hash={wanted}", "--label", f"drydock.image={entry.name}",
               "-f", str(entry.dockerfile), str(HERE / entry.context)]
        if force:
            cmd.insert(2, "--no-cache")
        start = time.monotonic()
        with log.open("w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "DOCKER_BUILDKIT": "0"})
        if proc.returncode != 0:
            raise BuildError(f"{entry.name}: docker build failed, see {log}:\n{tail(log)}")
        image_id = iidfile.read_text().strip()
    version_tag = real_version(entry, image_id) if (entry.package or entry.version_cmd) else None
    tags = tag_all(entry, image_id, version_tag)
    size = int(inspect("image", image_id)["Size"]) / 1e6
    say(f"{entry.name}: built {short(image_id)} in {time.monotonic() - start:.1f} s, "
        f"{size:.0f} MB, {', '.join(tags)}")
    return tags


def real_version(entry: Entry, image_id: str) -> str:
    """The upstream version the image really holds; the catalog's tags must agree."""
    cmd = entry.version_cmd or ["dpkg-query", "-W", "-f=${Version}", entry.package]
    proc = docker("run", "--rm", "--network", "none", "--label", "drydock.build=1",
                  "--entrypoint", cmd[0], image_id, *cmd[1:], check=False)
    found = re.search(r"\d+\.\d+\.\d+", proc.stdout + proc.stderr)
    if not found:
        raise BuildError(f"{entry.name}: no version in the output of {' '.join(cmd)}: "
                         f"{(proc.stdout + proc.stderr).strip()[:200]}")
    version = found.group(0)
    for tag in entry.tags:
        if re.fullmatch(r"\d+(\.\d+)*", tag) and not (version == tag or version.startswith(tag + ".")):
            raise BuildError(f"{entry.name}: the image holds {version}, but catalog.json tags it {tag}")
    return version


def tag_all(entry: Entry, image_id: str, version_tag: str | None) -> list[str]:
    tags = list(entry.tags) + ([version_tag] if version_tag and version_tag not in entry.tags else [])
    for tag in tags:
        ref = f"{entry.name}:{tag}"
        current = inspect("image", ref)
        if current is None or current["Id"] != image_id:
            docker("tag", image_id, ref)
    return tags


# --- step 3: the registry -------------------------------------------------------

def ensure_network(name: str, *, internal: bool) -> None:
    network = inspect("network", name)
    if network is not None:
        bridge = (network.get("Options") or {}).get("com.docker.network.bridge.name")
        if internal and bridge != SANDBOX_BRIDGE:
            raise BuildError(f"network {name} runs on bridge {bridge or 'br-' + network['Id'][:12]}, not {SANDBOX_BRIDGE} "
                             f"(SANDBOX_BRIDGE); remove it (docker network rm {name}) and run again")
        if network.get("Internal", False) != internal:
            raise BuildError(f"network {name} exists but is {'not ' if internal else ''}internal; "
                             f"remove it (docker network rm {name}) and run again")
        options = network.get("Options") or {}
        if internal and options.get("com.docker.network.bridge.inhibit_ipv4") != "true":
            raise BuildError(f"network {name} gives the host an address on it, so sandboxes "
                             f"reach host services; remove it (docker network rm {name}) "
                             "and run again")
        wanted = sandbox_addressing()
        if not internal or network_subnet(network) == wanted:
            return
        # Made before SANDBOX_SUBNET existed (a /24 from the engine's pool: 253 sandboxes at most, measured
        # by bench/capacity.py), or before Docker's addresses had a range of their own, or moved: made again,
        # which only the registry may be attached to. Sandboxes with ports of the platform's are on its bridge,
        # never in Docker's list.
        attached = sorted(c["Name"] for c in (network.get("Containers") or {}).values() if c.get("Name") != REGISTRY_CONTAINER)
        attached += sorted(sandbox_ports(SANDBOX_BRIDGE))
        if attached:
            raise BuildError(f"network {name} has subnet {network_subnet(network)}, not {wanted} (SANDBOX_SUBNET), "
                             f"and sandboxes are on it ({', '.join(attached[:5])}{'...' if len(attached) > 5 else ''}): "
                             "stop them and run again")
        registry_attached = any(c.get("Name") == REGISTRY_CONTAINER for c in (network.get("Containers") or {}).values())
        if registry_attached:
            docker("network", "disconnect", "--force", name, REGISTRY_CONTAINER)
        removed = docker("network", "rm", name, check=False)
        if removed.returncode != 0:  # a sandbox started meanwhile
            if registry_attached:
                docker("network", "connect", name, REGISTRY_CONTAINER)
            raise BuildError(f"network {name} has subnet {network_subnet(network)}, not {wanted} (SANDBOX_SUBNET), "
                             f"and could not be made again: {removed.stderr.strip()}; stop its sandboxes and run again")
        say(f"network {name} removed: its subnet {network_subnet(network)} is not {wanted}")
        if registry_attached:  # made again by ensure_registry, attached to the new network
            docker("rm", "-f", REGISTRY_CONTAINER)
    cmd = ["network", "create", "--driver", "bridge", "--label", "drydock.network=1"]
    if internal:
        # No address on the host's side of the bridge: with an internal
        # network a sandbox could otherwise reach every host service that
        # listens on 0.0.0.0 through the gateway address.
        # Docker's IPAM gives from the first sixteenth alone (the registry's address): the rest is leased by
        # sandboxes, which Docker never sees (grader/sandbox_network.py).
        cmd += ["--internal", "--label", "drydock.role=sandboxes", "--subnet", SANDBOX_SUBNET, "--gateway", sandbox_gateway(),
                "--ip-range", str(port_leases.engine_range(ipaddress.IPv4Network(SANDBOX_SUBNET))),
                "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                "-o", f"com.docker.network.bridge.name={SANDBOX_BRIDGE}"]
    else:
        cmd += ["--label", "drydock.role=registry-host"]
    docker(*cmd, name)
    say(f"network {name} created{' (internal)' if internal else ''}")


def network_subnet(network: dict) -> str | None:
    """'<subnet> gateway <address> range <Docker's addresses>' of a network's IPv4 configuration (None: it has none)."""
    configs = (network.get("IPAM") or {}).get("Config") or []
    config = next((c for c in configs if "." in c.get("Subnet", "")), None)
    if config is None:
        return None
    return f"{config['Subnet']} gateway {config.get('Gateway') or '(none)'} range {config.get('IPRange') or '(all)'}"


def sandbox_addressing() -> str:
    """What network_subnet says of the sandboxes' network as this build makes it."""
    return f"{SANDBOX_SUBNET} gateway {sandbox_gateway()} range {port_leases.engine_range(ipaddress.IPv4Network(SANDBOX_SUBNET))}"


def sandbox_ports(bridge: str) -> list[str]:
    """The ports of sandboxes the platform made on the bridge (grader/sandbox_network.py): Docker lists none."""
    try:
        return [port for port in os.listdir(f"/sys/class/net/{bridge}/brif") if port.startswith(port_leases.PORT_PREFIX)]
    except FileNotFoundError:
        return []


def sandbox_gateway(subnet: ipaddress.IPv4Network | None = None) -> str:
    """The gateway address the network is made with: the subnet's first, as Docker picks it when none is named.

    Named, because Docker records no gateway for a network made with --subnet alone; the host never takes
    it (inhibit_ipv4), and tests/test_sandbox_security.py checks a sandbox cannot reach it."""
    return str(next((subnet or ipaddress.IPv4Network(SANDBOX_SUBNET)).hosts()))


def registry_ip() -> str:
    """The registry's address on the sandboxes' network, the one after the gateway: always the same, since each
    sandbox is told it when it starts (grader/engine.py), and keeps it in its /etc/hosts."""
    hosts = ipaddress.IPv4Network(SANDBOX_SUBNET).hosts()
    next(hosts)
    return str(next(hosts))


def ensure_volume(name: str) -> None:
    if inspect("volume", name) is None:
        docker("volume", "create", "--label", "drydock.volume=registry", name)
        say(f"volume {name} created")


def ensure_registry(port: int, remote_url: str) -> None:
    ensure_network(SANDBOX_NETWORK, internal=True)
    ensure_network(HOST_NETWORK, internal=False)
    ensure_volume(REGISTRY_VOLUME)
    image_id = inspect("image", REGISTRY_IMAGE)["Id"]
    config = hashlib.sha256(f"{image_id} {port} {remote_url} {REGISTRY_PORT_ON_NETWORK} {SANDBOX_NETWORK} {SANDBOX_SUBNET}".encode()).hexdigest()[:16]
    container = inspect("container", REGISTRY_CONTAINER)
    if container is not None:
        labels = container["Config"]["Labels"] or {}
        if labels.get("drydock.config-hash") == config:
            # Its sandboxes' side may have been lost (the network made again, a disconnect by hand): the
            # sandboxes would then pull from nowhere, their daemons falling back to Docker Hub's names.
            if SANDBOX_NETWORK not in (container.get("NetworkSettings") or {}).get("Networks", {}):
                docker("network", "connect", "--ip", registry_ip(), SANDBOX_NETWORK, REGISTRY_CONTAINER)
                say(f"{REGISTRY_CONTAINER} attached to {SANDBOX_NETWORK} again")
            if not container["State"]["Running"]:
                docker("start", REGISTRY_CONTAINER)
                say(f"{REGISTRY_CONTAINER} started again")
            else:
                say(f"{REGISTRY_CONTAINER} running ({short(container['Id'])})")
            wait_registry(port)
            return
        docker("rm", "-f", REGISTRY_CONTAINER)
        say(f"{REGISTRY_CONTAINER} replaced (image or settings changed)")
    cmd = ["create", "--name", REGISTRY_CONTAINER,
           "--label", "drydock.role=registry", "--label", f"drydock.config-hash={config}",
           "--restart", "unless-stopped", "--memory", "256m", "--pids-limit", "256",
           "--log-opt", "max-size=10m", "--log-opt", "max-file=2",
           "--network", HOST_NETWORK, "-p", f"127.0.0.1:{port}:{REGISTRY_PORT_ON_NETWORK}",
           "-e", f"REGISTRY_HTTP_ADDR=:{REGISTRY_PORT_ON_NETWORK}",
           "-v", f"{REGISTRY_VOLUME}:/var/lib/docker-registry"]
    if remote_url:
        cmd += ["-e", f"REGISTRY_PROXY_REMOTEURL={remote_url}",
                REGISTRY_IMAGE, "/etc/docker/registry/writable.yml"]
    else:
        cmd += [REGISTRY_IMAGE]
    docker(*cmd)
    docker("network", "connect", "--ip", registry_ip(), SANDBOX_NETWORK, REGISTRY_CONTAINER)
    docker("start", REGISTRY_CONTAINER)
    wait_registry(port)
    say(f"{REGISTRY_CONTAINER} running on {SANDBOX_NETWORK} (sandboxes: "
        f"http://{REGISTRY_CONTAINER}:{REGISTRY_PORT_ON_NETWORK}) and on 127.0.0.1:{port}"
        + (f", pull-through cache of {remote_url}" if remote_url else ", read-only"))


def isolate_sandboxes() -> None:
    """Sandboxes share one network: let them reach the registry, nothing else.

    --internal keeps them from the outside, and with no address on the bridge
    from the host's services; grader/isolation.py adds what does not trust
    addresses: the host takes nothing in from the bridge (IPv4 and IPv6, and
    IPv6 is off on it) and forwards nothing out of it. Sandboxes are kept from
    one another by bridge port isolation, set on each sandbox's port as the
    platform starts it. Reconciled on every run, so a reboot loses nothing
    after the next `bin/drydock setup` or `up`.
    """
    network = inspect("network", SANDBOX_NETWORK)
    bridge = (network.get("Options") or {}).get("com.docker.network.bridge.name") or "br-" + network["Id"][:12]
    # The first layout trusted the registry's address in DOCKER-USER; a sandbox can forge it.
    listing = run(["iptables", "-S", "DOCKER-USER"], check=False)
    for line in listing.stdout.splitlines() if listing.returncode == 0 else ():
        if f"--comment {SANDBOX_NETWORK}" in line:
            run(["iptables", "-D", "DOCKER-USER", *line.split()[2:]], check=False)
    try:
        changed = isolation.apply_host_rules(bridge)
    except isolation.IsolationError as error:
        raise BuildError(f"cannot isolate the sandboxes' bridge {bridge}: {error}") from None
    for change in changed:
        say(f"isolation: {change}")
    if not changed:
        say(f"sandbox isolation rules in place on {bridge}")


def wait_registry(port: int, container: str = REGISTRY_CONTAINER, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            logs = docker("logs", "--tail", "5", container, check=False)
            raise BuildError(f"registry on 127.0.0.1:{port} did not answer within {timeout:.0f} s; "
                             f"{container} logs:\n{(logs.stdout + logs.stderr).strip()[-1500:]}")
        time.sleep(0.1)


def registry_image_id(port: int, repo: str, tag: str) -> str | None:
    """The image ID a registry tag points to: its manifest's config digest."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/{repo}/manifests/{tag}",
                                     headers={"Accept": MANIFEST_V2})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read()).get("config", {}).get("digest")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


# --- step 4: seeding -----------------------------------------------------------------

def seed(course: list[tuple[Entry, list[str]]], port: int, seed_port: int) -> None:
    todo = []
    for entry, tags in course:
        image_id = inspect("image", entry.ref)["Id"]
        for tag in tags:
            if registry_image_id(port, f"library/{entry.name}", tag) != image_id:
                todo.append((entry, tag, image_id))
    if not todo:
        say(f"registry already holds all {sum(len(t) for _, t in course)} course tags")
        return
    docker("rm", "-f", SEED_CONTAINER, check=False)
    docker("run", "-d", "--name", SEED_CONTAINER, "--label", "drydock.role=registry-seed",
           "--network", HOST_NETWORK, "-p", f"127.0.0.1:{seed_port}:5000",
           "-v", f"{REGISTRY_VOLUME}:/var/lib/docker-registry",
           REGISTRY_IMAGE, "/etc/docker/registry/writable.yml")
    try:
        wait_registry(seed_port, SEED_CONTAINER)
        for entry, tag, _ in todo:
            target = f"127.0.0.1:{seed_port}/library/{entry.name}:{tag}"
            start = time.monotonic()
            docker("tag", entry.ref, target)
            try:
                docker("push", target, timeout=900)
            finally:
                docker("rmi", "--no-prune", target, check=False)
            say(f"pushed library/{entry.name}:{tag} in {time.monotonic() - start:.1f} s")
        # Layers and manifests no tag points to any more (older builds).
        collected = docker("exec", SEED_CONTAINER, "docker-registry", "garbage-collect",
                           "--delete-untagged", "/etc/docker/registry/writable.yml", check=False)
        deleted = sum("blob eligible for deletion" in line for line in collected.stdout.splitlines())
        say(f"registry garbage-collect: {deleted} unused blobs deleted" if collected.returncode == 0
            else f"WARNING: registry garbage-collect failed: {collected.stderr.strip()[-300:]}")
    finally:
        docker("rm", "-f", SEED_CONTAINER, check=False)
    for entry, tag, image_id in todo:
        if registry_image_id(port, f"library/{entry.name}", tag) != image_id:
            raise BuildError(f"library/{entry.name}:{tag} pushed but 127.0.0.1:{port} "
                             "does not serve it")


# --- helpers, main ---------------------------------------------------------------------

def short(image_id: str) -> str:
    return image_id.split(":")[-1][:12]


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    global SANDBOX_NETWORK, SANDBOX_BRIDGE, SANDBOX_SUBNET, REGISTRY_CONTAINER, REGISTRY_PORT_ON_NETWORK
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true",
                        help="re-make the base and rebuild every image without cache")
    args = parser.parse_args(argv)
    try:
        SANDBOX_NETWORK = sandbox_network()
        SANDBOX_BRIDGE = sandbox_bridge()
        SANDBOX_SUBNET = sandbox_subnet()
        REGISTRY_CONTAINER, REGISTRY_PORT_ON_NETWORK = registry_address()
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1
    port = int(os.environ.get("DRYDOCK_REGISTRY_PORT", "5000"))
    seed_port = int(os.environ.get("DRYDOCK_REGISTRY_SEED_PORT", "5001"))
    remote_url = os.environ.get("DRYDOCK_REGISTRY_REMOTE_URL", "").strip()
    started = time.monotonic()
    # Two runs at once on one engine would fight over tags and the seeding
    # container; the second waits for the first.
    lock = open(LOCK_FILE, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"== another build.py holds {LOCK_FILE}; waiting for it", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        base, bases, entries = load_catalog()
        for tag in bases:
            with step(f"base image {tag}"):
                ensure_base(tag, force=args.force)
        course: list[tuple[Entry, list[str]]] = []
        with step("images"):
            for entry in build_order(entries):
                if entry.context is None:
                    # A base published as it is (debian:bookworm-slim, debian:trixie-slim).
                    tags = tag_all(entry, inspect("image", entry.ref)["Id"], None)
                else:
                    tags = ensure_image(entry, force=args.force)
                if entry.course:
                    course.append((entry, tags))
            # Superseded images; after --force also the old base and the build
            # stages' cache (kept otherwise: it makes small rebuilds fast).
            label = "drydock.image" if args.force else "drydock.build-hash"
            pruned = docker("image", "prune", "-f", "--filter", f"label={label}")
            reclaimed = pruned.stdout.strip().splitlines()[-1:] or [""]
            if "0B" not in reclaimed[0]:
                say(f"old images pruned: {reclaimed[0]}")
        with step("registry"):
            ensure_registry(port, remote_url)
            isolate_sandboxes()
        with step("seed the registry"):
            if remote_url:
                say(f"pull-through cache of {remote_url}: not seeded, course images come from there")
            else:
                seed(course, port, seed_port)
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1
    print(f"== done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
