"""`sandbox-runner doctor`: is this machine ready to run agents?

Each check gives ok, warn, fail or info. A failed check may carry the error a
command would end with: Docker unreachable (exit 4), policies that do not
compile (exit 2), the Rego engine or Python missing (exit 4).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from runner.config import DockerSandboxConfig, PolicyConfig
from runner.errors import (
    DockerUnavailable,
    EnvironmentProblem,
    InputError,
    RunnerError,
)
from runner.sandbox.deployment import _owner_alive as owner_alive
from runner.sandbox.docker_client import docker_client

Status = Literal["ok", "warn", "fail", "info"]
RUN_LABEL = "sandbox-runner.run"
SETUP_PREFIX = "sandbox-runner-setup-"  # runner/env/build.py: a build's container, by name
DOCKER_TIMEOUT = 5


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    error: RunnerError | None = None  # what a command would fail with (fail only)


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def error(self) -> RunnerError | None:
        """The error to end with: an environment problem first, then bad input."""
        errors = [c.error for c in self.failed if c.error is not None]
        for code in (4, 2):
            for err in errors:
                if err.exit_code == code:
                    return err
        return errors[0] if errors else None

    @property
    def exit_code(self) -> int:
        err = self.error
        if err is not None:
            return err.exit_code
        return 1 if self.failed else 0


def check_python(info: tuple[int, ...] | None = None) -> Check:
    info = tuple(sys.version_info[:3]) if info is None else info
    version = ".".join(str(v) for v in info)
    if info >= (3, 11):
        return Check("python", "ok", f"Python {version} ({sys.executable})")
    return Check(
        "python",
        "fail",
        f"Python {version}: 3.11 or newer is needed",
        EnvironmentProblem(f"Python {version} is too old: 3.11 or newer is needed"),
    )


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def check_docker(client: Any) -> Check:
    info = client.version()
    return Check(
        "docker",
        "ok",
        f"Docker engine {info.get('Version', '?')} (API {info.get('ApiVersion', '?')})",
    )


def check_gvisor(client: Any) -> Check:
    """Whether ``--isolation gvisor`` can run here; if not, the lines to add (info: runc
    stays the default, so a missing gVisor runtime is no failure)."""
    from runner.sandbox.isolation import (
        MIN_RUNSC_DATE,
        TESTED_RUNSC,
        GVisorUnavailable,
        daemon_json_snippet,
        resolve_isolation,
        runsc_date,
        runsc_version,
    )

    try:
        choice = resolve_isolation(client, "gvisor")
    except GVisorUnavailable as exc:
        runsc = shutil.which("runsc")
        how = ("`sandbox-runner engine setup --gvisor` writes it" if runsc else
               "install runsc first (Debian trixie's runsc, docs/isolation.md)")
        return Check("gvisor", "info", f"not configured ({exc.detail}): --isolation gvisor "
                     f"needs {daemon_json_snippet(runsc)} in /etc/docker/daemon.json and a "
                     f"reload (kill -HUP $(pidof dockerd)); {how}")
    path = str(((client.info().get("Runtimes") or {}).get(choice.runtime) or {}).get("path", ""))
    version = runsc_version(path) if path else None
    date = runsc_date(version) if version else None
    what = (f"runtime {choice.runtime} configured ({path}, runsc {version or 'version unknown'}; "
            f"tested: {TESTED_RUNSC}, Debian trixie)")
    if date is not None and date < MIN_RUNSC_DATE:
        return Check("gvisor", "warn", f"{what}: too old (no systrap, no --directfs flag: its "
                     "sandboxes fail to start); install Debian trixie's runsc (docs/isolation.md)")
    return Check("gvisor", "ok", f"{what}: --isolation gvisor available")


def _image_check(status: Any) -> Check:
    """Interpret what ``runner.sandbox.image.image_status()`` returned."""
    present = getattr(status, "present", status if isinstance(status, bool) else None)
    ref = next(
        (
            str(getattr(status, a))
            for a in ("tag", "ref", "image", "name")
            if getattr(status, a, None)
        ),
        "sandbox image",
    )
    if present is True:
        return Check("image", "ok", f"{ref} present")
    if present is False:
        return Check(
            "image",
            "warn",
            f"{ref} not built yet: `sandbox-runner image build` (`run` builds it when missing)",
        )
    return Check("image", "info", f"sandbox image: {status}")


def check_image() -> Check:
    try:
        from runner.sandbox.image import image_status
    except ImportError:
        return Check("image", "info", "unknown (image support not installed)")
    try:
        return _image_check(image_status(DockerSandboxConfig()))
    except Exception as exc:
        return Check("image", "warn", f"unknown: {_short(exc)}")


def claude_code_check(status: Any) -> Check:
    """Interpret ``runner.sandbox.image.claude_code_status()``: the pinned Claude Code
    version, whether its binary is cached and whether its layer is built (info until the
    claude-code runtime has been built once: it is optional)."""
    head = f"Claude Code {status.version} ({status.arch}):"
    build = "`sandbox-runner image build --runtime claude-code`"
    if not status.cached:
        return Check("claude-code", "info", f"{head} binary not cached, layer not built: {build} "
                                            "(downloads it from the npm registry once)")
    if status.layer_present:
        return Check("claude-code", "ok", f"{head} binary cached, layer {status.layer_ref} present")
    layer = status.layer_ref or "layer (the runtime layer is not built yet)"
    return Check("claude-code", "info", f"{head} binary cached, {layer} not built yet: {build} "
                                        "(offline)")


def check_claude_code(client: Any) -> Check:
    from runner.sandbox.image import claude_code_status

    try:
        return claude_code_check(claude_code_status(DockerSandboxConfig(), client))
    except RunnerError as exc:
        return Check("claude-code", "warn", f"unknown: {_short(exc)}")


def check_environment(project: Path, client: Any) -> Check:
    """The project's environment image: which one a run would use, and whether it is built."""
    from runner.config import build_run_config
    from runner.env.build import environment_status
    from runner.policy.bundle import load_bundle
    from runner.policy.data import load_policy_data

    try:
        cfg = build_run_config(project, {})
        data = load_policy_data(load_bundle(cfg.policy.dirs, cfg.policy.data))
        ref, present, what = environment_status(project.resolve(), cfg.sandbox, cfg.environment,
                                                client=client, is_masked=data.is_secret_path)
    except RunnerError as exc:
        return Check("environment", "fail", _short(exc), exc)
    if present:
        return Check("environment", "ok", f"{ref} present ({what})")
    return Check("environment", "warn", f"{ref} not built yet ({what}): `sandbox-runner env build "
                                        f"{project}` (`run` builds it when missing)")


def check_regorus() -> Check:
    try:
        import regorus

        engine = regorus.Engine()
        engine.add_policy("doctor.rego", "package doctor\nanswer := 42\n")
        value = engine.eval_rule("data.doctor.answer")
    except Exception as exc:
        return Check(
            "regorus",
            "fail",
            f"Rego engine unusable: {_short(exc)}",
            EnvironmentProblem(f"Rego engine (regorus) unusable: {_short(exc)}"),
        )
    if value != 42:
        return Check(
            "regorus",
            "fail",
            f"Rego engine gave {value!r} for 42",
            EnvironmentProblem("Rego engine (regorus) evaluates wrongly"),
        )
    try:
        version = metadata.version("gordon-to-regorus")
    except metadata.PackageNotFoundError:
        version = "?"
    return Check("regorus", "ok", f"regorus {version} evaluates")


def check_policies(cfg: PolicyConfig) -> Check:
    from runner.policy.models import PolicyInput, ToolCall

    where = ", ".join(str(d) for d in cfg.dirs) or "bundled policies"
    try:
        from runner.policy.engine import load_engine

        engine = load_engine(cfg)
    except RunnerError as exc:
        return Check("policies", "fail", f"{where}: {exc}", exc)
    except Exception as exc:
        return Check(
            "policies",
            "fail",
            f"{where}: {_short(exc)}",
            EnvironmentProblem(f"policy engine unusable: {_short(exc)}"),
        )
    try:
        probe = PolicyInput(tool=ToolCall(name="Read", input={"file_path": "README.md"}))
        decision = engine.evaluate(probe)
        bundle = engine.bundle_hash
        failed = [r.msg for r in decision.reasons if r.rule == "evaluation_failed"]
    except Exception as exc:
        failed = [_short(exc)]
        bundle = "?"
    finally:
        engine.close()
    if failed:
        return Check(
            "policies",
            "fail",
            f"{where}: compiled but does not evaluate: {failed[0]}",
            InputError(f"policies do not evaluate: {failed[0]}"),
        )
    return Check("policies", "ok", f"{where} compile and evaluate; bundle {bundle[:12]}")


def check_opa() -> Check:
    opa = shutil.which("opa")
    if opa is None:
        return Check("opa", "info", "opa not on PATH (only needed for --engine opa without a URL)")
    try:
        out = subprocess.run([opa, "version"], capture_output=True, text=True, timeout=10).stdout
        first = out.splitlines()[0] if out else "version unknown"
    except (OSError, subprocess.SubprocessError) as exc:
        first = f"version unknown ({_short(exc)})"
    return Check("opa", "info", f"{opa}: {first}")


def leftover_containers(client: Any, run_id: str | None = None) -> list[Any]:
    """Sandbox containers (labelled ``sandbox-runner.run``), of one run when given."""
    label = RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}"
    found = list(client.containers.list(all=True, filters={"label": label}, ignore_removed=True))
    if run_id is None:  # environment build containers carry no label (the image would keep it)
        found += [c for c in client.containers.list(
            all=True, filters={"name": SETUP_PREFIX, "status": "exited"}, ignore_removed=True)
            if str(c.name).startswith(SETUP_PREFIX)]
    return found


def _describe(container: Any) -> str:
    run = (container.labels or {}).get(RUN_LABEL, "?")
    return f"{container.name} (run {run}, {container.status})"


def check_leftovers(client: Any, *, cleanup: bool, run_id: str | None = None) -> Check:
    """Containers whose runner process is gone are leftovers; those of a live run are kept."""
    found = leftover_containers(client, run_id)
    live = [c for c in found if owner_alive(dict(c.labels or {}))]
    orphans = [c for c in found if c not in live]
    note = f"; {len(live)} of a run in progress: " + ", ".join(map(_describe, live)) if live else ""
    if not orphans:
        return Check("containers", "ok", "no leftover sandbox containers" + note)
    names = ", ".join(_describe(c) for c in orphans)
    if not cleanup:
        return Check(
            "containers",
            "warn",
            f"{len(orphans)} leftover: {names}; remove with `sandbox-runner doctor --cleanup`"
            + note,
        )
    problems: list[str] = []
    for container in orphans:
        try:
            container.remove(force=True)
        except Exception as exc:
            problems.append(f"{container.name}: {_short(exc)}")
    if problems:
        return Check("containers", "warn", "could not remove " + "; ".join(problems) + note)
    return Check("containers", "ok", f"removed {len(orphans)}: {names}" + note)


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as exc:  # a check must never crash doctor
        return Check(name, "warn", f"check failed: {_short(exc)}")


def run_doctor(
    policy: PolicyConfig | None = None,
    *,
    cleanup: bool = False,
    run_id: str | None = None,
    project: Path | None = None,
) -> DoctorReport:
    report = DoctorReport()
    report.checks.append(check_python())
    try:
        client: Any = docker_client(timeout=DOCKER_TIMEOUT)
    except DockerUnavailable as exc:
        client = None
        report.checks.append(Check("docker", "fail", exc.detail, exc))
    if client is not None:
        report.checks.append(_guard("docker", lambda: check_docker(client)))
        report.checks.append(_guard("gvisor", lambda: check_gvisor(client)))
        report.checks.append(_guard("image", check_image))
        report.checks.append(_guard("claude-code", lambda: check_claude_code(client)))
        if project is not None:
            report.checks.append(_guard("environment", lambda: check_environment(project, client)))
    else:
        report.checks.append(Check("image", "warn", "skipped: no Docker engine"))
    report.checks.append(check_regorus())
    report.checks.append(check_policies(policy or PolicyConfig()))
    report.checks.append(check_opa())
    if client is not None:
        report.checks.append(
            _guard("containers", lambda: check_leftovers(client, cleanup=cleanup, run_id=run_id))
        )
        client.close()
    else:
        report.checks.append(Check("containers", "warn", "skipped: no Docker engine"))
    return report
