"""The one module that talks to Docker engines through the docker SDK.

Everything else gets plain dataclasses from here and the project's own
errors, never docker.* objects or exceptions.
"""

from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions
from django.conf import settings


class EngineUnavailable(Exception):
    """The Docker engine did not answer (not running, wrong DOCKER_HOST, socket refused)."""


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    containers_running: int


def _client(base_url=None, timeout=5):
    try:
        if base_url:
            return docker.DockerClient(base_url=base_url, timeout=timeout)
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(str(exc)) from exc


def engine_info(base_url=None):
    """Version and load of the host's engine (DOCKER_HOST setting, else the SDK's default)."""
    client = _client(base_url or settings.DOCKER_HOST or None)
    try:
        version = client.version()
        info = client.info()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailable(str(exc)) from exc
    finally:
        client.close()
    return EngineInfo(
        version=version.get("Version", "?"),
        api_version=version.get("ApiVersion", "?"),
        containers_running=info.get("ContainersRunning", 0),
    )
