"""The gateway's socket: a 0600 unix socket in a 0700 directory owned by the sandbox user.

Split from :mod:`runner.gateway.net` (the HTTP answers, on Starlette), which re-exports these
names: a run prepares the socket directory before the container starts, and imports the
server's web stack only while Docker starts it.
"""

from __future__ import annotations

import os
import socket
import stat
from contextlib import suppress
from pathlib import Path

from runner.errors import EnvironmentProblem

SOCKET_MODE = 0o600
SOCKET_DIR_MODE = 0o700
# With a relay user (the claude-code runtime's API relay runs as another uid of the sandbox
# user's group, so the agent cannot kill it): the group may reach the socket too.
GROUP_SOCKET_MODE = 0o660
GROUP_SOCKET_DIR_MODE = 0o750


def prepare_socket_dir(path: Path, uid: int, gid: int, *, group: bool = False) -> None:
    """Make ``path`` 0700 and hand it to the sandbox user: only that uid (and root) can reach
    the socket and read the agent's config. A no-op chown when the host runs as that uid.
    ``group``: 0750, for a relay running as another uid of the sandbox user's group."""
    os.chmod(path, GROUP_SOCKET_DIR_MODE if group else SOCKET_DIR_MODE)
    st = os.lstat(path)
    if (st.st_uid, st.st_gid) == (uid, gid):
        return
    try:
        os.chown(path, uid, gid, follow_symlinks=False)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot hand the gateway socket directory to the sandbox user {uid}:{gid} "
            f"({exc.strerror}): run sandbox-runner as root or as the project's owner") from None


def bind_unix_socket(path: Path, owner: tuple[int, int] | None, *,
                     mode: int = SOCKET_MODE) -> socket.socket:
    """A listening unix socket at ``path``, 0600 and owned by ``owner`` (uid, gid; None: ours)
    before it accepts anything. A stale socket there is replaced; anything else is an error."""
    with suppress(FileNotFoundError):
        st = os.lstat(path)
        if not stat.S_ISSOCK(st.st_mode):
            raise FileExistsError(f"{path} exists and is not a socket")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, mode)  # nobody can connect before listen()
        if owner is not None:
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != owner:
                os.chown(path, *owner, follow_symlinks=False)
        sock.listen(128)
    except OSError:
        sock.close()
        with suppress(OSError):
            path.unlink()
        raise
    return sock
