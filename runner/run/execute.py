"""One sandboxed run, end to end.

Order matters: everything that can be bad *input* is checked before anything is
written (exit 2; bad input wins over a missing Docker's exit 4); then the environment
(Docker, image: exit 4); then the run directory is created and, whatever happens after
that, the container is removed, ownership handed back, and the run directory gets what
was known. One overlap: when no environment has to be built, the agent's container is
started once :func:`prepare_sandbox` has checked what it needs, while
:func:`~runner.run.phases.prepare_agent` reads the agent file and the policies; bad input found then
removes it again and takes back what its spec made (runner/run/sandbox_start.py), before
anything is written.

:func:`prepare_sandbox` checks what the container needs and :func:`execute_run` runs it all;
the rest lives in :mod:`runner.run.phases` (:func:`~runner.run.phases.prepare_agent`, the
:class:`~runner.run.phases.Run` that orchestrates the phases setup → agent → verify →
results → audit), imported only once the container is starting: this module imports
nothing a container's spec does not need (no agent file parser, policy engine, decision
service, gateway or display), so the CLI reaches the container's start sooner. What a phase
does lives in the module named for it: decisions in :mod:`runner.decisions`, the agent's
exec and end in :mod:`runner.run.agent_process`, the self-check step in
:mod:`runner.run.selfcheck`, Claude Code in :mod:`runner.run.claude_code_agent`, the
outcome and final writes in :mod:`runner.run.results`, the audit in
:func:`runner.audit.sign.audit_run`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from runner.config import RunConfig
from runner.egress.allowlist import with_agent_hosts
from runner.env.build import EnvironmentPlan, plan_environment
from runner.env.detect import detect_dependencies
from runner.env.setup import setup_bundle, setup_secrets
from runner.errors import ConfigError, EnvironmentProblem, ProjectError
from runner.policy.bundle import load_bundle
from runner.policy.data import load_policy_data
from runner.run.rundir import check_run_dir_place, new_run_id
from runner.run.sandbox_start import SandboxInputs, StartedSandbox, start_sandbox
from runner.run.signals import interruptible
from runner.sandbox.access import check_project_access
from runner.sandbox.docker_client import docker_client
from runner.sandbox.isolation import IsolationChoice, resolve_isolation
from runner.sandbox.ownership import sandbox_identity

if TYPE_CHECKING:  # runner/run/phases.py (and all it imports): after the container's start
    import docker

    from runner.reports.summary import RunSummary
    from runner.run.display import RunDisplay


def prepare_sandbox(cfg: RunConfig) -> SandboxInputs:
    """Check what the agent phase's container needs: the configuration, the project, the run
    directory's place, the policy bundle and its data, the sandbox user's access, the
    project's dependencies, the setup secrets. Raises InputError (exit 2), or
    EnvironmentProblem (exit 4) when the sandbox user could not reach the project; writes
    nothing."""
    project = cfg.project.expanduser().resolve()
    if not project.is_dir():
        raise ProjectError("project directory does not exist", path=cfg.project)
    if cfg.max_turns is not None and cfg.max_turns < 1:
        raise ConfigError("--max-turns must be at least 1")
    if cfg.timeout <= 0:
        raise ConfigError("--timeout must be positive")
    check_run_dir_place(project, cfg.out)
    bundle = with_agent_hosts(load_bundle(cfg.policy.dirs, cfg.policy.data),
                              cfg.egress.allow_hosts, cfg.egress.presets)
    bundle = setup_bundle(cfg, bundle)
    data = load_policy_data(bundle)
    identity = sandbox_identity(project, cfg.sandbox)
    check_project_access(project, identity.uid, identity.gid, list(data.writable))
    env_spec = detect_dependencies(project, cfg.environment, is_masked=data.is_secret_path)
    secrets = setup_secrets(cfg.environment.secrets)
    return SandboxInputs(cfg=cfg, project=project, bundle=bundle, data=data,
                         egress_hosts=data.phase_hosts("agent"), env_spec=env_spec,
                         setup_secrets=secrets)


def needs_setup(plan: EnvironmentPlan, rebuild: bool) -> bool:
    """Whether the setup phase builds the project's environment image (missing, or asked)."""
    return plan.kind == "project" and (not plan.present or rebuild)


def execute_run(cfg: RunConfig, display: RunDisplay) -> RunSummary:
    """Run the agent in the sandbox and produce the run directory. Returns the summary.

    Raises InputError (exit 2) and EnvironmentProblem (exit 4) before the run starts;
    once the run directory exists, failures end up in the summary (exit 3) instead.

    When no environment has to be built first, the agent phase's container is started as
    soon as its spec is known (:func:`prepare_sandbox`, the engine, the image), and the agent
    file and the policies are read and compiled while it starts (:func:`prepare_agent`); an
    input error then removes it again before anything is written (runner/run/sandbox_start.py).
    """
    inputs = prepare_sandbox(cfg)
    try:
        client = docker_client()
        isolation = resolve_isolation(client, cfg.isolation)  # exit 4 before any container
        plan = plan_environment(inputs.project, cfg.sandbox, cfg.environment, client=client,
                                spec=inputs.env_spec, progress=display.step,
                                rebuild_default=cfg.rebuild_env, runtime=cfg.runtime)
    except EnvironmentProblem:
        from runner.run.phases import prepare_agent

        prepare_agent(inputs)  # bad input is still exit 2, before the environment's exit 4
        raise
    with interruptible():  # SIGINT/SIGTERM from here on unwinds: abandon() or the phases' end
        return _started(cfg, display, inputs, client, isolation, plan)


def _started(cfg: RunConfig, display: RunDisplay, inputs: SandboxInputs,
             client: docker.DockerClient, isolation: IsolationChoice,
             plan: EnvironmentPlan) -> RunSummary:
    """:func:`execute_run` from the container's start (when it can start now) on."""
    early: StartedSandbox | None = None
    try:
        run_id = new_run_id()
        if not needs_setup(plan, cfg.rebuild_env):  # the image is there: start it now
            early = start_sandbox(inputs=inputs, image=plan.ref, run_id=run_id,
                                  runtime=isolation.runtime, client=client)
        from runner.run import phases  # (its imports beside the container's start)

        prep = phases.prepare_agent(inputs)
    except BaseException:
        if early is not None:  # bad input (or an interrupt): as if nothing had started
            with contextlib.suppress(Exception):  # the input's error is the one to report
                early.abandon()
        raise
    with contextlib.ExitStack() as stack:
        if early is not None:
            stack.callback(early.close)  # unless the agent phase took it over (then a no-op)
        stack.callback(prep.engine.close)
        return phases.run_phases(prep, display, client, isolation, plan, run_id, early)
