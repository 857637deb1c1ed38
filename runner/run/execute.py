"""One sandboxed run, end to end.

Order matters: everything that can be bad *input* is checked before anything is
written (exit 2); then the environment (Docker, image: exit 4); then the run
directory is created and, whatever happens after that, the container is
removed, ownership handed back, and the run directory gets what was known.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.utils import parse_bytes

from runner.agentdef import AgentDefinition, AgentLoad, load_agent_file, sandbox_section
from runner.audit import DecisionLog, verify_log
from runner.audit.log import SETUP_REQUESTER, Redacted, agent_requester
from runner.audit.sign import sealed
from runner.config import DEFAULT_MAX_TURNS, RunConfig
from runner.egress.allowlist import with_agent_hosts
from runner.egress.decide import decide_response, unlogged
from runner.egress.relay import RelayProcess
from runner.env.build import EnvironmentPlan, plan_environment
from runner.env.detect import DependencySpec, detect_dependencies
from runner.env.setup import run_setup, setup_bundle, setup_redactor, setup_secrets
from runner.errors import (
    AuditLogFull,
    ConfigError,
    Interrupted,
    ProjectError,
    RunFailed,
    RunnerError,
    RunTimeout,
)
from runner.gateway.budget import Budget
from runner.gateway.limits import GatewayLimits
from runner.gateway.provider import ModelProvider
from runner.gateway.redact import Redactor
from runner.gateway.retry import RetryPolicy
from runner.gateway.server import (
    GROUP_SOCKET_MODE,
    SOCKET_MODE,
    Gateway,
    prepare_socket_dir,
)
from runner.policy.bundle import PolicyBundle, load_bundle
from runner.policy.claude_code import Mapped, map_call
from runner.policy.data import PolicyData, load_policy_data
from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import ConnectTarget, Decision, RunInfo, ToolCall
from runner.protocol import (
    AGENT_CONFIG_NAME,
    API_PORT,
    GO_ENV,
    GO_NAME,
    SOCKET_NAME,
    AgentConfig,
    DecideRequest,
    DecideResponse,
    EventRequest,
)
from runner.reports.collect import (
    Steps,
    apply_results,
    collect_results,
    decision_stats,
    masked_by,
    with_results_gate,
)
from runner.reports.diff import Snapshot, snapshot_tree
from runner.reports.markdown import render_markdown, write_step_summary
from runner.reports.summary import (
    AgentInfo,
    AuditInfo,
    DecisionStats,
    GatewayInfo,
    RunSummary,
    TokenUsage,
    write_summary,
)
from runner.reports.verify import VerificationResult, run_verification
from runner.run.agent_process import AGENT_GRACE, AgentProcess
from runner.run.claude_code import (
    API_RELAY_READY,
    CLAUDE_BIN,
    HOOK_COMMAND,
    StreamJsonEvents,
    api_relay_command,
    claude_launch,
    relay_uid,
)
from runner.run.display import RunDisplay, shown
from runner.run.egress import AgentEgress
from runner.run.rundir import (
    RunRecord,
    check_run_dir_place,
    create_run_dir,
    default_run_dir,
    new_run_id,
    utc_now,
)
from runner.run.signals import interruptible
from runner.runtime_tools import policy_tool_names
from runner.sandbox.access import check_project_access, project_access
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.docker_client import docker_client
from runner.sandbox.environment import ExecResult
from runner.sandbox.isolation import IsolationChoice, gvisor_host_pids, resolve_isolation
from runner.sandbox.masks import find_secret_paths
from runner.sandbox.ownership import sandbox_identity, writable_ownership
from runner.sandbox.selfcheck import ClaudeCodeCheck, host_pids_check, run_self_check
from runner.sandbox.spec import RUNTIME_PYTHON, WORKSPACE, build_container_spec, idle_command

SCRIPTED_PREFIX = "scripted:"
# The runtime prefix's interpreter by its absolute path (the tools' PATH leads to the project
# environment instead); -P: no CWD on sys.path (no shadowing by the workspace).
AGENT_COMMAND = [RUNTIME_PYTHON, "-P", "-m", "runner.agent"]


@dataclass
class Prepared:
    """Everything validated before the run touches anything."""

    cfg: RunConfig
    project: Path
    agent: AgentDefinition
    agent_load: AgentLoad  # the agent file as this runtime reads it: tools granted, dropped...
    model: str
    max_turns: int  # --max-turns / config, else the agent file's maxTurns, else the default
    provider: ModelProvider
    engine: PolicyEngine
    bundle: PolicyBundle
    data: PolicyData
    egress_hosts: list[str] = field(default_factory=list)  # the agent phase's allowlist
    env_spec: DependencySpec = field(default_factory=DependencySpec)  # the project's deps
    setup_secrets: dict[str, str] = field(default_factory=dict)  # for the setup phase only
    started: float = field(default_factory=time.monotonic)


def _provider(model_arg: str | None, cfg: RunConfig) -> tuple[str | None, ModelProvider]:
    from runner.gateway.anthropic_proxy import AnthropicProvider
    from runner.gateway.scripted import ScriptedProvider

    if model_arg and model_arg.startswith(SCRIPTED_PREFIX):
        path = Path(model_arg[len(SCRIPTED_PREFIX):]).expanduser()
        return "scripted", ScriptedProvider(path)
    provider = AnthropicProvider.from_env(timeout=cfg.gateway.request_timeout)
    return model_arg, provider


def prepare(cfg: RunConfig) -> Prepared:
    """Validate every input; raises InputError (exit 2), or EnvironmentProblem (exit 4) when
    the sandbox user could not reach the project; writes nothing."""
    project = cfg.project.expanduser().resolve()
    if not project.is_dir():
        raise ProjectError("project directory does not exist", path=cfg.project)
    if cfg.max_turns is not None and cfg.max_turns < 1:
        raise ConfigError("--max-turns must be at least 1")
    if cfg.timeout <= 0:
        raise ConfigError("--timeout must be positive")
    check_run_dir_place(project, cfg.out)
    model_arg, provider = _provider(cfg.model, cfg)
    agent_load = load_agent_file(cfg.agent, aliases=cfg.model_aliases, model=model_arg,
                                 runtime=cfg.runtime)
    agent = agent_load.definition
    max_turns = cfg.max_turns or agent.max_turns or DEFAULT_MAX_TURNS
    bundle = with_agent_hosts(load_bundle(cfg.policy.dirs, cfg.policy.data),
                              cfg.egress.allow_hosts, cfg.egress.presets)
    bundle = setup_bundle(cfg, bundle)
    data = load_policy_data(bundle)
    engine = load_engine(cfg.policy, bundle=bundle)
    identity = sandbox_identity(project, cfg.sandbox)
    check_project_access(project, identity.uid, identity.gid, list(data.writable))
    env_spec = detect_dependencies(project, cfg.environment, is_masked=data.is_secret_path)
    secrets = setup_secrets(cfg.environment.secrets)
    return Prepared(cfg=cfg, project=project, agent=agent, agent_load=agent_load,
                    model=agent_load.model, max_turns=max_turns, provider=provider,
                    engine=engine, bundle=bundle, data=data,
                    egress_hosts=data.phase_hosts("agent"), env_spec=env_spec,
                    setup_secrets=secrets)


class Run:
    """The state of one run while it executes (gateway callbacks write into it)."""

    def __init__(self, prep: Prepared, display: RunDisplay) -> None:
        self.prep = prep
        self.cfg = prep.cfg
        self.project = prep.project
        self.display = display
        self.run_id = new_run_id()
        self.run_dir = self.cfg.out.expanduser().resolve() if self.cfg.out else default_run_dir(
            self.project, self.run_id)
        self.writable = list(prep.data.writable)
        self.record = RunRecord(
            id=self.run_id, started_at=utc_now(), project=str(self.project),
            agent=_agent_record(prep),
            model=prep.model, runtime=self.cfg.runtime, task=self.cfg.task,
            policy_bundle_hash=prep.bundle.hash,
            policy_dirs=[str(p) for p in self.cfg.policy.dirs] or ["(bundled)"],
            writable=self.writable, config=self.cfg.model_dump(mode="json"),
        )
        self.summary = RunSummary(
            run_id=self.run_id, started_at=self.record.started_at, project=str(self.project),
            agent=AgentInfo(name=prep.agent.name, sha256=prep.agent.sha256), model=prep.model,
            runtime=self.cfg.runtime,
            policy_bundle_hash=prep.bundle.hash,
        )
        self.log: DecisionLog | None = None
        self.decider = Decider(prep.engine, workspace=self.project,
                               run=RunInfo(id=self.run_id, agent=prep.agent.name,
                                           tools=_policy_tools(prep, self.cfg.runtime)))
        self.gateway: Gateway | None = None
        self.egress: AgentEgress | None = None
        self.before: Snapshot | None = None
        self.secret_paths: list[str] = []
        self.verification: VerificationResult | None = None
        self.environment: EnvironmentPlan | None = None
        self.isolation = IsolationChoice("runc")
        self._decide_lock = threading.Lock()
        # requested_by of tool calls: "agent:builtin", or the Claude Code hook's (the runtime
        # setting comes with issue 11's claude-code runtime; without it the agent is builtin)
        self.requested_by = agent_requester(str(getattr(self.cfg, "runtime", "builtin")))

    def use_isolation(self, choice: IsolationChoice) -> None:
        """The kernel wall of the agent and verification containers (resolved before the run)."""
        self.isolation = choice
        self.record.isolation = choice.isolation
        self.record.isolation_requested = self.cfg.isolation
        self.summary.isolation = choice.isolation

    # --- gateway callbacks (gateway threads) ---------------------------------------

    def decide(self, req: DecideRequest) -> DecideResponse:
        """Decide and log one tool call. Anything that goes wrong is a logged deny."""
        mapped = Mapped(ToolCall(name=req.tool, input=req.input))
        if req.runtime == "claude-code":  # Claude Code's tool names and shapes (its hook asks)
            mapped = map_call(mapped.call)
        call, errors = mapped.call, mapped.errors
        try:  # the decider returns the input and decision redacted (its redactor is the run's)
            decided = self.decider.decide_logged(call, cwd=req.cwd, measured=req.measured,
                                                 errors=errors)
            decision, redacted = decided.decision, Redacted(decided.masked, decided.erased)
            logged: dict[str, Any] = decided.input.model_dump(mode="json", exclude_none=True)
            eval_ns, metrics = decided.eval_ns, decided.metrics
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # fail closed, and still leave a trace in the log
            decision, logged, redacted = self._failed(
                exc, {"tool": call.model_dump(mode="json"), "errors": [str(exc)]})
            eval_ns, metrics = 0, {}
        resp = self._record(logged, decision, eval_ns, redacted, tool_use_id=req.tool_use_id,
                            requested_by=self.requested_by, metrics=metrics)
        shown = logged.get("tool") or {}
        self.display.decision(str(shown.get("name", "")), shown.get("input") or {}, decision.allow,
                              [f"{r.policy}/{r.rule}: {r.msg}" for r in decision.reasons])
        return resp

    def decide_connect(self, target: ConnectTarget) -> DecideResponse:
        """Decide and log one connection the egress proxy was asked for (input kind
        ``connect``): the same engine, log and lock as tool calls; a failure is a logged deny."""
        try:
            decided = self.decider.decide_connect_logged(target)
            decision, redacted = decided.decision, Redacted(decided.masked, decided.erased)
            logged: dict[str, Any] = decided.input.model_dump(mode="json", exclude_none=True)
            eval_ns, metrics = decided.eval_ns, decided.metrics
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            decision, logged, redacted = self._failed(exc, {
                "kind": "connect", "connect": target.model_dump(mode="json"), "errors": [str(exc)]})
            eval_ns, metrics = 0, {}
        resp = self._record(logged, decision, eval_ns, redacted, metrics=metrics)
        self.display.connection(logged.get("connect") or {}, decision.allow,
                                [f"{r.policy}/{r.rule}: {r.msg}" for r in decision.reasons])
        return resp

    def _failed(self, exc: BaseException, logged: dict[str, Any]
                ) -> tuple[Decision, dict[str, Any], Redacted]:
        """The logged deny of a decision that raised (input and reason redacted)."""
        decision, masked, _ = self.decider.redact_logged(
            Decision.failed(f"{type(exc).__name__}: {exc}"), "/result")
        redacted_input, masked_input, _ = self.decider.redact_logged(logged, "/input")
        return decision, redacted_input, Redacted(masked_input + masked, [])

    def _record(self, logged: dict[str, Any], decision: Decision, eval_ns: int,
                redacted: Redacted, *, tool_use_id: str | None = None,
                requested_by: str | None = None,
                metrics: dict[str, int] | None = None) -> DecideResponse:
        """One line of the decision log, whatever decided (a tool call, a connection); a
        decision the full log cannot take is a deny, and ends the run. ``requested_by``:
        None for a connection (the log's own, or "egress-proxy")."""
        assert self.log is not None
        try:
            with self._decide_lock:
                entry = self.log.append(logged, decision.model_dump(mode="json"),
                                        eval_ns=eval_ns, tool_use_id=tool_use_id,
                                        requested_by=requested_by, masked=redacted.masked,
                                        erased=redacted.erased, metrics=metrics)
        except AuditLogFull as exc:  # nothing may run unlogged: deny, and end the run
            if self.gateway is not None:
                self.gateway.fail(exc)
            return unlogged(exc)
        return decide_response(decision, entry.decision_id)

    def on_event(self, ev: EventRequest) -> None:
        self.display.event(ev)

    # --- phases ------------------------------------------------------------------------

    def _sandbox_prompt(self) -> str:
        """The section appended to the agent's system prompt (either runtime)."""
        env = self.environment
        declared = env is not None and env.kind == "project"
        return sandbox_section(
            self.writable, self.cfg.verify.test_command,
            environment=env.spec.describe() if env is not None and declared else None)

    def agent_config(self) -> AgentConfig:
        agent = self.prep.agent
        prompt = agent.system_prompt + self._sandbox_prompt()
        return AgentConfig(
            run_id=self.run_id, agent_name=agent.name, system_prompt=prompt, task=self.cfg.task,
            model=self.prep.model, tools=list(self.prep.agent_load.tools),
            max_turns=self.prep.max_turns,
            bash_timeout=self.cfg.bash_timeout, writable=self.writable,
        )

    def setup_environment(self, client: docker.DockerClient, plan: EnvironmentPlan) -> str:
        """The setup phase: build the project's environment image when it is missing (or
        ``--rebuild-env``), runner-run, through the egress proxy with the setup allowlist;
        its connections are decided and logged like the agent's. The image ref to run."""
        self.environment = plan
        spec = plan.spec
        self.record.environment = {
            "kind": plan.kind, "image": plan.ref, "runtime": plan.runtime,
            "inputs_hash": plan.inputs_hash, "sources": spec.sources, "skipped": spec.skipped,
            "requirements": spec.requirements, "setup": spec.setup, "built": False,
            "setup_secrets": sorted(self.prep.setup_secrets),  # names only
        }
        if plan.kind == "explicit" and spec.declared:
            self.display.step(f"environment: --image {plan.ref} is used as is; the project's "
                              f"declared dependencies ({spec.describe()}) are not installed")
        if plan.kind != "project" or (plan.present and not self.cfg.rebuild_env):
            if plan.kind == "project":
                self.display.step(f"environment {plan.ref} (cached; {spec.describe()})")
            return plan.ref
        redactor = setup_redactor(self.prep.setup_secrets)
        self.decider = Decider(self.prep.engine, workspace=self.project, run=self.decider.run,
                               redactor=redactor)

        def progress(line: str) -> None:
            if line.startswith("==>"):
                self.display.step(line[4:])
            else:
                self.display.line(shown(line), "dim")

        with DecisionLog(self.run_dir / "decisions.jsonl", bundle_hash=self.prep.bundle.hash,
                         labels={"run_id": self.run_id, "agent": self.prep.agent.name,
                                 "engine": self.cfg.policy.engine.type},
                         requested_by=SETUP_REQUESTER,
                         max_bytes=self.cfg.gateway.max_log_mb * 1024 * 1024) as log:
            self.log = log
            try:
                result = run_setup(plan, cfg=self.cfg, client=client, data=self.prep.data,
                                   decide_connect=self.decide_connect, log_dir=self.run_dir,
                                   progress=progress, secrets=self.prep.setup_secrets,
                                   redact=lambda text: redactor.redact_text(text)[0],
                                   rebuild=self.cfg.rebuild_env)
            finally:
                self.log = None
        self.record.environment.update(built=result.built, build_seconds=result.seconds)
        self.record.write(self.run_dir)
        return result.ref

    def execute(self, client: docker.DockerClient, image: str) -> None:
        self.record.image = image
        self.summary.image = image
        self.secret_paths = find_secret_paths(self.project, self.prep.data.is_secret_path,
                                              self.writable)
        self.before = snapshot_tree(self.project / "backend", is_masked=masked_by(self.secret_paths))
        self.record.masked = self.secret_paths
        redactor = Redactor.from_env(
            secret_files=[self.project / p for p in self.secret_paths
                          if (self.project / p).is_file()])
        redactor.add_git_credentials(self.project)  # e.g. the CI token actions/checkout persists
        setup_redactor(self.prep.setup_secrets, redactor)  # never in the agent phase's records
        self.decider = Decider(self.prep.engine, workspace=self.project, run=self.decider.run,
                               masks=self.secret_paths, redactor=redactor)
        identity = sandbox_identity(self.project, self.cfg.sandbox)
        self.record.sandbox_user = f"{identity.uid}:{identity.gid}"
        with contextlib.ExitStack() as stack:
            sock_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sr-")))
            (sock_dir / AGENT_CONFIG_NAME).write_text(self.agent_config().model_dump_json())
            (sock_dir / AGENT_CONFIG_NAME).chmod(0o444)
            claude = self.cfg.runtime == "claude-code"  # its API relay is another uid
            prepare_socket_dir(sock_dir, identity.uid, identity.gid, group=claude)
            self.log = stack.enter_context(DecisionLog(
                self.run_dir / "decisions.jsonl", bundle_hash=self.prep.bundle.hash,
                labels={"run_id": self.run_id, "agent": self.prep.agent.name,
                        "engine": self.cfg.policy.engine.type, "runtime": self.cfg.runtime},
                max_bytes=self.cfg.gateway.max_log_mb * 1024 * 1024))
            self.gateway = Gateway(
                socket_path=sock_dir / SOCKET_NAME, provider=self.prep.provider,
                decide=self.decide, run_dir=self.run_dir, on_event=self.on_event,
                budget=Budget.from_config(self.cfg.gateway), redactor=redactor,
                retry=RetryPolicy.from_config(self.cfg.gateway),
                model=None if self.prep.model == "scripted" else self.prep.model,
                limits=GatewayLimits.from_config(self.cfg.gateway),
                socket_owner=(identity.uid, identity.gid),
                socket_mode=GROUP_SOCKET_MODE if claude else SOCKET_MODE,
            )
            self.gateway.start()
            stack.callback(self.gateway.stop)
            if self.prep.egress_hosts:  # otherwise no proxy at all: the sandbox has no network
                self.egress = AgentEgress(
                    hosts=self.prep.egress_hosts, cfg=self.cfg.egress, sock_dir=sock_dir,
                    token=self.gateway.token, owner=(identity.uid, identity.gid),
                    run_dir=self.run_dir, decide_connect=self.decide_connect,
                    display=self.display, redact=self.decider.redact_text)
                self.egress.start_proxy()
                stack.callback(self.egress.stop)
                self.record.egress = self.egress.record()
            stack.enter_context(project_access(self.project, identity.uid, identity.gid))
            stack.enter_context(
                writable_ownership(self.project, self.writable, identity.uid, identity.gid))
            spec = build_container_spec(
                project=self.project, image=image, run_id=self.run_id, socket_dir=sock_dir,
                writable=self.writable, secret_paths=self.secret_paths,
                limits=self.cfg.sandbox.limits, uid=identity.uid, gid=identity.gid,
                command=idle_command(self.cfg.timeout + 4 * AGENT_GRACE),
                workspace_entries=claude,  # Claude Code writes issues.md through a temp file
                runtime=self.isolation.runtime,
            )
            deployment = DockerDeployment(spec, client)
            stack.callback(deployment.stop)
            self.display.step("starting the sandbox container")
            deployment.start()
            self.record.container_id = deployment.container_id
            if self.egress is not None:  # before anything in the sandbox can need it
                self.egress.start_relay(deployment.runtime, self.cfg.timeout + 3 * AGENT_GRACE)
            proxy = self.egress.env() if self.egress is not None else {}
            if self.cfg.runtime == "claude-code":
                self._run_claude_code(deployment, proxy)
                return
            # The agent starts importing its libraries (seconds) while the self-check runs;
            # it acts only once the go file exists, which is created only after every check
            # passed. A failed check removes the container, agent included.
            agent = AgentProcess(deployment, AGENT_COMMAND, timeout=self.cfg.timeout,
                                 on_line=self._agent_line, env={GO_ENV: "1", **proxy},
                                 stdin=f"{self.gateway.token}\n".encode("ascii"))
            agent.start()
            self._self_check(deployment)
            (sock_dir / GO_NAME).touch()
            self.display.step(f"agent {self.prep.agent.name} running (model {self.prep.model})")
            self._finish_agent(deployment, agent.wait())

    def _run_claude_code(self, deployment: DockerDeployment, proxy: dict[str, str]) -> None:
        """The claude-code runtime: the API relay (it holds the token), the agent file in the
        tmpfs home, the self-check, then Claude Code itself; its stream-json lines become the
        run's events (through the gateway: redacted, clipped, capped)."""
        assert self.gateway is not None
        # The hook trusts whatever answers on 127.0.0.1:API_PORT: the relay runs as a uid of
        # its own (the sandbox user's group reaches the socket), so the agent, without
        # capabilities, can neither kill it nor take its port.
        spec = deployment.spec
        relay = RelayProcess(deployment.runtime, self.gateway.token, port=API_PORT,
                             timeout=self.cfg.timeout + 3 * AGENT_GRACE,
                             command=api_relay_command(), ready=API_RELAY_READY,
                             name="api-relay", on_line=self._relay_line,
                             user=f"{relay_uid(spec.uid)}:{spec.gid}")
        relay.start()
        model = None if self.prep.model == "scripted" else self.prep.model
        launch = claude_launch(
            self.prep.agent, tools=list(self.prep.agent_load.tools), model=model,
            task=self.cfg.task, max_turns=self.prep.max_turns,
            append_prompt=self._sandbox_prompt(), proxy_env=proxy)
        runtime = deployment.runtime
        made = runtime.exec(["mkdir", "-p", launch.agent_path.rsplit("/", 1)[0]], timeout=30)
        if made.returncode != 0:
            raise RunFailed(f"cannot create the agent directory in the sandbox: {made.stderr[:200]}")
        runtime.write_file(launch.agent_path, launch.agent_text.encode("utf-8"))
        self._self_check(deployment, ClaudeCodeCheck(binary=CLAUDE_BIN, hook=HOOK_COMMAND,
                                                     port=API_PORT))
        stream = StreamJsonEvents(agent_name=self.prep.agent.name, model=self.prep.model)
        gateway = self.gateway

        def line(kind: str, text: str) -> None:
            if kind == "stderr":
                self.display.agent_stderr(text)
                return
            for event in stream.feed(text):
                gateway.record_event(event)

        agent = AgentProcess(deployment, launch.command, timeout=self.cfg.timeout,
                             on_line=line, env=launch.env)
        self.display.step(f"agent {self.prep.agent.name} running in Claude Code "
                          f"(model {self.prep.model})")
        agent.start()
        result = agent.wait()
        self.record.claude_code = {"result": stream.outcome.subtype, "turns": stream.outcome.turns,
                                   "lines_skipped": stream.skipped}
        self._finish_agent(deployment, result)
        if not relay.alive:
            raise RunFailed("the API relay ended during the run: tool calls may have gone "
                            "undecided (see the audit cross-check)")
        outcome = stream.outcome
        if outcome.subtype is None:
            raise RunFailed("Claude Code ended without a result line")
        if outcome.is_error and outcome.subtype != "error_max_turns":
            raise RunFailed(f"Claude Code ended with {shown(outcome.subtype, 60)}: "
                            f"{shown(outcome.message, 300)}")

    def _relay_line(self, stream: str, line: str) -> None:
        if stream == "stderr":
            self.display.agent_stderr(f"api relay: {line}")

    def _self_check(self, deployment: DockerDeployment,
                    claude_code: ClaudeCodeCheck | None = None) -> None:
        sanitized = [b.target.removeprefix(f"{WORKSPACE}/") for b in deployment.spec.binds
                     if b.purpose == "sanitized"]
        result = run_self_check(
            deployment.runtime, writable=self.writable, pids_limit=self.cfg.sandbox.limits.pids,
            secret_paths=self.secret_paths, sanitized=sanitized,
            proxy_port=self.egress.port if self.egress is not None else None,
            claude_code=claude_code, isolation=self.isolation.isolation,
            memory_bytes=(parse_bytes(self.cfg.sandbox.limits.memory)
                          if self.isolation.isolation == "gvisor" else None))
        if self.isolation.isolation == "gvisor":  # the sandbox's host tasks: ask the host
            state = deployment.inspect().get("State", {})
            result.checks.append(host_pids_check(
                state.get("Pid"), gvisor_host_pids(self.cfg.sandbox.limits.pids)))
        self.record.self_check = [c.model_dump() for c in result.checks]
        self.record.self_check_ok = result.ok
        self.record.write(self.run_dir)
        if result.ok:
            self.display.step(f"self-check passed ({len(result.checks)} checks)")
        result.raise_for_failure()

    def _finish_agent(self, deployment: DockerDeployment, result: ExecResult) -> None:
        self.record.agent_exit_code = result.returncode
        oom = deployment.oom_killed()
        gateway = self.gateway
        if result.timed_out or not deployment.is_alive():
            if oom:
                raise RunFailed("oom-killed: the sandbox ran out of memory")
            if result.timed_out:
                raise RunTimeout(self.cfg.timeout)
            raise RunFailed("the sandbox container died during the run")
        if gateway is not None and gateway.failure_error is not None:
            raise gateway.failure_error
        if oom:
            raise RunFailed("oom-killed: a process in the sandbox ran out of memory")
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RunFailed(f"agent exited with code {result.returncode}: {tail[0][:300]}")

    def _agent_line(self, stream: str, line: str) -> None:
        if stream == "stderr":
            self.display.agent_stderr(line)

    def verify(self, client: docker.DockerClient, image: str) -> None:
        if not self.cfg.verify.enabled:
            return
        self.display.step("verifying: running the project's tests in a fresh read-only container")
        identity = sandbox_identity(self.project, self.cfg.sandbox)
        with project_access(self.project, identity.uid, identity.gid):
            self.verification = run_verification(
                client=client, image=image, project=self.project, out_dir=self.run_dir / "reports",
                limits=self.cfg.sandbox.limits, uid=identity.uid, gid=identity.gid,
                test_command=self.cfg.verify.test_command, timeout=self.cfg.verify.timeout,
                run_id=self.run_id, secret_paths=self.secret_paths,
                runtime=self.isolation.runtime)
        self.record.verification = self.verification.model_dump(mode="json")

    # --- results (always) -----------------------------------------------------------

    def finish(self, failure: RunnerError | None) -> RunSummary:
        """Collect what is known into the run directory. Every step is isolated: one that
        fails (hostile input, a bug) is recorded in the summary and the others still run."""
        summary = self.summary
        gated = self.cfg.verify.enabled and failure is None
        results = collect_results(run_dir=self.run_dir, project=self.project,
                                  before=self.before,
                                  verification=self.verification if gated else None,
                                  threshold=self.cfg.verify.coverage_threshold,
                                  writable=self.writable, secret_paths=self.secret_paths,
                                  coverage_scope=self.cfg.verify.coverage_scope())
        if not gated:
            results.gates = []  # nothing was verified: no gate can pass or fail
        summary = apply_results(summary, results)
        steps = Steps()
        summary.decisions = steps.run("decisions", lambda: decision_stats(self.run_dir),
                                      DecisionStats)
        if self.gateway is not None:
            stats = self.gateway.stats
            summary.tokens = TokenUsage(input=stats.input_tokens, output=stats.output_tokens,
                                        requests=stats.requests)
            summary.gateway = GatewayInfo(refused=stats.refused, events_dropped=stats.events_dropped,
                                          clamped=stats.clamped, redactions=stats.redactions)
        if self.egress is not None:
            summary.egress = self.egress.info()
        summary.audit = steps.run("audit", self._audit_info, AuditInfo)
        summary.collection_errors += steps.errors
        summary.gates = with_results_gate(summary.gates, summary.collection_errors)
        if failure is not None:
            summary.status = "failed" if isinstance(failure, RunFailed) else "error"
            summary.exit_code = failure.exit_code
            summary.failure = str(failure)
        elif summary.gates and not all(g.passed for g in summary.gates):
            summary.status, summary.exit_code = "gates_failed", 1
        else:
            summary.status, summary.exit_code = "passed", 0
        finished = utc_now()
        summary.finished_at = finished
        summary.duration_s = round(time.monotonic() - self.prep.started, 2)
        self.record.finished_at = finished
        self.record.failure = summary.failure
        writes = Steps()
        writes.run("run.json", lambda: self.record.write(self.run_dir), lambda: None)
        summary.collection_errors += writes.errors
        if writes.run("summary", lambda: write_summary(self.run_dir, summary), lambda: None) is None:
            summary.collection_errors.append(writes.errors[-1])
            write_summary(self.run_dir, summary, markdown=False)  # summary.json at least
        writes.run("step summary", lambda: write_step_summary(render_markdown(summary)),
                   lambda: False)
        return summary

    def _audit_info(self) -> AuditInfo:
        log_path = self.run_dir / "decisions.jsonl"
        if not log_path.exists():
            return AuditInfo()
        check = verify_log(log_path)
        info = AuditInfo(head_hash=check.head_hash, verified=check.ok, entries=check.count,
                         detail=check.problem)
        return sealed(self.run_dir, self.run_id, info, self.log, project=self.project)


@contextlib.contextmanager
def _closing(engine: PolicyEngine) -> Iterator[None]:
    try:
        yield
    finally:
        engine.close()


def execute_run(cfg: RunConfig, display: RunDisplay) -> RunSummary:
    """Run the agent in the sandbox and produce the run directory. Returns the summary.

    Raises InputError (exit 2) and EnvironmentProblem (exit 4) before the run starts;
    once the run directory exists, failures end up in the summary (exit 3) instead.
    """
    prep = prepare(cfg)
    with _closing(prep.engine):
        client = docker_client()
        isolation = resolve_isolation(client, cfg.isolation)  # exit 4 before any container
        plan = plan_environment(prep.project, cfg.sandbox, cfg.environment, client=client,
                                spec=prep.env_spec, progress=display.step,
                                rebuild_default=cfg.rebuild_env, runtime=cfg.runtime)
        image = plan.ref
        run = Run(prep, display)
        run.use_isolation(isolation)
        create_run_dir(run.run_dir)
        run.record.write(run.run_dir)
        display.header(run.run_id, image, prep.bundle.hash, prep.agent.name, prep.model)
        display.step(f"isolation {isolation.isolation}"
                     + (f" (runtime {isolation.runtime})" if isolation.runtime else ""))
        for note in [*isolation.notes, *_agent_notes(prep.agent_load)]:
            display.line(shown(f"agent file: {note}", 0), "yellow")
        failure: RunnerError | None = None
        with interruptible():
            try:
                try:
                    image = run.setup_environment(client, plan)
                    run.execute(client, image)
                    run.verify(client, image)
                except RunnerError as exc:
                    failure = exc
                except KeyboardInterrupt:
                    failure = Interrupted("SIGINT")
                except Exception as exc:  # never lose the run record to a bug
                    failure = RunFailed(f"internal error: {type(exc).__name__}: {exc}")
                if failure is not None:
                    display.failure(str(failure))
            finally:
                summary = run.finish(failure)
        display.result(summary, str(run.run_dir))
        return summary


def _policy_tools(prep: Prepared, runtime: str) -> list[str]:
    """The policy input's ``run.tools``: the names the granted tools' calls are decided as."""
    tools = list(prep.agent_load.tools)
    return policy_tool_names(tools) if runtime == "claude-code" else tools


def _agent_record(prep: Prepared) -> dict[str, Any]:
    """run.json's ``agent``: the file, and what this runtime granted, dropped and ignored."""
    load = prep.agent_load.summary()
    record = {"name": prep.agent.name, "source": str(prep.agent.source),
              "sha256": prep.agent.sha256, "max_turns": prep.max_turns}
    for key in ("tools", "tools_requested", "disallowed_tools", "tools_dropped", "keys_ignored",
                "warnings", "model_as_written"):
        record[key] = load[key]
    return record


def _agent_notes(load: AgentLoad) -> list[str]:
    """One line for each tool dropped, key ignored and warning (shown when the run starts)."""
    notes = [f"tool {t.tool} dropped: {t.reason}" for t in load.tools_dropped]
    notes += [f"key {k.key} ignored: {k.reason}" for k in load.keys_ignored]
    return notes + load.warnings


def summary_json(summary: RunSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), indent=2)


__all__ = ["execute_run", "prepare", "summary_json"]

