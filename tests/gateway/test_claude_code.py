"""The real Claude Code binary against a started gateway (scripted model).

Claude Code speaks HTTP on TCP; the gateway listens on a unix socket and wants the run's token.
In a run the in-container API relay bridges the two; here a tiny loopback forwarder written for
the test does it: it puts the token in place of whatever key the binary sends.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider
from runner.gateway.scripted import Scenario
from runner.protocol import DecideRequest, DecideResponse

CLAUDE = Path(os.environ.get("SANDBOX_RUNNER_CLAUDE_BIN", "/work/cc/x64/package/claude"))
_DROPPED = (b"x-api-key", b"authorization", b"connection", b"keep-alive", b"proxy-connection")


class Forwarder:
    """127.0.0.1:PORT -> the gateway's socket, one request per connection, the token added."""

    def __init__(self, sock_path: Path, token: str) -> None:
        token_line = f"x-api-key: {token}\r\n".encode()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client: socket.socket = self.request
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                first, *headers = head.split(b"\r\n")
                kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in _DROPPED]
                out = b"\r\n".join([first, *kept]) + b"\r\n" + token_line + b"connection: close\r\n\r\n"
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(str(sock_path))
                upstream.sendall(out + rest)
                pump = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
                pump.start()
                _pipe(upstream, client)
                upstream.close()

        socketserver.ThreadingTCPServer.daemon_threads = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        return


@pytest.fixture
def claude_bin(tmp_path: Path) -> Path:
    if not (CLAUDE.is_file() and os.access(CLAUDE, os.X_OK)):
        pytest.skip(f"the Claude Code binary is not at {CLAUDE} (set SANDBOX_RUNNER_CLAUDE_BIN; "
                    "the IMAGE helper's cache provides it once merged)")
    return CLAUDE


def three_turns(ws: Path) -> Scenario:
    return Scenario.model_validate({"turns": [
        {"text": "Let me look.", "tool_calls": [
            {"name": "Bash", "input": {"command": "ls", "description": "list files"}},
            {"name": "Read", "input": {"file_path": str(ws / "a.txt")}}]},
        {"text": "Writing.", "tool_calls": [
            {"name": "Write", "input": {"file_path": str(ws / "b.txt"), "content": "hi\n"}}]},
        {"text": "All done."}]})


def allow_all(req: DecideRequest) -> DecideResponse:
    return DecideResponse(allow=True, decision_id="d")


@pytest.fixture
def gateway(sock_dir: Path, tmp_path: Path) -> Iterator[tuple[Gateway, ScriptedProvider, Path]]:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("hello\n")
    provider = ScriptedProvider(scenario=three_turns(ws))
    gw = Gateway(socket_path=sock_dir / "gw.sock", provider=provider, decide=allow_all,
                 run_dir=tmp_path / "run", budget=Budget(max_requests=20, max_tokens=10**7),
                 redactor=Redactor(), retry=RetryPolicy(retries=1, backoff_base=0.01))
    gw.start()
    yield gw, provider, ws
    gw.stop()


def run_claude(claude: Path, port: int, ws: Path, home: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": "not-the-token",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
    t0 = time.monotonic()
    proc = subprocess.run([str(claude), "-p", "do the task", "--allowedTools", "Bash,Read,Write"],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc, time.monotonic() - t0


@pytest.mark.claude_code
def test_claude_code_completes_the_scripted_turns_through_the_gateway(
        claude_bin: Path, gateway: tuple[Gateway, ScriptedProvider, Path], tmp_path: Path) -> None:
    gw, provider, ws = gateway
    forwarder = Forwarder(gw.socket_path, gw.token)
    try:
        proc, wall = run_claude(claude_bin, forwarder.port, ws, tmp_path / "home")
    finally:
        forwarder.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All done." in proc.stdout
    assert provider.finished and provider.served == 3
    entries: list[dict[str, Any]] = [json.loads(x) for x in
                                     (tmp_path / "run" / "transcript.jsonl").read_text().splitlines()]
    assert [e["stream"] for e in entries] == [True, True, True]
    assert all(e["error"] is None for e in entries) and gw.failure is None
    assert entries[0]["max_tokens_asked"] > entries[0]["request"]["max_tokens"]  # clamped
    assert "claude-code-20250219" in entries[0]["anthropic_beta"]
    assert (ws / "b.txt").read_text() == "hi\n"
    tool_results = [b for m in entries[1]["request"]["messages"] if isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "tool_result"]
    assert len(tool_results) == 2
    print(f"claude-code 3-turn run through the gateway: {wall:.2f}s")
