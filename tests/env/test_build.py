"""The environment build's parts without Docker: refs, secrets, the scan, the setup
allowlist, the error format."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path
from urllib.parse import quote

import pytest

from runner.config import EnvironmentConfig, RunConfig
from runner.env.build import (
    ENV_REPO,
    _pip_env,
    _scan_tar,
    changed_roots,
    env_ref,
    secret_needles,
)
from runner.env.detect import DependencySpec
from runner.env.network import with_setup_hosts
from runner.env.setup import setup_redactor, setup_secrets
from runner.errors import ConfigError, EnvironmentBuildError
from runner.policy.bundle import load_bundle
from runner.policy.data import load_policy_data

SECRET = "tok-3e8a91c4d2"


def tar_of(files: dict[str, bytes], links: dict[str, str] | None = None) -> list[bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    raw = buf.getvalue()
    return [raw[i:i + 1000] for i in range(0, len(raw), 1000)]  # a stream in small chunks


def test_env_ref_is_repo_and_12_hex() -> None:
    assert env_ref("ab" * 32) == f"{ENV_REPO}:{'ab' * 6}"


def test_needles_cover_raw_quoted_and_base64() -> None:
    needles = secret_needles({"T": "a b/c=d"})
    assert {b"a b/c=d", quote("a b/c=d", safe="").encode(),
            base64.b64encode(b"a b/c=d")} <= set(needles)
    assert set(needles.values()) == {"T"}


@pytest.mark.parametrize("files, links, expected", [
    ({"lib/a.py": b"x" * 3000 + SECRET.encode() + b"y"}, {}, ("T", "/root/lib/a.py")),
    ({"etc/x": base64.b64encode(SECRET.encode())}, {}, ("T", "/root/etc/x")),
    ({"ok": b"nothing"}, {"link": f"/tmp/{SECRET}"}, ("T", "/root/link")),
    ({f"dir/{SECRET}.txt": b""}, {}, ("T", f"/root/dir/{SECRET}.txt")),
    ({"ok": b"nothing here"}, {}, None),
])
def test_scan_finds_a_secret_in_content_names_and_links(
        files: dict[str, bytes], links: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert _scan_tar(iter(tar_of({f"root/{k}": v for k, v in files.items()},
                                 {f"root/{k}": v for k, v in links.items()})),
                     secret_needles({"T": SECRET}), "/root") == expected


def test_scan_finds_a_secret_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.env.build as build

    monkeypatch.setattr(build, "SCAN_CHUNK", 7)  # the value straddles reads
    data = b"0123456789" * 5 + SECRET.encode() + b"tail"
    assert _scan_tar(iter(tar_of({"root/f": data})), secret_needles({"T": SECRET}), "/root") \
        == ("T", "/root/f")


def test_changed_roots_cover_each_added_or_changed_file_once() -> None:
    diff = [
        {"Path": "/opt", "Kind": 0}, {"Path": "/opt/project-venv", "Kind": 0},
        {"Path": "/opt/project-venv/lib", "Kind": 1},
        {"Path": "/opt/project-venv/lib/site.py", "Kind": 1},
        {"Path": "/etc", "Kind": 0}, {"Path": "/etc/hosts.allow", "Kind": 0},
        {"Path": "/etc/gone", "Kind": 2}, {"Path": "/new-file", "Kind": 1},
    ]
    assert changed_roots(diff) == ["/etc/hosts.allow", "/new-file", "/opt/project-venv/lib"]


def test_setup_secrets_come_from_the_environment_and_must_be_redactable() -> None:
    assert setup_secrets(["A"], {"A": SECRET}) == {"A": SECRET}
    with pytest.raises(ConfigError, match="not set"):
        setup_secrets(["A"], {})
    with pytest.raises(ConfigError, match="too short"):
        setup_secrets(["A"], {"A": "abc"})
    red = setup_redactor({"A": SECRET})
    assert SECRET not in red.redact_text(f"x {SECRET} y")[0]


def test_pip_env_orders_secrets_last_and_trusts_a_configured_http_index() -> None:
    spec = DependencySpec(requirements=["x"], index_url="http://10.0.0.5:8080/simple/")
    env = _pip_env(spec, {"HTTPS_PROXY": "http://127.0.0.1:3128"}, {"PIP_INDEX_URL": SECRET},
                   "/tmp/w")
    assert env["PIP_INDEX_URL"] == SECRET and env["PIP_TRUSTED_HOST"] == "10.0.0.5:8080"
    assert env["PIP_NO_INDEX"] == "0" and env["PIP_FIND_LINKS"] == "/tmp/w"
    offline = _pip_env(DependencySpec(requirements=["x"]), {}, {}, None)
    assert offline["PIP_NO_INDEX"] == "1" and "PIP_TRUSTED_HOST" not in offline
    assert offline["PATH"].startswith("/opt/project-venv/bin:")


def test_setup_allowlist_adds_to_the_policy_data() -> None:
    bundle = load_bundle([], None)
    default = load_policy_data(bundle).phase_hosts("setup")
    assert default == ["pypi.org", "files.pythonhosted.org"]  # the python preset
    more = with_setup_hosts(bundle, ["index.example.com"], [])
    assert load_policy_data(more).phase_hosts("setup") == ["index.example.com", *default]
    assert more.hash != bundle.hash
    assert load_policy_data(more).phase_hosts("agent") == []  # the agent phase: still nothing
    with pytest.raises(ConfigError, match="unknown egress preset"):
        with_setup_hosts(bundle, [], ["nope"])


def test_environment_config_checks_hosts() -> None:
    with pytest.raises(ValueError):
        EnvironmentConfig(allow_hosts=["http://x/"])
    cfg = RunConfig(project=Path("."), environment={"allow_hosts": ["*.example.com"]})
    assert cfg.environment.allow_hosts == ["*.example.com"]


def test_build_error_names_the_step_and_its_last_lines() -> None:
    err = EnvironmentBuildError("pip install", "exited 1", ["Collecting x", "ERROR: no x"])
    assert err.exit_code == 4
    assert str(err).splitlines() == ["environment build failed at pip install: exited 1",
                                     "  | Collecting x", "  | ERROR: no x"]
