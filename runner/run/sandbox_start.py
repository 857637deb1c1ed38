"""The agent phase's container, started as soon as its spec is known.

What the container needs is known from the configuration, the policy data (writable paths,
secret patterns) and the project (its masks, its owner) alone: not from the agent file, the
compiled policies or the model. So, when no environment has to be built first, the run
starts it right after those checks (runner/run/execute.py) and reads the agent file,
compiles the policies and brings up its host side while Docker creates and starts it and the
agent's interpreter loads; a bad agent file or policy found meanwhile removes it again
(exit 2, nothing written). The agent, its main process, acts on nothing before the host has
written agent.json and opened its gateway (the open file), and on no answer before the
sandbox self-check passed (the go file; the host decides nothing before it either).

:func:`start_sandbox` does what precedes the container's start: the snapshot of backend/,
the masks, the socket directory, the project access and the writable paths' ownership (each
undone by the :class:`StartedSandbox`'s own exit stack, container first), the spec and the
start itself, in the background. :meth:`StartedSandbox.abandon` also removes what the spec
created in the project (a missing ``issues.md``, the runner's state directory) when the input
turns out bad.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import docker

from runner.config import RunConfig
from runner.env.detect import DependencySpec
from runner.gateway.auth import new_token
from runner.gateway.sockets import prepare_socket_dir
from runner.policy.bundle import PolicyBundle
from runner.policy.data import PolicyData
from runner.reports.diff import Snapshot, masked_by, snapshot_tree
from runner.run.agent_process import AGENT_GRACE, agent_main_command
from runner.sandbox.access import project_access
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.masks import RUNNER_STATE_DIR, find_secret_paths
from runner.sandbox.ownership import sandbox_identity, writable_ownership
from runner.sandbox.spec import build_container_spec, idle_command
from runner.wire import GO_ENV


@dataclass(kw_only=True)
class SandboxInputs:
    """What the agent phase's container needs, checked (:func:`runner.run.execute.prepare_sandbox`)."""

    cfg: RunConfig
    project: Path
    bundle: PolicyBundle
    data: PolicyData
    egress_hosts: list[str] = field(default_factory=list)  # the agent phase's allowlist
    env_spec: DependencySpec = field(default_factory=DependencySpec)  # the project's deps
    setup_secrets: dict[str, str] = field(default_factory=dict)  # for the setup phase only
    started: float = field(default_factory=time.monotonic)


@dataclass
class StartedSandbox:
    """A container being started for one run's agent phase, and what its start set up.
    ``stack`` undoes it all (the container removed first); :meth:`close` is idempotent."""

    run_id: str
    deployment: DockerDeployment
    sock_dir: Path
    token: str
    uid: int
    gid: int
    secret_paths: list[str]
    before: Snapshot
    proxy: dict[str, str] = field(default_factory=dict)  # the egress relay's variables
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    created: list[Path] = field(default_factory=list)  # what the spec made in the project

    def close(self) -> None:
        self.stack.close()

    def abandon(self) -> None:
        """:meth:`close`, and remove what the spec created in the project (missing writable
        entries, the runner's state directory) while it is still empty: the run never began
        (its input was bad), and nothing in the container acted (the agent waits for the
        open file). The removal runs even when closing failed (whose error then goes up)."""
        try:
            self.close()
        finally:
            remove_created(self.created)


def remove_created(created: list[Path]) -> None:
    """Remove each of ``created`` (deepest first) while it is an empty regular file or an empty
    directory; never follows a link, and leaves anything else as it is."""
    for path in sorted(created, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(path)
            elif stat.S_ISDIR(st.st_mode):
                os.rmdir(path)  # only when empty


def start_sandbox(*, inputs: SandboxInputs, image: str, run_id: str, runtime: str | None,
                  client: docker.DockerClient) -> StartedSandbox:
    """Set up and start (in the background) the agent phase's container from the checked
    ``inputs`` (an agent phase with an allowlist: the relay's variables go into the agent's
    environment); ``runtime``: the engine runtime of the isolation (None: the default)."""
    cfg, project, data = inputs.cfg, inputs.project, inputs.data
    egress = bool(inputs.egress_hosts)
    writable = list(data.writable)
    created = _missing(project, [*writable, RUNNER_STATE_DIR])
    secret_paths = find_secret_paths(project, data.is_secret_path, writable)
    before = snapshot_tree(project / "backend", is_masked=masked_by(secret_paths))
    identity = sandbox_identity(project, cfg.sandbox)
    claude = cfg.runtime == "claude-code"  # its API relay is another uid
    stack = contextlib.ExitStack()
    try:
        sock_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sr-")))
        prepare_socket_dir(sock_dir, identity.uid, identity.gid, group=claude)
        stack.enter_context(project_access(project, identity.uid, identity.gid))
        stack.enter_context(writable_ownership(project, writable, identity.uid, identity.gid))
        # The built-in agent is the container's main process: it starts with the container
        # (its token on stdin, nothing else from the host yet) and waits for the open file.
        # Claude Code's container idles (execs drive it).
        token = new_token()
        proxy: dict[str, str] = {}
        if egress:  # the relay's variables (imported only when it runs)
            from runner.egress.relay import proxy_env

            proxy = proxy_env(cfg.egress.relay_port)
        spec = build_container_spec(
            project=project, image=image, run_id=run_id, socket_dir=sock_dir,
            writable=writable, secret_paths=secret_paths, limits=cfg.sandbox.limits,
            uid=identity.uid, gid=identity.gid,
            command=(idle_command(cfg.timeout + 4 * AGENT_GRACE) if claude
                     else agent_main_command(cfg.timeout, {GO_ENV: "1", **proxy})),
            workspace_entries=claude,  # Claude Code writes issues.md through a temp file
            runtime=runtime,
        )
        deployment = DockerDeployment(spec, client)
        stack.callback(deployment.stop)
        # Docker creates and starts the container (mostly waiting on the engine) while the
        # caller goes on: nothing else uses the Docker client until wait_started().
        deployment.start_background(
            stdin=None if claude else f"{token}\n".encode("ascii"), attach_output=not claude)
    except BaseException:
        try:  # e.g. a writable entry refused after another was created: nothing stays
            stack.close()
        finally:
            remove_created(created)
        raise
    return StartedSandbox(run_id=run_id, deployment=deployment, sock_dir=sock_dir, token=token,
                          uid=identity.uid, gid=identity.gid, secret_paths=secret_paths,
                          before=before, proxy=proxy, stack=stack, created=created)


def _missing(project: Path, entries: list[str]) -> list[Path]:
    """The paths of ``entries`` (relative; a directory ends with '/') and of their parents
    inside ``project`` that do not exist yet (what the spec would create)."""
    missing: set[Path] = set()
    for entry in entries:
        rel = PurePosixPath(entry.rstrip("/"))
        for depth in range(1, len(rel.parts) + 1):
            path = project.joinpath(*rel.parts[:depth])
            if not os.path.lexists(path):
                missing.add(path)
    return sorted(missing)


__all__ = ["SandboxInputs", "StartedSandbox", "remove_created", "start_sandbox"]
