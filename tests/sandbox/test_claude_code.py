"""The Claude Code download: verified before extraction, only package/claude, cached and
reused offline. A loopback fake registry serves the tarballs (never the real registry)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import socket
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runner.errors import ImageBuildError
from runner.sandbox import claude_code as cc
from runner.sandbox import image as image_mod
from runner.sandbox.image import CLAUDE_CODE_LAYER, DEFAULT_ENV_LAYER, RUNTIME_LAYER

VERSION = "9.8.7"
PACKAGE = "@anthropic-ai/claude-code-linux-x64"
TARBALL_PATH = f"/{PACKAGE}/-/claude-code-linux-x64-{VERSION}.tgz"
BINARY = b"\x7fELF fake claude\n" * 1000


def _tarball(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


GOOD = _tarball([("package/package.json", b"{}"), ("package/claude", BINARY)])


class FakeRegistry:
    """Serves one tarball at the npm tarball path; counts the requests."""

    def __init__(self) -> None:
        self.body = GOOD
        self.status = 200
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                ok = self.path == TARBALL_PATH and registry.status == 200
                body = registry.body if ok else b"not found"
                self.send_response(registry.status if self.path == TARBALL_PATH else 404)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _write_pin(path: Path, integrity: str, version: str = VERSION) -> None:
    path.write_text(
        f'version = "{version}"\n[platforms.x86_64]\npackage = "{PACKAGE}"\n'
        f'integrity = "{integrity}"\n', encoding="utf-8")


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRegistry]:
    """A fake registry, a pin for its tarball, an empty cache."""
    fake = FakeRegistry()
    pin = tmp_path / "claude-code.toml"
    _write_pin(pin, _integrity(GOOD))
    monkeypatch.setattr(cc, "pin_path", lambda: pin)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(cc.REGISTRY_ENV, fake.url)
    yield fake
    fake.close()


def _cache_dir() -> Path:
    return cc.cache_root() / "claude-code"


def _nothing_cached() -> bool:
    root = _cache_dir()
    return not root.exists() or not any(root.iterdir())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_download_verifies_caches_and_is_reused_offline(
        registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    path = cc.ensure_claude_code("x86_64", lines.append)
    assert path == _cache_dir() / f"{VERSION}-x86_64" / "claude"
    assert path.read_bytes() == BINARY and path.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in path.parent.iterdir()) == [".complete", "claude"]
    marker = json.loads((path.parent / ".complete").read_text())
    assert marker["sha256"] == hashlib.sha256(BINARY).hexdigest()
    assert marker["integrity"] == _integrity(GOOD)
    assert any(registry.url + TARBALL_PATH in line for line in lines)
    assert registry.requests == [TARBALL_PATH]
    assert [p.name for p in _cache_dir().iterdir()] == [f"{VERSION}-x86_64"]  # no leftovers
    # offline: the registry is an unreachable loopback port; the cache answers
    monkeypatch.setenv(cc.REGISTRY_ENV, f"http://127.0.0.1:{_closed_port()}")
    assert cc.ensure_claude_code("x86_64", lines.append) == path
    assert registry.requests == [TARBALL_PATH]


def test_integrity_mismatch_is_refused_and_nothing_is_cached(registry: FakeRegistry) -> None:
    registry.body = _tarball([("package/claude", b"something else")])
    with pytest.raises(ImageBuildError) as err:
        cc.ensure_claude_code("x86_64", lambda _: None)
    assert err.value.exit_code == 4
    text = str(err.value)
    assert "integrity mismatch" in text and _integrity(GOOD) in text
    assert registry.url + TARBALL_PATH in text and "\n" not in text
    assert _nothing_cached()


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "members, expected",
    [
        ([_link("package/claude", tarfile.SYMTYPE, "/etc/passwd")], "is a symlink"),
        ([("package/x", b"x"), _link("package/claude", tarfile.LNKTYPE, "package/x")],
         "is a hard link"),
        ([("package/claude", BINARY), ("package/claude", b"again")], "more than one"),
        ([("package/other", BINARY)], "no package/claude"),
    ],
    ids=["symlink", "hardlink", "duplicate", "missing"],
)
def test_bad_members_are_refused_and_nothing_is_cached(
        registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        members: list[tarfile.TarInfo | tuple[str, bytes]], expected: str) -> None:
    registry.body = _tarball(members)
    _write_pin(tmp_path / "claude-code.toml", _integrity(registry.body))  # it verifies
    with pytest.raises(ImageBuildError, match=expected):
        cc.ensure_claude_code("x86_64", lambda _: None)
    assert _nothing_cached()


def test_an_oversized_member_is_refused(registry: FakeRegistry,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cc, "MAX_BINARY", len(BINARY) - 1)
    with pytest.raises(ImageBuildError, match=r"more than the .* allowed"):
        cc.ensure_claude_code("x86_64", lambda _: None)
    assert _nothing_cached()


def test_unreachable_registry_is_one_clear_line(registry: FakeRegistry,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(cc.REGISTRY_ENV, url)
    with pytest.raises(ImageBuildError) as err:
        cc.ensure_claude_code("x86_64", lambda _: None)
    text = str(err.value)
    assert text.startswith("image build failed at claude code: GET " + url + TARBALL_PATH)
    assert "\n" not in text and err.value.exit_code == 4
    assert _nothing_cached()
    assert cc.probe_registry("x86_64") is not None


def test_http_error_names_the_status(registry: FakeRegistry) -> None:
    registry.status = 404
    with pytest.raises(ImageBuildError, match=r"HTTP 404"):
        cc.ensure_claude_code("x86_64", lambda _: None)
    assert cc.probe_registry("x86_64") is not None


def test_registry_precedence_and_credentials_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cc.REGISTRY_ENV, raising=False)
    monkeypatch.delenv(cc.NPM_REGISTRY_ENV, raising=False)
    assert cc.registry_url() == "https://registry.npmjs.org"
    monkeypatch.setenv(cc.NPM_REGISTRY_ENV, "https://npm.example/")
    assert cc.registry_url() == "https://npm.example"
    monkeypatch.setenv(cc.REGISTRY_ENV, "https://mirror.example/npm")
    assert cc.registry_url() == "https://mirror.example/npm"
    url = cc.tarball_url("https://u:secret@mirror.example:8443/npm", PACKAGE, VERSION)
    assert url == f"https://u:secret@mirror.example:8443/npm{TARBALL_PATH}"
    assert cc.shown(url) == f"https://mirror.example:8443/npm{TARBALL_PATH}"


def test_an_unpinned_arch_and_a_bad_pin_are_clear(registry: FakeRegistry, tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="architecture 'riscv64'"):
        cc.ensure_claude_code("riscv64", lambda _: None)
    _write_pin(tmp_path / "claude-code.toml", "sha1-abc")
    with pytest.raises(ImageBuildError, match="integrity"):
        cc.load_pin()


def test_the_shipped_pin_names_both_platforms() -> None:
    pin = cc.load_pin()
    assert pin.version == "2.1.332"
    assert {arch: p.package for arch, p in pin.platforms.items()} == {
        "x86_64": "@anthropic-ai/claude-code-linux-x64",
        "aarch64": "@anthropic-ai/claude-code-linux-arm64",
    }


def test_cached_binary_of_another_pin_is_not_used(registry: FakeRegistry, tmp_path: Path) -> None:
    cc.ensure_claude_code("x86_64", lambda _: None)
    assert cc.cached_binary("x86_64") is not None
    other = _tarball([("package/claude", b"v2")])
    registry.body = other
    _write_pin(tmp_path / "claude-code.toml", _integrity(other))  # same version, new hash
    assert cc.cached_binary("x86_64") is None
    path = cc.ensure_claude_code("x86_64", lambda _: None)
    assert path.read_bytes() == b"v2"


# --- the layer's inputs ------------------------------------------------------------------


def _images_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    images = tmp_path / "images"
    shutil.copytree(image_mod.images_dir(), images)
    monkeypatch.setattr(image_mod, "images_dir", lambda: images)
    monkeypatch.setattr(cc, "images_dir", lambda: images)
    return images


def _cc_hash(marker: cc.CachedBinary) -> str:
    extra = image_mod.claude_code_extra(marker, Path("/nonexistent/claude"))
    return image_mod.compute_inputs_hash(image_mod._read_inputs(CLAUDE_CODE_LAYER, extra),
                                         "sha256:runtime", CLAUDE_CODE_LAYER.kind)


def test_layer_hash_covers_pin_dockerfile_settings_binary_and_runtime(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = _images_copy(tmp_path, monkeypatch)
    names = [name for name, _ in image_mod.context_files(CLAUDE_CODE_LAYER)]
    assert names == ["Dockerfile", "claude-code.toml", "managed-settings.json"]
    marker = cc.CachedBinary(version="2.1.332", arch="x86_64", integrity="sha512-x", sha256="a" * 64)
    before = _cc_hash(marker)
    assert before == _cc_hash(marker)
    assert before != _cc_hash(marker.model_copy(update={"sha256": "b" * 64}))
    assert before != _cc_hash(marker.model_copy(update={"arch": "aarch64"}))
    extra = image_mod.claude_code_extra(marker, Path("/x"))
    assert before != image_mod.compute_inputs_hash(
        image_mod._read_inputs(CLAUDE_CODE_LAYER, extra), "sha256:other", CLAUDE_CODE_LAYER.kind)
    for name in names:
        path = images / "claude-code" / name
        original = path.read_bytes()
        path.write_bytes(original.replace(b"2.1.332", b"2.1.333") + b"\n")
        assert _cc_hash(marker) != before, name
        path.write_bytes(original)
    assert _cc_hash(marker) == before


def test_builtin_layers_do_not_read_the_claude_code_directory() -> None:
    for layer in (RUNTIME_LAYER, DEFAULT_ENV_LAYER):
        assert not any("claude" in name for name, _ in image_mod.context_files(layer))


def test_managed_settings_are_the_fixed_interface() -> None:
    settings = json.loads((image_mod.images_dir() / "claude-code" /
                           "managed-settings.json").read_text())
    assert settings["allowManagedHooksOnly"] is True and settings["disableAllHooks"] is False
    # a hook that fails (non-blocking for Claude Code) is turned into exit 2 (blocking) by
    # the command's `|| exit 2`; and without bypass mode, in dontAsk mode, a call the hook
    # did not allow that needs a permission is denied
    assert settings["permissions"] == {"defaultMode": "dontAsk",
                                       "disableBypassPermissionsMode": "disable"}
    [entry] = settings["hooks"]["PreToolUse"]
    assert entry["matcher"] == "*"
    assert entry["hooks"] == [{
        "type": "command", "timeout": 60,
        "command": "/opt/sandbox-runner/venv/bin/python -P -m runner.agent.hook || exit 2",
    }]
