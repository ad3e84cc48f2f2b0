"""Web previews of a sandbox's published ports: the URL fetched, what came back, as plain data.

A preview is a GET of http://127.0.0.1:<port><path>?<query> made by curl *inside* the
sandbox container (an exec, as the port checks do), so it reaches the sandbox's own
loopback and nothing else: the host's network, the other sandboxes and every other
address stay out of reach whatever the learner types. The port is a number, the path
and query are percent-encoded here, and the host is written by this module alone.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import quote

# The most of an answer a preview reads (status line and headers included), and its seconds.
PREVIEW_ANSWER_LIMIT = 2 * 1024**2
PREVIEW_SECONDS = 10
# Longest path plus query passed on.
TARGET_LIMIT = 2000
# Inside the sandbox, by absolute path (its root filesystem is read-only; ~/.curlrc is not read: -q). No
# request header of the browser is passed on (no cookie, no authorization): curl sends its own few.
PREVIEW_PROGRAM = ("/usr/bin/timeout", str(PREVIEW_SECONDS + 2), "/usr/bin/curl", "-q", "-s", "-i", "-g", "--proto", "=http",
                   "--noproxy", "*", "--max-redirs", "0", "-m", str(PREVIEW_SECONDS))
# What of the learner's server's headers reaches the browser; never Set-Cookie, never a CSP of its own.
PASSED_HEADERS = ("content-type", "content-language", "last-modified", "etag", "location")
_PATH_SAFE = "/-._~!$&'()*+,;=:@%"
_QUERY_SAFE = "/-._~!$&'()*+,;=:@%?"


@dataclass(frozen=True)
class PublishedPort:
    """A port a running nested container publishes on the sandbox: `port` on the sandbox's side."""

    port: int
    container_port: int
    container: str


@dataclass(frozen=True)
class PreviewAnswer:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    # The answer went past PREVIEW_ANSWER_LIMIT (or the time ran out mid-body): `body` is its start.
    truncated: bool = False


def preview_url(port, path="/", query=""):
    """The URL a preview fetches inside the sandbox; None for a port that is not a port number.

    Whatever the path and query hold, the host is the sandbox's loopback: both are percent-encoded
    (spaces, `#`, backslashes, control characters, anything not ASCII), the path starts with `/`.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return None
    if not isinstance(path, str) or not isinstance(query, str):
        return None
    target = "/" + quote(path.lstrip("/"), safe=_PATH_SAFE)
    if query:
        target += "?" + quote(query, safe=_QUERY_SAFE)
    if len(target) > TARGET_LIMIT:
        return None
    return f"http://127.0.0.1:{port}{target}"


def parse_answer(output, *, limit=PREVIEW_ANSWER_LIMIT, complete=True):
    """A PreviewAnswer from what `curl -i` printed (read up to `limit` bytes), or None when no HTTP answer came.

    `complete` is False when the reading stopped before curl had finished (the limit or the time).
    """
    truncated = len(output) > limit or not complete
    output = output[:limit]
    # A `100 Continue` (or any 1xx) comes before the real answer.
    while re.match(rb"HTTP/[0-9.]+ 1[0-9][0-9]", output):
        _, separator, rest = output.partition(b"\r\n\r\n")
        if not separator:
            return None
        output = rest
    head, separator, body = output.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = re.fullmatch(rb"HTTP/[0-9.]+ ([1-5][0-9][0-9])(?: .*)?", lines[0]) if lines else None
    if status is None or not separator:
        return None
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        name = name.strip().lower().decode("latin-1")
        if colon and name in PASSED_HEADERS and name not in headers:
            # No header of theirs can split ours: control characters are dropped.
            headers[name] = re.sub(r"[\x00-\x1f\x7f]", "", value.strip().decode("latin-1"))[:1000]
    return PreviewAnswer(status=int(status.group(1)), headers=headers, body=body, truncated=truncated)


def published_ports(containers):
    """PublishedPorts from the nested daemon's /containers/json (running containers), TCP only, one per port."""
    found = {}
    for container in containers:
        name = ((container.get("Names") or ["/?"])[0] or "/?").lstrip("/")
        for binding in container.get("Ports") or ():
            public, private = binding.get("PublicPort"), binding.get("PrivatePort")
            if binding.get("Type", "tcp") != "tcp" or not isinstance(public, int) or not isinstance(private, int):
                continue
            if 1 <= public <= 65535 and public not in found:
                found[public] = PublishedPort(port=public, container_port=private, container=name[:200])
    return tuple(found[port] for port in sorted(found))
