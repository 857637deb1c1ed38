"""A run's phases once what its container needs is checked (runner/run/execute.py).

:func:`prepare_agent` checks the rest of the input (the model, the agent file, the
policies); :class:`Run` orchestrates the phases (setup → agent → verify → results → audit)
and holds what they learn; :func:`run_phases` makes the run directory and runs them. This
module (and what it imports: the agent file's parser, the policy engine, the decision
service, the display) is imported by :func:`runner.run.execute.execute_run` once the
agent's container is starting, so its import is beside the container's start, not before.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker

from runner import heap
from runner.agentdef import AgentDefinition, AgentLoad, load_agent_file, sandbox_section
from runner.audit.log import SETUP_REQUESTER, DecisionLog, agent_requester
from runner.config import DEFAULT_MAX_TURNS, RunConfig
from runner.decisions import DecisionService
from runner.env.build import EnvironmentPlan
from runner.env.setup import run_setup, setup_redactor
from runner.errors import (
    Interrupted,
    RunFailed,
    RunnerError,
)
from runner.gateway.provider import ModelProvider
from runner.gateway.redact import Redactor
from runner.gateway.sockets import GROUP_SOCKET_MODE, SOCKET_MODE
from runner.policy.decider import Decider
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import RunInfo
from runner.protocol import (
    AGENT_CONFIG_NAME,
    GO_NAME,
    OPEN_NAME,
    SOCKET_NAME,
    AgentConfig,
)
from runner.reports.diff import Snapshot
from runner.run.agent_process import (
    AGENT_GRACE,
    END_REPORT_WAIT,
    AgentProcess,
    check_agent_end,
)
from runner.run.claude_code import claude_launch
from runner.run.display import RunDisplay, shown
from runner.run.execute import needs_setup, prepare_sandbox
from runner.run.rundir import (
    RunRecord,
    create_run_dir,
    default_run_dir,
    new_run_id,
    utc_now,
)
from runner.run.sandbox_start import SandboxInputs, StartedSandbox, start_sandbox
from runner.run.selfcheck import check_sandbox
from runner.run.signals import interruptible
from runner.runtime_tools import policy_tool_names
from runner.sandbox.access import project_access
from runner.sandbox.deployment import DockerDeployment
from runner.sandbox.environment import ExecResult
from runner.sandbox.isolation import IsolationChoice
from runner.sandbox.ownership import sandbox_identity
from runner.sandbox.selfcheck import ClaudeCodeCheck

if TYPE_CHECKING:  # imported where used: after the agent phase, or only with the egress proxy
    from runner.gateway.server import Gateway  # (imported while Docker starts the container)
    from runner.reports.summary import AuditInfo, RunSummary
    from runner.reports.verification import VerificationResult
    from runner.run.egress import AgentEgress

SCRIPTED_PREFIX = "scripted:"


@dataclass(kw_only=True)
class Prepared(SandboxInputs):
    """Everything validated before the run touches anything: what the container needs, and
    the rest."""

    agent: AgentDefinition
    agent_load: AgentLoad  # the agent file as this runtime reads it: tools granted, dropped...
    model: str
    max_turns: int  # --max-turns / config, else the agent file's maxTurns, else the default
    provider: ModelProvider
    engine: PolicyEngine


def _provider(model_arg: str | None, cfg: RunConfig) -> tuple[str | None, ModelProvider]:
    if model_arg and model_arg.startswith(SCRIPTED_PREFIX):
        from runner.gateway.scripted import ScriptedProvider

        path = Path(model_arg[len(SCRIPTED_PREFIX):]).expanduser()
        return "scripted", ScriptedProvider(path)
    from runner.gateway.anthropic_proxy import AnthropicProvider  # httpx: only when it is used

    provider = AnthropicProvider.from_env(timeout=cfg.gateway.request_timeout)
    return model_arg, provider


def prepare_agent(inputs: SandboxInputs) -> Prepared:
    """Check the rest: the model (a scripted scenario is read), the agent file, the policies
    (compiled). Raises InputError (exit 2); writes nothing. Run beside the container's start
    when it could start first (:func:`execute_run`)."""
    cfg = inputs.cfg
    model_arg, provider = _provider(cfg.model, cfg)
    agent_load = load_agent_file(cfg.agent, aliases=cfg.model_aliases, model=model_arg,
                                 runtime=cfg.runtime)
    agent = agent_load.definition
    max_turns = cfg.max_turns or agent.max_turns or DEFAULT_MAX_TURNS
    engine = load_engine(cfg.policy, bundle=inputs.bundle)
    return Prepared(**vars(inputs), agent=agent, agent_load=agent_load, model=agent_load.model,
                    max_turns=max_turns, provider=provider, engine=engine)


def prepare(cfg: RunConfig) -> Prepared:
    """Validate every input (:func:`prepare_sandbox`, then :func:`prepare_agent`); raises
    InputError (exit 2), or EnvironmentProblem (exit 4) when the sandbox user could not
    reach the project; writes nothing."""
    return prepare_agent(prepare_sandbox(cfg))


class Run:
    """One run's phases, in order, and what they learn (run.json's record, the summary);
    its tool calls and connections are decided by ``self.decisions``."""

    def __init__(self, prep: Prepared, display: RunDisplay, *, run_id: str | None = None) -> None:
        self.prep = prep
        self.cfg = prep.cfg
        self.project = prep.project
        self.display = display
        self.run_id = run_id or new_run_id()
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
        # decides, logs and answers the run's tool calls and connections (each phase hands
        # it its decider and log); requested_by of tool calls: "agent:builtin", or the
        # Claude Code hook's
        self.decisions = DecisionService(
            Decider(prep.engine, workspace=self.project,
                    run=RunInfo(id=self.run_id, agent=prep.agent.name,
                                tools=_policy_tools(prep, self.cfg.runtime))),
            requested_by=agent_requester(self.cfg.runtime), display=display)
        self._gateway: Gateway | None = None
        self.egress: AgentEgress | None = None
        self.before: Snapshot | None = None
        self.secret_paths: list[str] = []
        self.verification: VerificationResult | None = None
        self.environment: EnvironmentPlan | None = None
        self.isolation = IsolationChoice("runc")

    def use_isolation(self, choice: IsolationChoice) -> None:
        """The kernel wall of the agent and verification containers (resolved before the run)."""
        self.isolation = choice
        self.record.isolation = choice.isolation
        self.record.isolation_requested = self.cfg.isolation

    @property
    def gateway(self) -> Gateway | None:
        return self._gateway

    @gateway.setter
    def gateway(self, gateway: Gateway | None) -> None:
        """The run's gateway; a decision the log cannot take ends the run through it (every
        later model request is answered 503): nothing may run unlogged."""
        self._gateway = gateway
        self.decisions.on_log_failure = gateway.fail if gateway is not None else None

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
        if not needs_setup(plan, self.cfg.rebuild_env):
            if plan.kind == "project":
                self.display.step(f"environment {plan.ref} (cached; {spec.describe()})")
            return plan.ref
        heap.settle()  # a build serves its proxy for minutes: collect as usual from here
        redactor = setup_redactor(self.prep.setup_secrets)
        self.decisions.decider = Decider(self.prep.engine, workspace=self.project,
                                         run=self.decisions.decider.run, redactor=redactor)

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
            self.decisions.log = log
            try:
                result = run_setup(plan, cfg=self.cfg, client=client, data=self.prep.data,
                                   decide_connect=self.decisions.decide_connect,
                                   log_dir=self.run_dir,
                                   progress=progress, secrets=self.prep.setup_secrets,
                                   redact=lambda text: redactor.redact_text(text)[0],
                                   rebuild=self.cfg.rebuild_env)
            finally:
                self.decisions.log = None
        self.record.environment.update(built=result.built, build_seconds=result.seconds)
        self.record.write(self.run_dir)
        return result.ref

    def execute(self, client: docker.DockerClient, image: str,
                started: StartedSandbox | None = None) -> None:
        """The agent phase, in the container ``started`` for it (started here when None)."""
        self.record.image = image
        if started is None:
            started = self.start_sandbox(client, image)
        self.secret_paths = started.secret_paths
        self.before = started.before
        self.record.masked = self.secret_paths
        self.record.sandbox_user = f"{started.uid}:{started.gid}"
        deployment, sock_dir = started.deployment, started.sock_dir
        claude = self.cfg.runtime == "claude-code"
        with contextlib.ExitStack() as stack:
            stack.enter_context(started.stack)  # the container, ownership, socket dir: last
            self.display.step("starting the sandbox container")
            # No tool call or connection is decided before the self-check passed (_self_check
            # releases the service's gate; a failure refuses it).
            self.decisions.gate.hold()
            _write_new(sock_dir / AGENT_CONFIG_NAME, self.agent_config().model_dump_json())
            # While Docker creates and starts the container: the agent sends its first model
            # request once the gateway listens (the open file, created last) and acts on the
            # answer only after the go file (after the self-check).
            self._start_host_side(stack, sock_dir, started.uid, started.gid, claude,
                                  started.token)
            heap.settle()  # start-up is over: collections no longer walk what it left
            stack.callback(deployment.stop)  # on the way out the container goes first
            deployment.wait_started()
            self.record.container_id = deployment.container_id
            if claude:
                self._start_relay(deployment)
                self._run_claude_code(deployment, started.proxy)
                return
            # The agent has been starting since the container did, and may have sent its first
            # model request; it acts on the answer only once the go file exists, which is
            # created only after every check passed (and the host decides nothing before). A
            # failed check removes the container, agent included.
            agent = AgentProcess(deployment, None, timeout=self.cfg.timeout,
                                 on_line=self._agent_line)
            agent.start()
            stack.callback(agent.close)  # its event watch, when the run ends before the wait
            try:
                self._start_relay(deployment)
                self._self_check(deployment)
            except RunnerError:
                # the agent ended first (its container with it): that is the run's failure
                if not deployment.is_alive() and agent.ended(END_REPORT_WAIT):
                    self._finish_agent(deployment, agent.wait(), main_process=True)
                raise
            _write_new(sock_dir / GO_NAME, "")
            self.display.step(f"agent {self.prep.agent.name} running (model {self.prep.model})")
            self._finish_agent(deployment, agent.wait(), main_process=True)

    def start_sandbox(self, client: docker.DockerClient, image: str) -> StartedSandbox:
        """The agent phase's container for this run, starting (runner/run/sandbox_start.py)."""
        return start_sandbox(inputs=self.prep, image=image, run_id=self.run_id,
                             runtime=self.isolation.runtime, client=client)

    def _start_relay(self, deployment: DockerDeployment) -> None:
        """The egress relay in the container, before anything there can need it."""
        if self.egress is not None:
            self.egress.start_relay(deployment.runtime, self.cfg.timeout + 3 * AGENT_GRACE)

    def _prepare(self, tool: str, tool_input: dict[str, Any]) -> bool:
        """A tool call of the model's answer, decided ahead (the gateway's ``prepare``)."""
        return self.decisions.prepare(tool, tool_input, runtime=self.cfg.runtime)

    def _start_host_side(self, stack: contextlib.ExitStack, sock_dir: Path, uid: int, gid: int,
                         claude: bool, token: str) -> Gateway:
        """The redactor, the decision log, the gateway (its module imported here: while
        Docker starts the container) and, with an allowlist, the egress proxy."""
        from runner.gateway.budget import Budget
        from runner.gateway.limits import GatewayLimits
        from runner.gateway.retry import RetryPolicy
        from runner.gateway.server import Gateway

        redactor = Redactor.from_env(
            secret_files=[self.project / p for p in self.secret_paths
                          if (self.project / p).is_file()])
        redactor.add_git_credentials(self.project)  # e.g. the CI token actions/checkout persists
        setup_redactor(self.prep.setup_secrets, redactor)  # never in the agent phase's records
        self.decisions.decider = Decider(self.prep.engine, workspace=self.project,
                                         run=self.decisions.decider.run, masks=self.secret_paths,
                                         redactor=redactor)
        self.decisions.log = stack.enter_context(DecisionLog(
            self.run_dir / "decisions.jsonl", bundle_hash=self.prep.bundle.hash,
            labels={"run_id": self.run_id, "agent": self.prep.agent.name,
                    "engine": self.cfg.policy.engine.type, "runtime": self.cfg.runtime},
            max_bytes=self.cfg.gateway.max_log_mb * 1024 * 1024))
        gateway = Gateway(
            socket_path=sock_dir / SOCKET_NAME, provider=self.prep.provider,
            decide=self.decisions.decide, run_dir=self.run_dir, on_event=self.display.event,
            budget=Budget.from_config(self.cfg.gateway), redactor=redactor,
            retry=RetryPolicy.from_config(self.cfg.gateway),
            model=None if self.prep.model == "scripted" else self.prep.model,
            limits=GatewayLimits.from_config(self.cfg.gateway),
            socket_owner=(uid, gid),
            socket_mode=GROUP_SOCKET_MODE if claude else SOCKET_MODE, token=token,
            prepare=self._prepare if self.cfg.policy.decide_ahead else None,
            prepare_all=claude,  # Claude Code asks for an answer's read-only calls together
        )
        self.gateway = gateway
        gateway.start()
        stack.callback(gateway.stop)
        # on the way out (before the gateway stops): a call still held is denied at once
        stack.callback(self.decisions.gate.end, "the agent phase ended before the check passed")
        _write_new(sock_dir / OPEN_NAME, "")  # the agent's first request may come now
        if self.prep.egress_hosts:  # otherwise no proxy at all: the sandbox has no network
            from runner.run.egress import AgentEgress

            self.egress = AgentEgress(
                hosts=self.prep.egress_hosts, cfg=self.cfg.egress, sock_dir=sock_dir,
                token=gateway.token, owner=(uid, gid),
                run_dir=self.run_dir, decide_connect=self.decisions.decide_connect,
                display=self.display, redact=self.decisions.decider.redact_text)
            self.egress.start_proxy()
            stack.callback(self.egress.stop)
            self.record.egress = self.egress.record()
        return gateway

    def _run_claude_code(self, deployment: DockerDeployment, proxy: dict[str, str]) -> None:
        """The claude-code runtime (runner/run/claude_code_agent.py): the API relay, the agent
        file, the self-check, Claude Code itself; its end checked like the built-in agent's."""
        from runner.run.claude_code_agent import run_claude_code  # the relay, Claude Code's stream

        assert self.gateway is not None
        launch = claude_launch(
            self.prep.agent, tools=list(self.prep.agent_load.tools),
            model=None if self.prep.model == "scripted" else self.prep.model,
            task=self.cfg.task, max_turns=self.prep.max_turns,
            append_prompt=self._sandbox_prompt(), proxy_env=proxy)
        end = run_claude_code(
            deployment, launch, gateway=self.gateway, display=self.display,
            timeout=self.cfg.timeout, relay_timeout=self.cfg.timeout + 3 * AGENT_GRACE,
            agent_name=self.prep.agent.name, model=self.prep.model,
            self_check=lambda check: self._self_check(deployment, check))
        self.record.claude_code = end.record()
        self._finish_agent(deployment, end.result)
        end.check()

    def _self_check(self, deployment: DockerDeployment,
                    claude_code: ClaudeCodeCheck | None = None) -> None:
        """The sandbox self-check; only once it passed are calls decided (the gate)."""
        try:
            check_sandbox(deployment, record=self.record, run_dir=self.run_dir,
                          display=self.display, writable=self.writable,
                          pids_limit=self.cfg.sandbox.limits.pids,
                          secret_paths=self.secret_paths,
                          proxy_port=self.egress.port if self.egress is not None else None,
                          claude_code=claude_code, isolation=self.isolation.isolation,
                          memory=self.cfg.sandbox.limits.memory)
        except BaseException as exc:
            self.decisions.gate.refuse(f"the sandbox self-check did not pass ({exc})")
            raise
        self.decisions.gate.release()

    def _finish_agent(self, deployment: DockerDeployment, result: ExecResult, *,
                      main_process: bool = False) -> None:
        self.record.agent_exit_code = result.returncode
        check_agent_end(deployment, result, timeout=self.cfg.timeout,
                        failure=self.gateway.failure_error if self.gateway is not None else None,
                        main_process=main_process)

    def _agent_line(self, stream: str, line: str) -> None:
        if stream == "stderr":
            self.display.agent_stderr(line)

    def verify(self, client: docker.DockerClient, image: str) -> None:
        if not self.cfg.verify.enabled:
            return
        self.display.step("verifying: running the project's tests in a fresh read-only container")
        identity = sandbox_identity(self.project, self.cfg.sandbox)
        with project_access(self.project, identity.uid, identity.gid):
            from runner.run.verify import run_verification

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
        fails (hostile input, a bug) is recorded in the summary and the others still run;
        should the collection itself be cut short (an interrupt, a module that cannot be
        imported), run.json still records the run's end before the error goes up."""
        try:
            return self._collect(failure)
        except BaseException as exc:
            self.record.finished_at = self.record.finished_at or utc_now()
            self.record.failure = self.record.failure or (
                str(failure) if failure is not None
                else f"internal error writing the results: {type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                self.record.write(self.run_dir)
            raise

    def _collect(self, failure: RunnerError | None) -> RunSummary:
        """:meth:`finish`'s work. The reports' modules are imported here, after the agent
        phase: not on the way to the agent's first request."""
        from runner.reports.collect import (
            Steps,
            apply_results,
            collect_results,
            decision_stats,
            with_results_gate,
        )
        from runner.reports.summary import (
            AgentInfo,
            AuditInfo,
            DecisionStats,
            GatewayInfo,
            RunSummary,
            TokenUsage,
        )
        from runner.run.results import settle, write_results

        summary = RunSummary(
            run_id=self.run_id, started_at=self.record.started_at, project=str(self.project),
            agent=AgentInfo(name=self.prep.agent.name, sha256=self.prep.agent.sha256),
            model=self.prep.model, runtime=self.cfg.runtime,
            policy_bundle_hash=self.prep.bundle.hash, image=self.record.image,
            isolation=self.isolation.isolation,
        )
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
        settle(summary, failure)
        finished = utc_now()
        summary.finished_at = finished
        summary.duration_s = round(time.monotonic() - self.prep.started, 2)
        self.record.finished_at = finished
        self.record.failure = summary.failure
        write_results(self.run_dir, self.record, summary)
        return summary

    def _audit_info(self) -> AuditInfo:
        from runner.audit.sign import audit_run

        return audit_run(self.run_dir, self.run_id, self.decisions.log, project=self.project)


def run_phases(prep: Prepared, display: RunDisplay, client: docker.DockerClient,
               isolation: IsolationChoice, plan: EnvironmentPlan, run_id: str,
               early: StartedSandbox | None) -> RunSummary:
    """:func:`execute_run` once every input is checked: the run directory, then the phases."""
    image = plan.ref
    run = Run(prep, display, run_id=run_id)
    run.use_isolation(isolation)
    create_run_dir(run.run_dir)
    run.record.write(run.run_dir)
    display.header(run.run_id, image, prep.bundle.hash, prep.agent.name, prep.model)
    display.step(f"isolation {isolation.isolation}"
                 + (f" (runtime {isolation.runtime})" if isolation.runtime else ""))
    for note in isolation.notes:  # "isolation auto: ..."
        display.line(shown(note, 0), "yellow")
    for note in _agent_notes(prep.agent_load):
        display.line(shown(f"agent file: {note}", 0), "yellow")
    failure: RunnerError | None = None
    with interruptible():
        try:
            try:
                image = run.setup_environment(client, plan)
                run.execute(client, image, early)
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
            if early is not None:  # its phase never came: removed before the results
                early.close()
            summary = run.finish(failure)
    display.result(summary, str(run.run_dir))
    return summary


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` read-only, holding ``text``: never through a link or over a file (the
    socket directory belongs to the sandbox user: what it holds is created, never followed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


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


__all__ = ["Prepared", "Run", "prepare", "prepare_agent", "run_phases", "summary_json"]

