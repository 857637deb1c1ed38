"""Credentials a project's git configuration holds, as known secrets for the redactor.

``actions/checkout`` persists the job's token in ``.git/config`` as
``http.<url>.extraheader = AUTHORIZATION: basic <base64 of x-access-token:TOKEN>``; remotes can
carry ``https://user:password@host`` URLs. The host reads the project's git config once at run
start (no-follow, size-capped, through :class:`~runner.hostfs.WorkspaceFS`) and hands every
credential value it finds to the redactor: the header value, the base64 credential, and what
it decodes to (the password alone too), so none of their forms reaches the model or the
transcript. A worktree's ``.git`` file is followed to its git directory and common directory.
"""

from __future__ import annotations

import base64
import binascii
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from runner.hostfs import HostReadRefused, WorkspaceFS

MAX_CONFIG_BYTES = 1 << 20
_ENTRY_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.-]*)\s*=\s*(.*?)\s*$")
_AUTH_RE = re.compile(r"(?i)^\s*(?:proxy-)?authorization\s*:\s*(\w+)\s+(\S+)\s*$")
_URL_CRED_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^\s/@]+)@")
_SECRET_KEYS = ("password", "token", "secret")


def git_config_credentials(project: Path) -> list[tuple[str, str]]:
    """(rule, value) for every credential in the project's git config files."""
    found: list[tuple[str, str]] = []
    for text in _config_texts(project):
        found.extend(config_credentials(text))
    return found


def config_credentials(text: str) -> Iterator[tuple[str, str]]:
    """(rule, value) pairs of one git config file's text."""
    for raw in text.splitlines():
        entry = _ENTRY_RE.match(raw)
        if entry is None:
            continue
        key, value = entry.group(1).lower(), _unquote(entry.group(2))
        if key.endswith("extraheader"):
            yield "git-config:extraheader", value
            yield from _header_credentials(value)
        elif key.rsplit(".", 1)[-1] in _SECRET_KEYS:
            yield f"git-config:{key}", value
        for userinfo in _URL_CRED_RE.findall(value):
            user, _, password = userinfo.partition(":")
            yield "git-config:url-credentials", userinfo
            if password:
                yield "git-config:url-password", password
            elif len(user) >= 16:
                yield "git-config:url-token", user


def _header_credentials(header: str) -> Iterator[tuple[str, str]]:
    auth = _AUTH_RE.match(header)
    if auth is None:
        _name, sep, rest = header.partition(":")
        if sep and rest.strip():
            yield "git-config:extraheader-value", rest.strip()
        return
    scheme, credential = auth.group(1).lower(), auth.group(2)
    yield f"git-config:authorization-{scheme}", credential
    if scheme != "basic":
        return
    try:
        decoded = base64.b64decode(credential + "=" * (-len(credential) % 4), validate=True)
    except (binascii.Error, ValueError):
        return
    text = decoded.decode("utf-8", "replace")
    yield "git-config:basic-credentials", text
    _user, sep, password = text.partition(":")
    if sep:
        yield "git-config:basic-password", password


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _config_texts(project: Path) -> Iterator[str]:
    fs = WorkspaceFS(project, max_bytes=MAX_CONFIG_BYTES)
    try:
        if stat.S_ISDIR(fs.lstat(".git").st_mode):
            text = fs.try_read_text(".git/config")
            if text is not None:
                yield text
            return
        pointer = fs.try_read_text(".git")
    except (HostReadRefused, OSError):
        return
    if pointer is None or not pointer.startswith("gitdir:"):
        return
    gitdir = Path(pointer[len("gitdir:"):].strip())
    gitdir = gitdir if gitdir.is_absolute() else project / gitdir
    dirs = [gitdir]
    common = _read(gitdir, "commondir")
    if common is not None and common.strip():
        target = Path(common.strip())
        dirs.append(target if target.is_absolute() else gitdir / target)
    for directory in dirs:
        text = _read(directory, "config")
        if text is not None:
            yield text


def _read(directory: Path, name: str) -> str | None:
    try:
        return WorkspaceFS(directory, max_bytes=MAX_CONFIG_BYTES).try_read_text(name)
    except (HostReadRefused, OSError):
        return None
