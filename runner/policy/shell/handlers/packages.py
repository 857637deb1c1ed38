"""Package managers and their registries: pip, uv, poetry/pipenv/pdm/hatch, pipx, conda,
npm/yarn/pnpm, apt."""

from __future__ import annotations

from collections.abc import Sequence

from runner.policy.shell.context import _Call
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt

_PIP_VAL = [
    "--requirement", "--constraint", "--editable", "--target", "--prefix", "--root", "--src",
    "--index-url", "--extra-index-url", "--find-links", "--proxy", "--platform",
    "--python-version", "--implementation", "--abi", "--upgrade-strategy", "--progress-bar",
    "--global-option", "--config-settings", "--no-binary", "--only-binary", "--report",
    "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--log", "--timeout",
    "--retries", "--exists-action", "--python", "--keyring-provider", "--root-user-action",
    "--dest", "--wheel-dir", "--group", "--index", "--default-index", "--output-file",
    "--with", "--with-requirements", "--from", "--directory", "--project", "--extra",
    "--index-strategy", "--resolution", "--prerelease", "--exclude-newer", "--link-mode",
    "--python-platform", "--refresh-package", "--reinstall-package", "--upgrade-package",
    "--override", "--build-constraint", "--torch-backend",
]
_PIP_NET = frozenset({"install", "download", "wheel", "index", "search", "lock", "compile", "sync"})


def _pip_like(w: _Walker, call: _Call, args: Sequence[Word], sub: str, *,
              default_host: bool) -> None:
    opts, pos = getopt(args, "rcetidwfpC", _PIP_VAL)
    for v in _vals(opts, "-r", "--requirement", "-c", "--constraint", "--with-requirements",
                   "--override", "--build-constraint"):
        if "://" in v.text:
            w.add_url(v.text, "pip-index", dynamic=v.dynamic)
        else:
            w.add_path(v, "read", call)
    for v in _vals(opts, "-t", "--target", "--prefix", "--root", "--src", "-d", "--dest", "-w",
                   "--wheel-dir", "--report", "--log", "-o", "--output-file"):
        w.add_path(v, "write", call)
    if _has(opts, "--user"):
        w.add_path(Word("~/.local"), "write", call, implicit=True)
    for v in _vals(opts, "-e", "--editable"):
        if "://" in v.text or "+" in v.text.partition(":")[0]:
            w.scan_urls([v], "pip-index")
        else:
            w.add_path(v, "read", call)
    if sub not in _PIP_NET:
        w.inferred_reads(call, pos)
        return
    index = _vals(opts, "-i", "--index-url", "--default-index")
    if not _has(opts, "--no-index", "--offline"):
        env_index = [call.env[k] for k in call.env if k.lower() in ("pip_index_url", "uv_index_url",
                                                                      "uv_default_index")]
        if index:
            for v in index:
                w.add_url(v.text, "pip-index", dynamic=v.dynamic, default_scheme="https")
        elif env_index:
            w._env_hosts({"pip_index_url": env_index[-1]})
        elif default_host:
            w.add_host("pypi.org", 443, "pip-index")
        for v in _vals(opts, "--extra-index-url", "--index"):
            w.add_url(v.text.rpartition("=")[2] if "=" in v.text and "://" in v.text.rpartition("=")[2]
                      else v.text, "pip-index", dynamic=v.dynamic, default_scheme="https")
    for v in _vals(opts, "-f", "--find-links"):
        if "://" in v.text:
            w.add_url(v.text, "pip-find-links", dynamic=v.dynamic)
        else:
            w.add_path(v, "read", call)
    for v in _vals(opts, "--proxy"):
        w.add_url(v.text, "pip-proxy", dynamic=v.dynamic, default_scheme="http")
    for p in pos:
        t = p.text
        if "://" in t:
            continue  # URL scan
        if t.startswith((".", "/", "~")) or t.endswith((".whl", ".tar.gz", ".zip", ".tgz")):
            w.add_path(p, "read", call)


def _h_pip(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", ["--proxy", "--cert", "--client-cert", "--cache-dir", "--log",
                                    "--timeout", "--retries", "--exists-action", "--trusted-host",
                                    "--python", "--keyring-provider"], stop_at_positional=True)
    if not pos:
        return
    sub = pos[0].text
    _pip_like(w, call, list(call.args[: len(call.args) - len(pos)]) + list(pos[1:]), sub,
              default_host=True)


def _h_uv(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", ["--directory", "--project", "--cache-dir", "--python",
                                    "--config-file", "--color"], stop_at_positional=True)
    if not pos:
        return
    sub = pos[0].text
    rest = pos[1:]
    offline = any(a.text == "--offline" for a in call.args)
    if call.name == "uvx":
        _pip_like(w, call, call.args, "install", default_host=not offline)
        return
    if sub == "pip" and rest:
        _pip_like(w, call, rest[1:], rest[0].text, default_host=not offline)
    elif sub in ("add", "sync", "lock"):
        _pip_like(w, call, rest, "install", default_host=not offline)
    elif sub == "tool" and rest and rest[0].text in ("install", "run", "upgrade"):
        _pip_like(w, call, rest[1:], "install", default_host=not offline)
    elif sub == "run":
        opts, rpos = getopt(rest, "w", _PIP_VAL, stop_at_positional=True)
        if not offline and not _has(opts, "--no-sync", "--frozen"):
            _pip_like(w, call, [a for a in rest if a.text.startswith("-")], "install",
                      default_host=True)
        if rpos:
            w.execute(list(rpos), call.ctx, call.stdin, call.depth + 1, call.env, "uv")
    elif sub == "python" and rest and rest[0].text == "install" and not offline:
        w.add_host("github.com", 443, "uv-python")
    elif sub == "venv":
        _, vpos = getopt(rest, "p", ["--python", "--prompt", "--index-url"])
        for p in vpos:
            w.add_path(p, "write", call)


def _h_poetry(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "C", ["--directory", "--project"], stop_at_positional=True)
    if pos and pos[0].text in ("add", "install", "lock", "update", "self", "search", "sync"):
        w.add_host("pypi.org", 443, "pip-index")
    if pos and pos[0].text == "run" and len(pos) > 1:
        w.execute(list(pos[1:]), call.ctx, call.stdin, call.depth + 1, call.env, call.name)


def _h_pipx(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", [], stop_at_positional=True)
    if pos and pos[0].text in ("install", "run", "inject", "upgrade", "upgrade-all",
                               "reinstall", "install-all"):
        _pip_like(w, call, pos[1:], "install", default_host=True)


def _h_conda(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "cnp", ["--channel", "--name", "--prefix", "--file"],
                    stop_at_positional=True)
    if pos and pos[0].text in ("install", "create", "update", "upgrade", "search", "env"):
        opts, _ = getopt(pos[1:], "cnpf", ["--channel", "--name", "--prefix", "--file"])
        channels = _vals(opts, "-c", "--channel")
        for c in channels:
            if not w.add_url(c.text, "conda-channel", dynamic=c.dynamic):
                w.add_host("conda.anaconda.org", 443, "conda-channel")
        if not channels:
            w.add_host("conda.anaconda.org", 443, "conda-channel")


_NPM_NET = frozenset({
    "install", "i", "in", "ins", "inst", "insta", "instal", "isnt", "isnta", "isntal", "isntall",
    "add", "ci", "clean-install", "install-clean", "isntall-clean", "ic", "update", "up",
    "upgrade", "udpate", "exec", "x", "create", "init", "innit", "publish", "unpublish", "view",
    "v", "info", "show", "search", "s", "se", "find", "audit", "outdated", "dist-tag",
    "deprecate", "owner", "access", "login", "adduser", "whoami", "ping", "doctor", "dedupe",
    "ddp", "install-test", "it", "install-ci-test", "cit", "dlx", "fetch", "import", "why",
    "token", "org", "team", "hook", "star", "stars", "unstar", "repo", "docs", "bugs", "fund",
})


def _h_npm(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "C", ["--registry", "--prefix", "--cwd", "--userconfig",
                                        "--globalconfig", "--cache", "--workspace"])
    name = call.name
    sub = pos[0].text if pos else ""
    net = (
        name in ("npx", "pnpx", "bunx")
        or (name == "yarn" and (not sub or sub in _NPM_NET or sub == "global"))
        or (name != "yarn" and sub in _NPM_NET)
    )
    if name == "npm" and sub == "init" and len(pos) < 2:
        net = False
    registries = _vals(opts, "--registry")
    env_reg = [v for k, v in call.env.items() if k.lower() in ("npm_config_registry",
                                                                 "yarn_registry")]
    if net:
        if registries:
            for r in registries:
                w.add_url(r.text, "npm-registry", dynamic=r.dynamic, default_scheme="https")
        elif env_reg:
            w._env_hosts({"npm_config_registry": env_reg[-1]})
        else:
            w.add_host("registry.npmjs.org", 443, "npm-registry")
    for v in _vals(opts, "--userconfig", "--globalconfig"):
        w.add_path(v, "read", call)
    for p in pos[1:]:
        if p.text.startswith((".", "/", "~")) or p.text.startswith("file:"):
            w.add_path(p.sub(p.text.removeprefix("file:")), "read", call)


def _h_apt(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "octfqy", ["--option", "--config-file", "--target-release"])
    for o in _vals(opts, "-o", "--option"):
        k, _, v = o.text.partition("=")
        if "proxy" in k.lower() and v:
            w.add_url(v, "apt-proxy", dynamic=o.dynamic, default_scheme="http")
    if pos and pos[0].text in ("install", "update", "upgrade", "dist-upgrade", "full-upgrade",
                               "download", "source", "build-dep", "reinstall", "changelog"):
        w.add_host("deb.debian.org", 80, "apt")
        for p in pos[1:]:
            if p.text.startswith((".", "/")) and p.text.endswith(".deb"):
                w.add_path(p, "read", call)
