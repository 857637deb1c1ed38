"""One way to reach the Docker engine: a client that answers, or :class:`DockerUnavailable`."""

from __future__ import annotations

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException

from runner.errors import DockerUnavailable


def one_line(exc: BaseException) -> str:
    """The first meaningful line of an exception message (Docker's are long and nested)."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A Docker SDK client that has answered a ping; :class:`DockerUnavailable` otherwise."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, RequestException, OSError) as exc:
        raise DockerUnavailable(one_line(exc)) from None
    return client
