"""Redaction: known values (env, secret files) and detect-secrets findings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.gateway.credentials import git_config_credentials
from runner.gateway.redact import Redactor

AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
ANTHROPIC = "sk-ant-api03-" + "Zx9" * 10
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def test_env_vars_with_secret_names_are_known_values() -> None:
    env = {"ANTHROPIC_API_KEY": "host-key-value-123456", "DB_PASSWORD": "correct-horse",
           "GH_TOKEN": "tok-abcdef-987", "HOME": "/home/someone-long", "SHORT_KEY": "abc"}
    red = Redactor.from_env(env, detectors=False)
    text = "a host-key-value-123456 b correct-horse c tok-abcdef-987 d /home/someone-long abc"
    out, counts = red.redact_text(text)
    assert "host-key-value-123456" not in out and "[REDACTED:env:ANTHROPIC_API_KEY]" in out
    assert "correct-horse" not in out and "tok-abcdef-987" not in out
    assert "/home/someone-long" in out  # HOME is not a secret name
    assert out.endswith(" abc")  # too short to redact safely
    assert counts == {"env:ANTHROPIC_API_KEY": 1, "env:DB_PASSWORD": 1, "env:GH_TOKEN": 1}


def test_secret_file_values(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('# comment\nexport DB_URL="postgres://u:pw-long-secret@db/x"\nAPI_SECRET=s3cr3t-value\n'
                        "EMPTY=\n")
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine example.com login bob password hunter2hunter2\n")
    red = Redactor(detectors=False)
    assert red.add_file(env_file) == 2
    red.add_file(netrc)
    red.add_file(tmp_path / "missing")  # unreadable files add nothing, no error
    out, counts = red.redact_text("x s3cr3t-value y postgres://u:pw-long-secret@db/x z hunter2hunter2")
    assert "s3cr3t-value" not in out and "pw-long-secret" not in out and "hunter2hunter2" not in out
    assert "[REDACTED:file:.env:API_SECRET]" in out
    assert counts["file:.netrc:password"] == 1


def test_detector_findings() -> None:
    red = Redactor()
    text = (f"key={AWS}\ntoken {GITHUB} end\nanthropic {ANTHROPIC}\njwt {JWT}\n"
            "url https://user:hunter22pass@example.com/\n"
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\nabc\n-----END RSA PRIVATE KEY-----\nafter")
    out, counts = red.redact_text(text)
    for secret in (AWS, GITHUB, ANTHROPIC, JWT, "hunter22pass", "MIIEowIBAAKCAQEAx"):
        assert secret not in out
    assert {"aws-access-key", "github-token", "anthropic-api-key", "jwt-token",
            "basic-auth-credentials", "private-key"} <= set(counts)
    assert out.endswith("after") and "token [REDACTED:github-token] end" in out


def test_ordinary_code_is_untouched() -> None:
    code = ("def login(password: str) -> bool:\n    token = create_token(user.id)\n"
            "    return verify(password, user.password_hash)\nSECRET_KEY = os.environ['SECRET_KEY']\n"
            "ip = '10.0.0.1'  # 8.8.8.8\n")
    out, counts = Redactor().redact_text(code)
    assert out == code and counts == {}


def test_redact_request_keeps_structure() -> None:
    red = Redactor({"env:K": "very-secret-value"})
    request = {
        "model": "claude-test", "max_tokens": 10,
        "system": "sys very-secret-value",
        "messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                               "input": {"command": "echo very-secret-value"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                          "content": [{"type": "text", "text": f"very-secret-value {AWS}"}]}]},
        ],
    }
    out, found = red.redact_request(request)
    assert request["system"] == "sys very-secret-value"  # the input is not mutated
    assert out["model"] == "claude-test" and out["max_tokens"] == 10
    assert out["system"] == "sys [REDACTED:env:K]"
    assert out["messages"][1]["content"][0]["id"] == "toolu_1"
    assert out["messages"][1]["content"][0]["input"]["command"] == "echo [REDACTED:env:K]"
    tool_text = out["messages"][2]["content"][0]["content"][0]["text"]
    assert tool_text == "[REDACTED:env:K] [REDACTED:aws-access-key]"
    wheres = {(r.rule, r.where) for r in found}
    assert ("aws-access-key", "messages[2].content[0].content[0].text") in wheres
    assert ("env:K", "system") in wheres
    assert all("very-secret-value" not in r.where for r in found)


def test_git_config_credentials_of_a_worktree_and_never_through_a_link(tmp_path: Path) -> None:
    common = tmp_path / "main.git"
    (common / "worktrees" / "wt").mkdir(parents=True)
    (common / "config").write_text("[remote \"origin\"]\n\turl = https://gitlab-ci-token:glcbt-64_secretJobToken@gitlab.example/o/r\n")
    (common / "worktrees" / "wt" / "commondir").write_text("../..\n")
    (common / "worktrees" / "wt" / "config").write_text("[http]\n\textraHeader = \"X-Api-Token: hdr-secret-value-1\"\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {common / 'worktrees' / 'wt'}\n")
    values = {v for _, v in git_config_credentials(wt)}
    assert {"glcbt-64_secretJobToken", "hdr-secret-value-1"} <= values
    linked = tmp_path / "linked"
    (linked / ".git").mkdir(parents=True)
    (linked / ".git" / "config").symlink_to(common / "config")
    assert git_config_credentials(linked) == []  # a link is never followed
    red = Redactor(detectors=False)
    assert red.add_git_credentials(wt) >= 2
    out, _ = red.redact_text("push to https://gitlab-ci-token:glcbt-64_secretJobToken@gitlab.example")
    assert "glcbt-64_secretJobToken" not in out


def test_secret_file_that_is_a_fifo_or_link_is_skipped_without_blocking(tmp_path: Path) -> None:
    """A FIFO or a symlink planted where a secret file was (e.g. backend/.env by an earlier run)
    is neither opened through nor waited on when the next run loads its secret values."""
    import os
    import threading

    from runner.gateway.redact import Redactor

    os.mkfifo(tmp_path / "fifo.env")
    (tmp_path / "target").write_text("TOKEN=value-behind-a-link\n")
    os.symlink(tmp_path / "target", tmp_path / "link.env")
    done = threading.Event()
    counts: list[int] = []

    def load() -> None:
        red = Redactor(detectors=False)
        counts.append(red.add_file(tmp_path / "fifo.env") + red.add_file(tmp_path / "link.env"))
        done.set()

    threading.Thread(target=load, daemon=True).start()
    assert done.wait(30), "loading a FIFO secret file blocked"
    assert counts == [0]


def test_redaction_names_a_secret_as_the_policy_does() -> None:
    """One detector list (runner/secret_detectors.py): every token the policy denies in a
    write is redacted under the same rule name."""
    from runner.policy.secrets import scan
    from tests.policy.test_secrets import SAMPLES

    red = Redactor()
    for rule, sample in SAMPLES.items():
        text = f"value = '{sample}'\n"
        assert rule in {f.rule for f in scan(text, "input.content")}, rule
        assert rule in red.redact_text(text)[1], rule


def _ungated(text: str) -> str:
    """Redaction by every detector regex on every line, no gate: what the gates must equal."""
    from runner.gateway import redact

    every = [(rule, regex) for rule, regex, _ in redact.detector_regexes()]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if len(line) < 8:
            continue
        for start, end, rule in reversed(redact._disjoint(sorted(redact._spans(line, every)))):
            line = f"{line[:start]}[REDACTED:{rule}]{line[end:]}"
        lines[i] = line
    return "\n".join(lines)


def test_the_detector_gates_rule_out_only_what_cannot_match() -> None:
    """Each detector regex runs only on texts where its gate (runner/secret_gates.py)
    matches; the result is the same as running every regex on every line, for every
    detector's sample in several casings and line separators, embedded in ordinary code."""
    from tests.policy.test_secrets import SAMPLES

    red = Redactor()
    samples = [*SAMPLES.values(), "https://deploy:Zx9Qw7Er5Ty3@git.example.com/repo.git",
               "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"]
    code = "def handler(event):\n    return {'status': 200}\n"
    checked = redacted = 0
    for sample in samples:
        for variant in (sample, sample.upper(), sample.lower(), sample.swapcase()):
            for text in (variant, f"{code}token = '{variant}'\n{code}",
                         f"x = 1\r\ny = '{variant}'\u2028z = 2"):
                out = red._detect(text, {})  # the detector stage, which the gates change
                assert out == _ungated(text), text
                checked += 1
                redacted += out != text
    assert red._detect(code * 50, {}) == code * 50
    assert checked == len(samples) * 12 and redacted >= len(SAMPLES)  # the samples are found


# Found by a review: texts an IGNORECASE regex matches but a casefolded gate does not (the
# dotless ı, the dotted İ), and Unicode digits where a gate expands \d to 0-9.
UNICODE_SECRETS = [
    "Authorızation: Bearer Zk3q9LmPx2Wv8TbR",
    "AUTHORİZATION: Basic dXNlcjpodW50ZXIy",
    "curl -H 'Proxy-Authorızation: token 0123456789abcdef0123' https://x",
    "https://hooks.slack.com/servıces/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
    "https://hooks.slack.com/servİces/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
    "SL_APİ_KEY=" + "a" * 64,
    'softlayer_apı_key = "' + "0123456789abcdef" * 4 + '"',
    "key = AP٣Zq8Lm2Xv9Rt4 ",
    'key="AP３Zq8Lm2Xv9Rt4"',
    "AP१Zq8Lm2Xv9Rt4",
]


@pytest.mark.parametrize("text", UNICODE_SECRETS)
def test_text_that_is_not_ascii_is_never_ruled_out_by_a_gate(text: str) -> None:
    red = Redactor()
    expected = _ungated(text)
    assert expected != text  # the detectors find something here
    assert red._detect(text, {}) == expected


def test_finds_any_is_what_redacting_each_text_finds() -> None:
    """``finds_any`` looks at several texts at once (joined): it says True exactly when
    redacting one of them would replace something, for every detector's sample, a known
    value and a private key, wherever among ordinary texts it is."""
    from tests.policy.test_secrets import SAMPLES

    known = "Zq8Lm2Xv9Rt4Wp7Kd3"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    code = ["def handler(event):\n    return {'status': 200}\n", "backend/app.py", "Write", ""]
    for secret in [*SAMPLES.values(), known, pem, f"key = '{known}'"]:
        for at in range(len(code) + 1):
            texts = [*code[:at], f"x = '{secret}'", *code[at:]]
            red = Redactor({"env:K": known})  # a new one: nothing cached
            assert red.finds_any(texts), secret
            assert any(Redactor({"env:K": known}).redact_text(t)[1] for t in texts)
    red = Redactor({"env:K": known})
    assert not red.finds_any(code) and not red.finds_any(code)  # the second from the cache
    assert all(red.redact_text(t) == (t, {}) for t in code)


def test_the_aws_key_gate_reaches_into_the_alternation() -> None:
    """``(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}``: its gate carries the shared
    first letter into the alternatives (``akia``, ...), instead of no gate at all."""
    from runner.secret_gates import gate_pattern

    gate = gate_pattern("(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}", re.IGNORECASE)
    assert gate is not None and gate[2] == {"a3t", "abia", "acca", "akia", "asia"}
    text = "x = 1\n" * 40 + "key = 'AKIA" + "Q" * 16 + "'\n" + "y = 2\n" * 40
    assert Redactor()._detect(text, {}) == _ungated(text) != text


def test_lines_that_are_ascii_keep_their_gates_beside_one_that_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Redaction of a long text with one line that is not ASCII runs the regexes on that line
    and on the ASCII lines their gates touch, not on every line; the result is the same as
    every regex on every line."""
    from runner.gateway import redact

    ran: list[str] = []
    real = redact._spans

    def counting(line: str, regexes: list[tuple[str, re.Pattern[str]]]) -> object:
        ran.append(line)
        return real(line, regexes)

    monkeypatch.setattr(redact, "_spans", counting)
    code = [f"def handler_{i}(event):\n    return {{'status': {i}}}" for i in range(100)]
    for secret in (AWS, UNICODE_SECRETS[0]):
        text = "\n".join([*code[:50], "# café au lait", f"token = '{secret}'", *code[50:]])
        expected = _ungated(text)
        ran.clear()
        assert Redactor()._detect(text, {}) == expected != text
        assert "# café au lait" in ran and len(ran) < 10, ran
