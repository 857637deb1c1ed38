"""Gateway streaming overhead: time to the first event through the gateway beside the scripted
provider called directly, and a 3-turn Claude Code run against the gateway.

Everything on this machine: the real Gateway on a unix socket (token check, allowlist,
redaction, budget, transcript), the scripted provider, an httpx client reading the event
stream; Claude Code (when its binary is there) through the test's loopback TCP forwarder.

    python -m bench.gateway_stream [--n 50] [--claude-runs 5] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._report import replace_section  # noqa: E402
from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider  # noqa: E402
from runner.gateway.scripted import Scenario  # noqa: E402
from runner.protocol import DecideRequest, DecideResponse  # noqa: E402
from tests.gateway.test_claude_code import CLAUDE, Forwarder, run_claude, three_turns  # noqa: E402

BODY: dict[str, Any] = {"model": "m", "max_tokens": 1000, "stream": True,
                        "messages": [{"role": "user", "content": "task " * 200}]}


def _provider(n: int) -> ScriptedProvider:
    return ScriptedProvider(scenario=Scenario.model_validate({"turns": [
        {"text": "An answer of a few words, streamed in chunks.",
         "tool_calls": [{"name": "Read", "input": {"file_path": "a.txt"}}]} for _ in range(n)]}))


def _allow(req: DecideRequest) -> DecideResponse:
    return DecideResponse(allow=True, decision_id="d")


def direct(n: int) -> list[float]:
    async def run() -> list[float]:
        provider, out = _provider(n), []
        for _ in range(n):
            t0 = time.perf_counter()
            events = provider.stream(BODY)
            await anext(events)
            out.append(time.perf_counter() - t0)
            async for _event in events:
                pass
        return out
    return asyncio.run(run())


def gateway(n: int, tmp: Path) -> list[float]:
    gw = Gateway(socket_path=tmp / "gw.sock", provider=_provider(n), decide=_allow, run_dir=tmp / "run",
                 budget=Budget(max_requests=n + 1, max_tokens=10**9), redactor=Redactor(),
                 retry=RetryPolicy(retries=0))
    gw.start()
    out = []
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(tmp / "gw.sock")), base_url="http://gw",
                          headers={"x-api-key": gw.token}, timeout=30) as client:
            for _ in range(n):
                t0 = time.perf_counter()
                with client.stream("POST", "/v1/messages", json=BODY) as resp:
                    lines = resp.iter_lines()
                    while not next(lines).startswith("data: "):
                        pass
                    out.append(time.perf_counter() - t0)
                    for _line in lines:
                        pass
    finally:
        gw.stop()
    return out


def claude(runs: int, tmp: Path) -> list[float]:
    if not CLAUDE.is_file():
        return []
    out = []
    for i in range(runs):
        d = tmp / f"cc{i}"
        ws = d / "ws"
        ws.mkdir(parents=True)
        (ws / "a.txt").write_text("hello\n")
        provider = ScriptedProvider(scenario=three_turns(ws))
        gw = Gateway(socket_path=d / "gw.sock", provider=provider, decide=_allow, run_dir=d / "run",
                     budget=Budget(max_requests=20, max_tokens=10**7), redactor=Redactor(),
                     retry=RetryPolicy(retries=0))
        gw.start()
        fwd = Forwarder(gw.socket_path, gw.token)
        try:
            proc, wall = run_claude(CLAUDE, fwd.port, ws, d / "home")
        finally:
            fwd.close()
            gw.stop()
        if proc.returncode != 0 or not provider.finished:
            raise SystemExit(f"claude run {i} failed: {proc.stderr[-500:]}")
        out.append(wall)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--claude-runs", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="srbench-", dir="/tmp"))
    try:
        d = statistics.median(direct(args.n)) * 1000
        g = statistics.median(gateway(args.n, tmp)) * 1000
        walls = claude(args.claude_runs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cc = f"{statistics.median(walls):.2f} s (median of {len(walls)})" if walls else "not measured (no binary)"
    body = f"""Measured {date.today()} on {platform.machine()} ({platform.python_version()}), `python -m bench.gateway_stream`.

| | median |
|---|---|
| time to first event, scripted provider called directly ({args.n} requests) | {d:.2f} ms |
| time to first event through the gateway (unix socket, token, allowlist, redaction, budget; {args.n} requests) | {g:.2f} ms |
| Claude Code 2.1.332 `-p`, 3 scripted turns, through a loopback forwarder and the gateway | {cc} |
"""
    print(body)
    if args.write:
        replace_section(REPO / "docs" / "benchmarks.md", "Gateway streaming", body)


if __name__ == "__main__":
    main()
