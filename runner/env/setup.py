"""The setup phase as a command sees it: secrets, the proxy, the log, the build.

:func:`run_setup` is shared by ``sandbox-runner run`` (the run's decision service and log)
and ``sandbox-runner env build`` (:func:`build_project_environment`: a decision log of the
build's own under ``.sandbox-runner/env-builds/<id>/``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import docker
from pydantic import BaseModel

from runner.config import RunConfig
from runner.egress.allowlist import with_setup_hosts
from runner.env.build import BuildResult, EnvironmentPlan, build_environment, plan_environment
from runner.errors import ConfigError
from runner.policy.bundle import PolicyBundle, load_bundle
from runner.policy.data import PolicyData, load_policy_data
from runner.run.rundir import RUNNER_STATE
from runner.sandbox.docker_client import docker_client
from runner.sandbox.image import env_wheelhouse
from runner.secret_detectors import MIN_SECRET_LENGTH

if TYPE_CHECKING:  # the proxy is imported by a setup phase that builds, not by every run;
    # the redactor, the decisions and the log where they are used (a run checks its setup
    # inputs before its container starts, and needs none of them until after)
    from runner.egress.proxy import DecideConnect
    from runner.gateway.redact import Redactor



Progress = Callable[[str], None]
BUILDS_DIR = "env-builds"


def setup_secrets(names: list[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The setup secrets' values from the host environment; ConfigError (exit 2) when one is
    not set, or too short to be redacted without redacting ordinary words."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name in names:
        value = env.get(name)
        if value is None or value == "":
            raise ConfigError(f"setup secret {name} is not set in the environment")
        if len(value.strip()) < MIN_SECRET_LENGTH:
            raise ConfigError(f"setup secret {name} is shorter than {MIN_SECRET_LENGTH} "
                              "characters: too short to be redacted reliably")
        out[name] = value
    return out


def setup_redactor(secrets: Mapping[str, str], base: Redactor | None = None) -> Redactor:
    from runner.gateway.redact import Redactor

    red = base or Redactor.from_env()
    for name, value in secrets.items():
        red.add_value(f"setup-secret:{name}", value)
    return red


def setup_bundle(cfg: RunConfig, bundle: PolicyBundle) -> PolicyBundle:
    """The bundle with ``[environment] allow_hosts`` / ``presets`` in the setup allowlist."""
    return with_setup_hosts(bundle, cfg.environment.allow_hosts, cfg.environment.presets)


def run_setup(
    plan: EnvironmentPlan, *, cfg: RunConfig, client: docker.DockerClient, data: PolicyData,
    decide_connect: DecideConnect, log_dir: Path | None, progress: Progress,
    secrets: Mapping[str, str], redact: Callable[[str], str], rebuild: bool = False,
) -> BuildResult:
    """Build ``plan``'s environment when it is missing (or ``rebuild``), through the egress
    proxy with the setup allowlist (no proxy at all when that list is empty)."""
    if plan.kind != "project" or (plan.present and not rebuild):
        return BuildResult(ref=plan.ref, built=False)
    from runner.env.network import ProxyNetwork

    hosts = data.phase_hosts("setup")
    network = ProxyNetwork(
        hosts=hosts, decide_connect=decide_connect, cfg=cfg.egress,
        allow_private=cfg.environment.allow_private, log_dir=log_dir, redact=redact,
        on_refused=lambda line: progress(f"    {line}")) if hosts else None
    try:
        return build_environment(
            plan, client=client, limits=cfg.sandbox.limits, timeout=cfg.environment.timeout,
            progress=progress, network=network, secrets=secrets, redact=redact,
            rebuild=rebuild, wheelhouse=env_wheelhouse(client, progress),
            ca_bundle=cfg.environment.ca_bundle)
    finally:
        if network is not None:
            network.dispose()


class EnvBuildReport(BaseModel):
    ref: str
    kind: str
    built: bool
    seconds: float
    log_dir: str | None = None
    spec: dict[str, object]


def build_project_environment(cfg: RunConfig, *, progress: Progress, rebuild: bool = False
                              ) -> EnvBuildReport:
    """``sandbox-runner env build``: plan and (when missing, or ``rebuild``) build the
    project's environment image; its setup decisions go to a decision log of its own."""
    from runner.audit.log import SETUP_REQUESTER, DecisionLog
    from runner.decisions import DecisionService
    from runner.policy.decider import Decider
    from runner.policy.engine import load_engine
    from runner.policy.models import RunInfo

    started = time.monotonic()
    project = cfg.project.expanduser().resolve()
    if not project.is_dir():
        raise ConfigError("project directory does not exist", path=cfg.project)
    bundle = setup_bundle(cfg, load_bundle(cfg.policy.dirs, cfg.policy.data))
    data = load_policy_data(bundle)
    secrets = setup_secrets(cfg.environment.secrets)
    client = docker_client(timeout=900)
    plan = plan_environment(project, cfg.sandbox, cfg.environment, client=client,
                            is_masked=data.is_secret_path, progress=progress,
                            rebuild_default=rebuild)
    log_dir: Path | None = None
    result = BuildResult(ref=plan.ref, built=plan.kind == "default" and rebuild)
    if plan.kind == "project" and (rebuild or not plan.present):
        build_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        log_dir = project / RUNNER_STATE / BUILDS_DIR / build_id
        log_dir.mkdir(parents=True, exist_ok=False)
        redactor = setup_redactor(secrets)
        engine = load_engine(cfg.policy, bundle=bundle)
        try:
            decider = Decider(engine, workspace=project, run=RunInfo(id=build_id, agent="setup"),
                              redactor=redactor)
            with DecisionLog(log_dir / "decisions.jsonl", bundle_hash=bundle.hash,
                             labels={"run_id": build_id, "phase": "setup"},
                             requested_by=SETUP_REQUESTER) as log:
                result = run_setup(plan, cfg=cfg, client=client, data=data,
                                   decide_connect=DecisionService(decider, log=log).decide_connect,
                                   log_dir=log_dir,
                                   progress=progress, secrets=secrets,
                                   redact=lambda text: redactor.redact_text(text)[0],
                                   rebuild=rebuild)
        finally:
            engine.close()
    return EnvBuildReport(ref=result.ref, kind=plan.kind, built=result.built,
                          seconds=round(time.monotonic() - started, 2),
                          log_dir=str(log_dir) if log_dir else None,
                          spec=plan.spec.model_dump(mode="json"))
