"""Policy engines: loading, compile errors, fail-closed evaluation, threads, OPA."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runner.config import OPAEngineConfig, PolicyConfig
from runner.errors import OPAUnavailable, PolicyCompileError
from runner.policy.bundle import load_bundle
from runner.policy.engine import PolicyEngine, load_engine
from runner.policy.models import Decision, PathFact, PolicyInput, ShellCommand, ShellFacts, ToolCall
from runner.policy.opa_engine import OPAEngine
from runner.policy.regorus_engine import RegorusEngine, build_engine
from tests.policy.conftest import HAVE_OPA, NO_OPA_REASON, engine_config

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def fact(path: str, op: str = "read") -> PathFact:
    return PathFact.model_validate(
        {
            "raw": path,
            "path": path,
            "real": path,
            "op": op,
            "inside_workspace": not path.startswith("/"),
        }
    )


def write(path: str) -> PolicyInput:
    return PolicyInput(
        tool=ToolCall(name="Write", input={"file_path": path}), paths=[fact(path, "write")]
    )


def bash(*argv: list[str], paths: list[PathFact] | None = None) -> PolicyInput:
    return PolicyInput(
        tool=ToolCall(name="Bash", input={"command": " ; ".join(" ".join(a) for a in argv)}),
        shell=ShellFacts(commands=[ShellCommand(program=a[0], argv=a) for a in argv]),
        paths=paths or [],
    )


SAMPLES: list[PolicyInput] = [
    write("backend/app.py"),
    write("frontend/app.js"),
    write(".git/hooks/pre-commit"),
    write("/etc/passwd"),
    PolicyInput(tool=ToolCall(name="Read", input={}), paths=[fact(".env")]),
    PolicyInput(tool=ToolCall(name="Read", input={}), paths=[fact("/proc/self/environ")]),
    PolicyInput(tool=ToolCall(name="Read", input={}), paths=[fact("/usr/lib/x.py")]),
    bash(["pytest", "-q"], paths=[fact("backend/tests")]),
    bash(["env"]),
    bash(["git", "show", "HEAD:.env"]),
    bash(["git", "-c", "core.fsmonitor=x", "status"]),
    PolicyInput(tool=ToolCall(name="Nope")),
]


# --- regorus ------------------------------------------------------------------------------


def test_load_engine_defaults_to_regorus(regorus_engine: PolicyEngine) -> None:
    assert isinstance(regorus_engine, RegorusEngine)
    assert regorus_engine.bundle_hash == load_bundle([]).hash
    assert regorus_engine.evaluate(write("backend/app.py")) == Decision(allow=True)


def test_dict_and_model_inputs_decide_alike(regorus_engine: PolicyEngine) -> None:
    for sample in SAMPLES:
        assert regorus_engine.evaluate(sample.model_dump()) == regorus_engine.evaluate(sample)


def test_derived_data_changes_nothing(regorus_engine: PolicyEngine) -> None:
    """Decisions with the data computed at load equal those computing it per call."""
    bundle = load_bundle([])
    plain = build_engine(bundle.files, bundle.data)  # no data.sandbox_derived
    for sample in SAMPLES:
        plain.set_input_json(sample.model_dump_json())
        expected = Decision.model_validate_json(plain.eval_rule_as_json("data.sandbox.decision"))
        assert regorus_engine.evaluate(sample) == expected


def _policy_dir(tmp_path: Path, rego: str, name: str = "main.rego") -> Path:
    d = tmp_path / "pol"
    d.mkdir(exist_ok=True)
    (d / name).write_text(rego)
    return d


ALLOW_READ = 'package sandbox\n\nimport rego.v1\n\ndecision := {"allow": input.tool.name == "Read", "reasons": []}\n'
ALLOW_NONE = 'package sandbox\n\nimport rego.v1\n\ndecision := {"allow": false, "reasons": []}\n'


def test_the_engine_compiles_the_bytes_the_bundle_hashed(tmp_path: Path) -> None:
    """The bundle is read once: a policy file swapped on disk between ``load_bundle`` and
    ``load_engine`` changes neither the compiled policies nor the hash the log records."""
    pol = _policy_dir(tmp_path, ALLOW_READ)
    bundle = load_bundle([pol])
    (pol / "main.rego").write_text(ALLOW_NONE)
    assert load_bundle([pol]).hash != bundle.hash
    engine = load_engine(PolicyConfig(dirs=[pol]), bundle=bundle)
    try:
        assert engine.bundle_hash == bundle.hash
        assert engine.evaluate(PolicyInput(tool=ToolCall(name="Read"))).allow  # the hashed file
    finally:
        engine.close()


@pytest.mark.parametrize(
    "rego, where, message",
    [
        ("package sandbox\n\nimport rego.v1\n\ndecision := {\n", "6:1", "expecting"),
        (
            "package sandbox\n\nimport rego.v1\n\ndecision := x if {\n    x := nosuch(input)\n}\n",
            "6:16",  # regorus points at the call
            "Unknown function: 'nosuch'",
        ),
        (
            "package sandbox\n\nimport rego.v1\n\ndecision if {\n    y == 1\n}\n",
            "6:5",
            "use of undefined variable `y` is unsafe",
        ),
    ],
    ids=["syntax", "unknown-function", "unsafe-variable"],
)
def test_compile_errors_are_file_line_col(
    tmp_path: Path, rego: str, where: str, message: str
) -> None:
    pol = _policy_dir(tmp_path, rego, "broken.rego")
    with pytest.raises(PolicyCompileError) as info:
        load_engine(PolicyConfig(dirs=[pol]))
    text = str(info.value)
    assert text.startswith(f"{pol / 'broken.rego'}:{where}: "), text
    assert message in text
    assert "\n" not in text and "backtrace" not in text.lower()
    assert info.value.exit_code == 2


def test_compile_error_in_the_default_policies_copy(tmp_path: Path) -> None:
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    scope = pol / "scope.rego"
    scope.write_text(
        scope.read_text().replace(
            "path_reason(p, s) := null if {", "path_reason(p, s) := null if {{", 1
        )
    )
    with pytest.raises(PolicyCompileError, match=r"scope\.rego:\d+:\d+: "):
        load_engine(PolicyConfig(dirs=[pol]))


FAILING = """package sandbox

import rego.v1

decision := {"allow": true, "reasons": []} if input.tool.name == "Read"

decision := {"allow": "yes", "reasons": []} if input.tool.name == "Edit"

decision := {"allow": true, "reasons": "none"} if input.tool.name == "LS"

decision := {"allow": x, "reasons": []} if {
	input.tool.name == "Write"
	x := 1 / 0
}
"""


@pytest.fixture()
def failing_engine(tmp_path: Path) -> Iterator[PolicyEngine]:
    eng = load_engine(PolicyConfig(dirs=[_policy_dir(tmp_path, FAILING)]))
    yield eng
    eng.close()


@pytest.mark.parametrize(
    "tool, detail",
    [
        ("Edit", "malformed decision"),
        ("LS", "malformed decision"),
        ("Write", "broken"),
        ("Bash", "undefined"),
    ],
)
def test_evaluation_fails_closed(failing_engine: PolicyEngine, tool: str, detail: str) -> None:
    assert failing_engine.evaluate(PolicyInput(tool=ToolCall(name="Read"))).allow
    decision = failing_engine.evaluate(PolicyInput(tool=ToolCall(name=tool)))
    assert not decision.allow
    [reason] = decision.reasons
    assert (reason.policy, reason.rule) == ("engine", "evaluation_failed")
    assert reason.msg.startswith("policy evaluation failed: ")
    if detail == "broken":
        assert "main.rego:13:" in reason.msg
    else:
        assert detail in reason.msg


def test_invalid_input_dict_is_a_deny(regorus_engine: PolicyEngine) -> None:
    for bad in [
        {},
        {"tool": "Read"},
        {"tool": {"name": "Read"}, "paths": [{"path": 1}]},
        {"tool": {"name": "Read"}, "paths": "x"},
    ]:
        decision = regorus_engine.evaluate(bad)
        assert not decision.allow
        assert "invalid policy input" in decision.reasons[0].msg


def test_concurrent_evaluations(regorus_engine: PolicyEngine) -> None:
    expected = [regorus_engine.evaluate(s) for s in SAMPLES]
    assert {d.allow for d in expected} == {True, False}
    errors: list[str] = []

    def worker(offset: int) -> None:
        for i in range(60):
            k = (i + offset) % len(SAMPLES)
            got = regorus_engine.evaluate(SAMPLES[k])
            if got != expected[k]:
                errors.append(f"sample {k}: {got}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_evaluation_is_fast(regorus_engine: PolicyEngine) -> None:
    sample = write("backend/app.py")
    regorus_engine.evaluate(sample)
    start = time.perf_counter()
    for _ in range(200):
        regorus_engine.evaluate(sample)
    per_call_ms = (time.perf_counter() - start) / 200 * 1000
    assert per_call_ms < 2.0  # generous: the benchmark reports the real numbers


# --- OPA: a real server when there is one ---------------------------------------------------


@pytest.mark.skipif(not HAVE_OPA, reason=NO_OPA_REASON)
def test_real_opa_agrees_with_regorus(regorus_engine: PolicyEngine) -> None:
    opa = load_engine(engine_config("opa"))
    try:
        assert isinstance(opa, OPAEngine)
        for sample in SAMPLES:
            assert opa.evaluate(sample) == regorus_engine.evaluate(sample)
    finally:
        opa.close()


def test_opa_without_server_or_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(OPAUnavailable, match="no OPA server"):
        load_engine(PolicyConfig(engine=OPAEngineConfig(url=None)))


# --- OPA: fail closed against fake servers --------------------------------------------------


class FakeOPA:
    """Speaks enough of OPA's REST API; decisions come from regorus unless a fault is set."""

    def __init__(self, backend: PolicyEngine) -> None:
        self.backend = backend
        self.fault: str | None = None  # hang | garbage | error500 | undefined | malformed
        self.healthy = True
        self.compile_error = False
        self.stop = threading.Event()
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self) -> None:
                if self.path.startswith("/health"):
                    self._send(200 if fake.healthy else 500, b"{}")
                else:
                    self._send(404, b"{}")

            def do_PUT(self) -> None:
                body = self._body()
                if self.path.startswith("/v1/policies/"):
                    if fake.compile_error:
                        err = {
                            "code": "invalid_parameter",
                            "message": "error(s) occurred while compiling module(s)",
                            "errors": [
                                {
                                    "code": "rego_parse_error",
                                    "message": "unexpected } token",
                                    "location": {
                                        "file": "sandbox-runner/scope.rego",
                                        "row": 7,
                                        "col": 3,
                                    },
                                }
                            ],
                        }
                        self._send(400, json.dumps(err).encode())
                        return
                    fake.policies[self.path] = body.decode()
                    self._send(200, b"{}")
                elif self.path.startswith("/v1/data/"):
                    fake.data[self.path.removeprefix("/v1/data/")] = json.loads(body)
                    self._send(204, b"")
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:
                body = json.loads(self._body() or b"{}")
                if self.path == "/v1/data/sandbox/lib/derived":
                    self._send(200, json.dumps({"result": {"from": "fake"}}).encode())
                    return
                if self.path != "/v1/data/sandbox/decision":
                    self._send(404, b"{}")
                    return
                fault = fake.fault
                if fault == "hang":
                    fake.stop.wait(10)
                    self._send(200, b'{"result": {"allow": true, "reasons": []}}')
                elif fault == "garbage":
                    self._send(200, b"<html>not json", "text/html")
                elif fault == "error500":
                    self._send(500, b'{"code": "internal_error", "message": "boom"}')
                elif fault == "undefined":
                    self._send(200, b"{}")
                elif fault == "malformed":
                    self._send(200, b'{"result": {"allow": "true", "reasons": []}}')
                elif fault == "allow_everything_but_late":
                    time.sleep(0.5)
                    self._send(200, b'{"result": {"allow": true, "reasons": []}}')
                else:
                    decision = fake.backend.evaluate(body["input"])
                    self._send(200, json.dumps({"result": decision.model_dump()}).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake_opa(regorus_engine: PolicyEngine) -> Iterator[FakeOPA]:
    fake = FakeOPA(regorus_engine)
    yield fake
    fake.close()


def _opa(fake: FakeOPA, timeout: float = 0.5) -> PolicyEngine:
    return load_engine(PolicyConfig(engine=OPAEngineConfig(url=fake.url, timeout=timeout)))


def test_opa_engine_uploads_and_decides(fake_opa: FakeOPA, regorus_engine: PolicyEngine) -> None:
    engine = _opa(fake_opa)
    try:
        assert engine.bundle_hash == regorus_engine.bundle_hash
        assert {p.removeprefix("/v1/policies/") for p in fake_opa.policies} == {
            f"sandbox-runner/{n}.rego" for n in ("claude_code", "lib", "main", "network", "scope", "secrets")
        }
        assert fake_opa.data["settings"]["writable"] == ["backend/", "issues.md"]
        assert fake_opa.data["sandbox_derived"] == {"from": "fake"}
        for sample in SAMPLES:
            assert engine.evaluate(sample) == regorus_engine.evaluate(sample)
    finally:
        engine.close()


def test_opa_engine_uploads_the_bytes_the_bundle_hashed(fake_opa: FakeOPA, tmp_path: Path) -> None:
    pol = _policy_dir(tmp_path, ALLOW_READ)
    bundle = load_bundle([pol])
    (pol / "main.rego").write_text(ALLOW_NONE)
    engine = load_engine(
        PolicyConfig(dirs=[pol], engine=OPAEngineConfig(url=fake_opa.url)), bundle=bundle)
    try:
        assert engine.bundle_hash == bundle.hash
        assert list(fake_opa.policies.values()) == [ALLOW_READ]
    finally:
        engine.close()


@pytest.mark.parametrize(
    "fault, detail",
    [
        ("hang", "did not answer within"),
        ("allow_everything_but_late", "did not answer within"),
        ("garbage", "bad answer from OPA"),
        ("error500", "HTTP 500"),
        ("undefined", "undefined"),
        ("malformed", "malformed decision"),
    ],
)
def test_opa_engine_fails_closed(fake_opa: FakeOPA, fault: str, detail: str) -> None:
    engine = _opa(fake_opa, timeout=0.3)
    try:
        assert engine.evaluate(write("backend/app.py")).allow
        fake_opa.fault = fault
        start = time.monotonic()
        decision = engine.evaluate(write("backend/app.py"))
        assert time.monotonic() - start < 3
        assert not decision.allow
        assert decision.reasons[0].rule == "evaluation_failed"
        assert detail in decision.reasons[0].msg
    finally:
        engine.close()


def test_opa_engine_server_gone(fake_opa: FakeOPA) -> None:
    engine = _opa(fake_opa)
    try:
        fake_opa.close()
        decision = engine.evaluate(write("backend/app.py"))
        assert not decision.allow
        assert "OPA unreachable" in decision.reasons[0].msg
    finally:
        engine.close()


def test_opa_engine_unhealthy_server(fake_opa: FakeOPA) -> None:
    fake_opa.healthy = False
    with pytest.raises(OPAUnavailable, match="not healthy"):
        OPAEngine(load_bundle([]), url=fake_opa.url, timeout=0.2, startup_timeout=0.5)


def test_opa_engine_compile_error_names_the_file(fake_opa: FakeOPA) -> None:
    fake_opa.compile_error = True
    with pytest.raises(PolicyCompileError) as info:
        _opa(fake_opa)
    assert str(info.value) == f"{POLICIES / 'scope.rego'}:7:3: unexpected }} token"
