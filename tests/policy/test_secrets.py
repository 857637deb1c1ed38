"""Secret findings from detect-secrets' plugins: rule and line, never the value."""

from __future__ import annotations

import json
import re

import pytest

from runner.policy import secrets
from runner.policy.secrets import RULES, regex_plugins, scan
from runner.secret_gates import Doc, anchored_gate, gate_pattern

# One credential-shaped value per regex plugin (fake, but in each plugin's format).
SAMPLES: dict[str, str] = {
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "anthropic-api-key": "sk-ant-api03-Q7w8E9r0T1y2U3i4O5p6A7s8D9f0G1h2",
    "private-key": "-----BEGIN RSA PRIVATE KEY-----",
    "github-token": "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "gitlab-token": "glpat-x1y2z3A4B5C6D7E8F9G0",
    "slack-token": "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
    "stripe-access-key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "basic-auth-credentials": "https://admin:hunter2pass@db.example.com/x",
    "jwt-token": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4ZjNhMmM5MSIsInNjb3BlIjoiYWRtaW4iLCJpYXQi"
        "OjE3MDAwMDAwMDB9.Qm9aT3dLx7kR2vNfY8pZs1cUe4HjW6tAq9rGbD0yMnE"
    ),
    "npm-token": "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789",
    "sendgrid-api-key": "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "telegram-bot-token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX",
    "discord-bot-token": "MTIzNDU2Nzg5MDEyMzQ1Njc4OT.GaBcDe.abcdefghijklmnopqrstuvwxyz0",
    "openai-token": "sk-abcdefghijklmnopqrstT3BlbkFJabcdefghijklmnopqrst",
    "pypi-token": "pypi-AgEIcHlwaS5vcmc" + "a1" * 35,
    "azure-storage-key": "AccountKey=" + "a1B2" * 21 + "ab==",
    "mailchimp-access-key": "0123456789abcdef0123456789abcdef-us12",
    "square-oauth-secret": "sq0csp-" + "aB3" * 14 + "x",
    "twilio-api-key": "AC0123456789abcdef0123456789abcdef",
    "ibm-cloud-iam-key": 'ibm_cloud_iam_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"',
    "softlayer-credentials": 'softlayer_api_key = "' + "0123456789abcdef" * 4 + '"',
    "cloudant-credentials": 'cloudant_password = "' + "0123456789abcdef" * 4 + '"',
    "artifactory-credentials": 'artifactory = "AKCp8abcdefghijklmnop"',
    "ibm-cos-hmac-credentials": 'secret_access_key = "' + "0123456789abcdef" * 3 + '"',
}

CLEAN_CODE = '''\
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
import os

app = FastAPI()
SECRET_KEY = os.environ.get("SECRET_KEY", "")
API_URL = "https://api.example.com/v1"


class Todo(BaseModel):
    id: int
    title: str
    done: bool = False


@app.post("/login")
def login(username: str, password: str) -> dict[str, str]:
    if not check_password(username, password):
        raise HTTPException(status_code=401, detail="bad credentials")
    return {"token": make_token(username, key=SECRET_KEY)}


def test_login(client):
    r = client.post("/login", params={"username": "alice", "password": "correct horse"})
    assert r.status_code == 200
'''


def _value(sample: str) -> str:
    """The secret part of a sample (what must never appear in a finding)."""
    m = re.search(r'"([^"]{20,})"', sample)
    return m.group(1) if m else sample


def test_every_regex_plugin_has_a_sample() -> None:
    assert {p.rule for p in regex_plugins()} == set(SAMPLES)


@pytest.mark.parametrize(("rule", "sample"), sorted(SAMPLES.items()))
def test_rule_found_in_written_content(rule: str, sample: str) -> None:
    text = f"import os\n\nVALUE = {sample!r}\n" if '"' not in sample else f"import os\n\n{sample}\n"
    findings = scan(text, "input.content")
    assert (rule, "input.content", 3) in {(f.rule, f.where, f.line) for f in findings}


@pytest.mark.parametrize(("rule", "sample"), sorted(SAMPLES.items()))
def test_finding_never_carries_the_value(rule: str, sample: str) -> None:
    findings = scan(f"x = 1\n{sample}\n", "input.command")
    assert rule in {f.rule for f in findings}
    dumped = json.dumps([f.model_dump() for f in findings])
    value = _value(sample)
    assert value not in dumped
    assert value[8:24] not in dumped  # not even a fragment
    for f in findings:
        assert set(f.model_dump(exclude_none=True)) <= {"rule", "where", "line"}


@pytest.mark.parametrize(("rule", "sample"), sorted(SAMPLES.items()))
def test_found_inside_a_large_file_at_the_right_line(rule: str, sample: str) -> None:
    lines = CLEAN_CODE.splitlines() * 20
    at = 137
    lines.insert(at, f"    config = {sample!r}" if '"' not in sample else "    " + sample)
    findings = [f for f in scan("\n".join(lines), "input.content") if f.rule == rule]
    assert [f.line for f in findings] == [at + 1]


@pytest.mark.parametrize(
    ("rule", "sample"),
    [(r, s) for r, s in sorted(SAMPLES.items())
     if r in ("ibm-cloud-iam-key", "softlayer-credentials", "cloudant-credentials",
              "ibm-cos-hmac-credentials", "aws-access-key")],
)
def test_case_insensitive_rules_are_found_in_upper_case(rule: str, sample: str) -> None:
    upper = re.sub(r"^[a-z_]+", lambda m: m.group(0).upper(), sample)
    assert rule in {f.rule for f in scan(upper, "input.content")}


def test_clean_backend_code_has_no_findings() -> None:
    assert scan(CLEAN_CODE, "input.content") == []
    assert scan(CLEAN_CODE * 50, "input.content") == []


@pytest.mark.parametrize(
    "text",
    [
        "curl https://8.8.8.8/",  # an IP address is not a credential (no IPPublicDetector)
        'password = "correct horse battery"',  # keyword plugin off by default
        'api_key = "d41d8cd98f00b204e9800998ecf8427e"',  # entropy plugins off by default
        "",
        "ls -la backend",
    ],
)
def test_noisy_plugins_are_off_by_default(text: str) -> None:
    assert scan(text, "input.content") == []


def test_keyword_plugin_is_opt_in() -> None:
    text = 'password = "hunter2-very-secret"\n'
    assert scan(text, "input.content") == []
    found = scan(text, "input.content", filename="backend/settings.py", keyword=True)
    assert [(f.rule, f.line) for f in found] == [("secret-keyword", 1)]


def test_entropy_plugins_are_opt_in() -> None:
    text = 'token = "8f4a2c9e1b7d3f6a0c5e9b2d8f1a4c7e"\nblob = "Zm9vYmFyYmF6cXV4cXV1eHl6enk3OTEyMzQ1Njc4OWFiY2RlZg=="\n'
    assert scan(text, "input.content") == []
    rules = {f.rule for f in scan(text, "input.content", entropy=True)}
    assert rules == {"hex-high-entropy-string", "base64-high-entropy-string"}


def test_entropy_ignores_templated_and_sequential_values() -> None:
    text = 'a = "${SECRET_FROM_ENV}"\nb = "abcdefghijklmnopqrstuvwxyz0123456789"\n'
    assert scan(text, "input.content", entropy=True) == []


def test_allowlist_pragma_does_not_switch_the_check_off() -> None:
    text = f"KEY = '{SAMPLES['aws-access-key']}'  # pragma: allowlist secret\n"
    assert "aws-access-key" in {f.rule for f in scan(text, "input.content")}


def test_one_finding_per_rule_and_line() -> None:
    key = SAMPLES["aws-access-key"]
    findings = scan(f"{key} {key}\n{key}\n", "input.content")
    assert [(f.rule, f.line) for f in findings] == [("aws-access-key", 1), ("aws-access-key", 2)]


def test_rule_names_are_kebab_case() -> None:
    for rule in RULES.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule), rule


def test_plugins_are_instantiated_once() -> None:
    assert regex_plugins() is regex_plugins()
    first = regex_plugins()[0].instance
    scan("x", "input.content")
    assert regex_plugins()[0].instance is first


# --- the gates that choose which lines a plugin runs on -----------------------------------------


@pytest.mark.parametrize(
    ("pattern", "flags", "matches", "gate_matches"),
    [
        (r"ghp_[A-Za-z0-9]{36}", 0, "ghp_" + "a" * 36, True),
        (r"(?:r|s)k_live_[0-9a-z]{24}", 0, "rk_live_" + "a" * 24, True),
        (r"(?:key|pwd|pass)\s*=\s*'[a-z]{8}'", re.IGNORECASE, "PASS = 'abcdefgh'", True),
        (r"AP[\dABCDEF][a-zA-Z0-9]{8,}", 0, "APB12345678", True),
        (r"x-us[0-9]{1,2}", 0, "x-us12", True),
    ],
)
def test_gate_matches_wherever_the_regex_does(
    pattern: str, flags: int, matches: str, gate_matches: bool
) -> None:
    assert re.search(pattern, matches, flags)
    found = gate_pattern(pattern, flags)
    assert found is not None
    source, min_len, _ = found
    assert min_len >= 3
    assert bool(re.search(source, matches.casefold())) is gate_matches


def test_gate_is_none_without_literals() -> None:
    assert gate_pattern(r"[a-z]{40}") is None
    assert gate_pattern(r"(?:a|)b?") is None or gate_pattern(r"(?:a|)b?")[1] < 3  # type: ignore[index]


def test_anchored_gate_for_regexes_without_a_literal_gate() -> None:
    source = anchored_gate(r"\d{8,10}:[0-9A-Za-z_-]{35}")
    assert source is not None
    sample = "123456789:" + "A" * 35
    assert re.search(source, sample)
    assert not re.search(source, "12:34")


def test_every_plugin_gate_passes_its_own_sample() -> None:
    # soundness on real plugins: the real regex matches the sample, so must its gate
    by_rule = {p.rule: p for p in regex_plugins()}
    for rule, sample in SAMPLES.items():
        plugin = by_rule[rule]
        doc = Doc(sample)
        for pf in plugin.prefilter:
            if pf.regex.search(sample):
                assert pf.candidate_lines(doc) == {0}, (rule, pf.gate)
                assert pf.possible(sample, sample.casefold()), (rule, pf.gate)


# --- development defaults and documentation samples (issue 9) ---------------------------------

JWT_IO_SAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize("text", [
    'DATABASE_URL = "postgresql://postgres:postgres@localhost/app"',
    "DATABASE_URL=postgresql://postgres:postgres@localhost:5432/app\nSECRET_KEY=changethis\n",
    'url = "http://user:pass@db.internal/x"',
    'BROKER = "amqp://guest:guest@rabbitmq:5672//"',
    'REDIS = "redis://default:changeme@redis.prod.company.com:6379"',  # a placeholder password
    'DB = "mysql://root:<password>@db.prod.company.com/app"',
    'DB = "postgresql://app:Xk9fJ2kq8LmZ@localhost/app"',  # a local development database
    'DB = "postgresql://app:Xk9fJ2kq8LmZ@db/app"',  # a docker-compose service name
    'DB = "postgresql://app:Xk9fJ2kq8LmZ@127.0.0.1:5432/app"',
    'DB = "postgresql://app:Xk9fJ2kq8LmZ@pg.local/app"',
    'DB = "postgresql://admin:admin@db.prod.company.com/app"',  # user == password
    f'TOKEN = "{JWT_IO_SAMPLE}"',
    # the jwt.io sample with another header / signature is still the sample
    'TOKEN = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9'
    'lIiwiYWRtaW4iOnRydWUsImlhdCI6MTUxNjIzOTAyMn0.abc"',
])
def test_development_defaults_are_not_findings(text: str) -> None:
    assert scan(text, "input.content") == []


@pytest.mark.parametrize(("text", "rule"), [
    ('DB = "postgresql://app:Xk9fJ2kq8LmZ@prod-db.company.com/app"', "basic-auth-credentials"),
    ('DB = "https://admin:hunter2pass@db.example.com/x"', "basic-auth-credentials"),
    # one real credential among placeholders on the same line is still found
    ('urls = ["postgresql://postgres:postgres@localhost/app", '
     '"https://deploy:Zq8vR2nT5w@api.company.com/"]', "basic-auth-credentials"),
    (f'TOKEN = "{SAMPLES["jwt-token"]}"', "jwt-token"),
])
def test_real_looking_credentials_are_still_found(text: str, rule: str) -> None:
    assert rule in {f.rule for f in scan(text, "input.content")}


def test_dev_host_and_placeholder_password() -> None:
    assert all(secrets.dev_host(h) for h in ("localhost", "127.0.0.1:5432", "[::1]", "db",
                                              "db.internal", "x.local", "0.0.0.0"))
    assert not any(secrets.dev_host(h) for h in ("db.example.com", "10.0.0.5", "evil.example",
                                                  "prod-db.company.com:5432"))
    assert secrets.placeholder_password("postgres", "postgres")
    assert secrets.placeholder_password("u", "changethis")
    assert secrets.placeholder_password("u", "$DB_PASSWORD")
    assert not secrets.placeholder_password("u", "Xk9fJ2kq8LmZ")


def test_a_line_that_is_not_ascii_gets_every_detector() -> None:
    """The gates hold for ASCII text only (runner/secret_gates.py): a dotless ı, a dotted İ or
    a Unicode digit inside a secret must not hide it from the scan."""
    from runner.policy.secrets import _found
    from tests.gateway.test_redact import UNICODE_SECRETS

    checked = 0
    for text in UNICODE_SECRETS:
        expected = {p.rule for p in regex_plugins() if _found(p, text)}
        found = {f.rule for f in scan(text, "x")}
        assert expected <= found, (text, expected, found)
        checked += bool(expected)
    assert checked >= 3  # the webhook, softlayer and artifactory shapes are token detectors


def test_gates_with_known_strings_are_answered_together() -> None:
    """A Doc answers every gate whose strings are known with one pass over the text (an
    Aho-Corasick automaton): the same answer as each gate's own regex, for every plugin's
    gates on texts holding each sample (several casings, overlapping strings, none); a gate
    made after the text was looked at is asked the usual way."""
    from runner.secret_gates import prefilter

    gates = [p for plugin in regex_plugins() for p in plugin.prefilter]
    assert sum(bool(p.literals) for p in gates) >= len(gates) // 2
    code = "def f(x):\n    return {'key': x, 'url': 'sqlite:///a.db'}\n"
    texts = [code, "", "passwordtoken", "secret_key=AKIAAKIA", "eyjeyj://:_authtoken="]
    for sample in SAMPLES.values():
        texts += [f"{code}v = '{variant}'\n{code}" for variant in
                  (sample, sample.upper(), sample.lower(), sample.swapcase())]
    for text in texts:
        doc = Doc(text)
        for gate in gates:
            assert doc.possible(gate) is gate.possible(text, text.casefold()), (text, gate)
    doc = Doc("x = 'zqxjvw-12345'\n")
    assert not doc.possible(gates[0]) or gates[0].possible(doc.text, doc.folded)
    late = prefilter(re.compile(r"zqxjvw-[0-9]+"))  # made after the doc's one pass
    assert late.literals == {"zqxjvw-"}
    assert doc.possible(late) and not Doc("x = 1\n").possible(late)


def test_lines_that_are_ascii_keep_their_gates_beside_one_that_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A long text with one line that is not ASCII: that line gets every plugin, the ASCII
    lines only the plugins their gates allow (not every line: a Write with one "é" in it
    is not scanned by every regex on every line), and a secret is found on either kind."""
    from runner.policy import secrets as module
    from tests.gateway.test_redact import UNICODE_SECRETS

    checked: list[str] = []
    real = module._found

    def counting(plugin: object, line: str) -> bool:
        checked.append(line)
        return real(plugin, line)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_found", counting)
    code = [f"def f{i}(x):\n    return x + {i}" for i in range(100)]
    for secret in (SAMPLES["github-token"], UNICODE_SECRETS[3]):  # a Slack webhook with ı
        text = "\n".join([*code[:50], "# café", f"token = '{secret}'", *code[50:]])
        checked.clear()
        found = {(f.rule, f.line) for f in scan(text, "x")}
        assert any(line == 102 for _, line in found), (secret, found)
        assert 0 < len(checked) < 50 * len(regex_plugins()) // 10, len(checked)
        assert "# café" in checked  # the line that is not ASCII met every plugin


def test_a_gate_of_more_strings_than_tracked_is_still_asked() -> None:
    """A gate that can match more strings than are tracked (its ``literals`` empty) is not
    answered by the automaton (found by a review: it was registered and always "absent")."""
    from runner.secret_gates import prefilter

    assert regex_plugins()  # the plugins' gates registered first, as in a run
    gate = prefilter(re.compile(  # 2 x 3 x 2 x 3 x 10 = 360 strings: over the limit
        r"(?:softlayer|sl)(?:_|-|)(?:api|)(?:_|-|)(?:key|pwd|password|pass|token|secret|pw"
        r"|passwd|passphrase|credential)\s*[:=]\s*([a-z0-9]{32})"))
    assert gate.gate is not None and not gate.literals
    text = "sl_api_secret = " + "a1" * 16 + "\n"
    doc = Doc(text)
    assert doc.possible(gate) and doc.possible_among((gate,)) == [True]
    assert Doc("nothing here\n").possible_among((gate,)) == [False]
