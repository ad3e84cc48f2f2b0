"""A sandbox daemon's state at one instant, as plain frozen data.

The engine module builds it from the nested daemon; checks only read it. Image
references are normalised the way the docker CLI does (`nginx` is
`docker.io/library/nginx:latest`), so a check can compare what the learner
typed with what the daemon holds.
"""

import re
from dataclasses import asdict, dataclass, field


def normalize_reference(ref):
    """`nginx` -> `nginx:latest`; `docker.io/library/nginx:1.22` -> `nginx:1.22`; digests kept."""
    ref = ref.strip()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def repository_of(ref):
    ref = normalize_reference(ref)
    if "@" in ref:
        return ref.split("@", 1)[0]
    return ref.rsplit(":", 1)[0]


def http_probe_url(port, path):
    """The URL a probe of the sandbox's own published `port` fetches; None for anything but a port and an absolute path.

    The host is always the sandbox's loopback, where its daemon publishes ports; a lab names only the port
    and the path, and neither can carry another address.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return None
    if not isinstance(path, str) or not re.fullmatch(r"/[A-Za-z0-9._~%/?&=+,;:-]{0,200}", path) or path.startswith("//"):
        return None
    return f"http://127.0.0.1:{port}{path}"


def short_id(image_id):
    return image_id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class HistoryEntry:
    """One step of an image's history (`docker history`), oldest first in Image.history."""

    # Unix seconds: a step BuildKit took from its cache keeps the time it was first built.
    created: int = 0
    created_by: str = ""
    # `buildkit.dockerfile.v0` for a step of a Dockerfile built by BuildKit.
    comment: str = ""
    size: int = 0
    # The step changed only the image's configuration (ENV, CMD…), it added no layer.
    empty_layer: bool = False

    @property
    def instruction(self):
        """The Dockerfile instruction of a BuildKit step (`COPY package.json /app/`), without BuildKit's suffix."""
        return self.created_by.removesuffix(" # buildkit").strip()


BUILDKIT_STEP = "buildkit.dockerfile.v0"


@dataclass(frozen=True)
class Image:
    id: str
    tags: tuple = ()
    digests: tuple = ()
    layers: tuple = ()
    created: str = ""
    # Bytes on disk, its base's layers included.
    size: int = 0
    # What its configuration says a container runs, and as whom (`docker inspect`'s Config).
    cmd: tuple = ()
    entrypoint: tuple = ()
    user: str = ""
    working_dir: str = ""
    exposed_ports: tuple = ()
    labels: dict = field(default_factory=dict)
    healthcheck: tuple = ()
    history: tuple = ()

    @property
    def references(self):
        return tuple(normalize_reference(t) for t in self.tags)


@dataclass(frozen=True)
class BuildRecord:
    """One record of BuildKit's build cache (`docker buildx du --verbose`): a step's result kept for reuse."""

    id: str
    description: str = ""
    # Unix seconds of its creation (the `created` of the history step it made) and of its last use.
    created: int = 0
    last_used: int = 0
    # How many builds used it: 2 or more, a later build took it from the cache.
    usage_count: int = 0


@dataclass(frozen=True)
class Mount:
    type: str
    source: str
    destination: str
    read_write: bool = True


@dataclass(frozen=True)
class Port:
    container_port: int
    protocol: str = "tcp"
    host_port: int | None = None


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image: str
    image_id: str
    status: str
    exit_code: int = 0
    ip_address: str = ""
    networks: dict = field(default_factory=dict)
    mounts: tuple = ()
    ports: tuple = ()
    labels: dict = field(default_factory=dict)
    # When it last started ("" if it never did: created only).
    started_at: str = ""
    # When it last stopped ("" if it never did). Docker's own RFC 3339 times, in UTC: they compare as text.
    finished_at: str = ""
    # HostConfig.RestartPolicy: "no", "always", "unless-stopped" or "on-failure" (with its maximum of retries).
    restart_policy: str = "no"
    restart_max_retries: int = 0
    # How many times the daemon restarted it by its policy (a docker start by hand is not counted).
    restart_count: int = 0
    # State.Health.Status: "starting", "healthy" or "unhealthy"; "" without a healthcheck.
    health: str = ""
    # What it runs: its entrypoint and command, as the daemon started them (Path, then Args).
    command: tuple = ()

    @property
    def ran(self):
        return bool(self.started_at)

    @property
    def started_again(self):
        """It was stopped once, then started after that stop (docker stop + start, docker restart)."""
        return bool(self.finished_at) and bool(self.started_at) and _instant(self.started_at) > _instant(self.finished_at)


def _instant(docker_time):
    """Docker's times ("2026-12-01T10:00:00.123456789Z") to a comparable key: nanoseconds padded, so text order is time order."""
    base, _, rest = docker_time.rstrip("Z").partition(".")
    return base, rest.ljust(9, "0")


@dataclass(frozen=True)
class HttpAnswer:
    """What answered a GET of http://127.0.0.1:<port><path> in the sandbox: the status and the start of the body."""

    status: int
    body: str = ""


@dataclass(frozen=True)
class Volume:
    name: str
    labels: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    name: str
    driver: str = "bridge"


@dataclass(frozen=True)
class Snapshot:
    images: tuple = ()
    containers: tuple = ()
    volumes: tuple = ()
    networks: tuple = ()
    # Contents of files the checks asked for: (volume, path) -> text, None when absent.
    files: dict = field(default_factory=dict)
    # BuildKit's cache records of regular steps, newest first.
    build_cache: tuple = ()
    # Answers of HTTP probes the checks asked for, inside the sandbox: (port, path) -> HttpAnswer, None when nothing answered.
    http: dict = field(default_factory=dict)

    def image(self, ref):
        wanted = normalize_reference(ref)
        for image in self.images:
            if wanted in image.references or wanted in image.digests:
                return image
        return None

    def tags_of_repository(self, ref):
        repository = repository_of(ref)
        return sorted(r for image in self.images for r in image.references if repository_of(r) == repository)

    def all_tags(self):
        return sorted(r for image in self.images for r in image.references)

    def container(self, name):
        name = name.lstrip("/")
        return next((c for c in self.containers if c.name == name), None)

    def volume(self, name):
        return next((v for v in self.volumes if v.name == name), None)

    def network(self, name):
        return next((n for n in self.networks if n.name == name), None)


def to_dict(snapshot):
    """Plain data for JSON (recorded snapshots used as test fixtures)."""
    data = asdict(snapshot)
    data["files"] = [{"volume": volume, "path": path, "text": text} for (volume, path), text in snapshot.files.items()]
    data["http"] = [{"port": port, "path": path, "answer": asdict(answer) if answer else None} for (port, path), answer in snapshot.http.items()]
    return data


def _image_from_dict(data):
    """An Image from plain data; snapshots recorded before images had a config or a history load too."""
    tuples = {key: tuple(data.get(key) or ()) for key in ("tags", "digests", "layers", "cmd", "entrypoint", "exposed_ports", "healthcheck")}
    history = tuple(HistoryEntry(**entry) for entry in data.get("history") or ())
    return Image(**{**data, **tuples, "history": history})


def from_dict(data):
    return Snapshot(
        images=tuple(_image_from_dict(i) for i in data["images"]),
        containers=tuple(
            Container(**{
                **c,
                "mounts": tuple(Mount(**m) for m in c["mounts"]),
                "ports": tuple(Port(**p) for p in c["ports"]),
                "command": tuple(c.get("command") or ()),
            })
            for c in data["containers"]
        ),
        volumes=tuple(Volume(**v) for v in data["volumes"]),
        networks=tuple(Network(**n) for n in data["networks"]),
        files={(f["volume"], f["path"]): f["text"] for f in data["files"]},
        build_cache=tuple(BuildRecord(**r) for r in data.get("build_cache") or ()),
        # Recorded before probes existed: none.
        http={(h["port"], h["path"]): HttpAnswer(**h["answer"]) if h["answer"] else None for h in data.get("http") or ()},
    )
