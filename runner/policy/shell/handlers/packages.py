"""Package managers and their registries: pip, uv, poetry/pipenv/pdm/hatch, pipx, conda,
npm/yarn/pnpm, apt; gem/bundle, go, cargo, composer and other languages' and systems'
package managers (a host for each command that downloads, unless told to stay offline)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from runner.policy.shell.context import _Call
from runner.policy.shell.walker import Handler, _Walker
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


# --- other languages' package managers ---------------------------------------------------------


def _offline_env(call: _Call, *names: str) -> bool:
    for n in names:
        v = call.env.get(n, call.ctx.vars.get(n) if n in call.ctx.vars else None)
        if v is not None and v.lower() in ("1", "true", "yes", "off"):
            return True
    return False


_GEM_NET = frozenset({"install", "i", "fetch", "update", "push", "owner", "yank", "sources",
                      "signin", "outdated", "search"})
_GEM_REMOTE_CAPABLE = frozenset({"list", "query", "specification", "dependency", "info"})


def _h_gem(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "sv", ["--source", "--version", "--platform", "--install-dir",
                                         "--bindir", "--config-file", "--host", "--key",
                                         "--otp"])
    sub = pos[0].text if pos else ""
    remote = _has(opts, "-r", "--remote", "-b", "--both")
    local = _has(opts, "-l", "--local")
    if sub not in _GEM_NET and not (sub in _GEM_REMOTE_CAPABLE and remote):
        return
    if local and sub in ("install", "i", "list", "query"):
        for p in pos[1:]:
            if p.text.endswith(".gem"):
                w.add_path(p, "read", call)
        return
    sources = _vals(opts, "-s", "--source", "--host")
    for s in sources:
        w.add_url(s.text, "gem-source", dynamic=s.dynamic, default_scheme="https")
    if not sources or sub == "sources":
        w.add_host("rubygems.org", 443, "gem-source")
    for p in pos[1:]:
        if p.text.endswith(".gem"):
            w.add_path(p, "read", call)


_BUNDLE_NET = frozenset({"install", "update", "add", "outdated", "lock", "package", "cache",
                         "pack", "binstubs", "check", "plugin", "info", "search"})


def _h_bundle(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "", ["--gemfile", "--path", "--jobs", "--retry", "--without",
                                    "--with", "--binstubs"], stop_at_positional=True)
    sub = pos[0].text if pos else "install"  # `bundle` alone is `bundle install`
    if sub == "exec" and len(pos) > 1:
        w.execute(list(pos[1:]), call.ctx, call.stdin, call.depth + 1, call.env, "bundle")
        return
    if sub in ("check", "binstubs", "info") or sub not in _BUNDLE_NET:
        return
    if any(a.text in ("--local", "--prefer-local") for a in call.args) or (
            sub == "lock" and not any(a.text.startswith("--update") for a in call.args)):
        return
    w.add_host("rubygems.org", 443, "gem-source")


_GO_NET = frozenset({"get", "install"})
_GO_MOD_NET = frozenset({"download", "tidy", "vendor", "graph", "why", "verify"})


def _h_go(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "C", [], stop_at_positional=True)
    sub = pos[0].text if pos else ""
    rest = [p.text for p in pos[1:]]
    net = (
        sub in _GO_NET
        or (sub == "mod" and rest[:1] and rest[0] in _GO_MOD_NET)
        or (sub == "work" and rest[:1] and rest[0] in ("sync", "vendor"))
        or (sub == "run" and any("@" in r for r in rest if not r.startswith("-")))
        or (sub == "list" and "-m" in rest and any(r in ("-u", "-versions", "all", "-retracted")
                                                   or "@" in r for r in rest))
    )
    if not net:
        return
    proxy = call.env.get("GOPROXY", call.ctx.vars.get("GOPROXY") if "GOPROXY" in call.ctx.vars
                         else "https://proxy.golang.org,direct")
    if proxy is None:
        w.add_hidden_host("$GOPROXY", "go-proxy")
        return
    if proxy.strip() == "off":
        return
    for part in re.split(r"[,|]", proxy):
        part = part.strip()
        if part == "direct":
            w.add_hidden_host("the module's own repository (GOPROXY direct)", "go-proxy")
        elif part and part != "off":
            w.add_url(part, "go-proxy", default_scheme="https")
    if call.env.get("GOSUMDB", call.ctx.vars.get("GOSUMDB") or "") != "off":
        w.add_host("sum.golang.org", 443, "go-sumdb")


_CARGO_NET = frozenset({"install", "fetch", "update", "add", "publish", "search", "login",
                        "owner", "yank", "generate-lockfile", "vendor", "info", "logout"})
_CARGO_BUILD = frozenset({"build", "b", "check", "c", "test", "t", "run", "r", "bench", "doc",
                          "d", "clippy", "tree", "metadata", "package", "fix", "rustc",
                          "rustdoc"})
_DEPS_SECTION = re.compile(r"^\s*\[(?:[\w.\-\"']+\.)?(?:dev-|build-)?dependencies(?:\.[^\]]+)?\]"
                           r"|^\s*\[workspace\]", re.MULTILINE)
MAX_MANIFEST_BYTES = 256 * 1024


def _h_cargo(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "pFjZC", ["--manifest-path", "--package", "--features",
                                            "--jobs", "--target", "--target-dir", "--config",
                                            "--registry", "--index", "--git", "--path",
                                            "--root", "--bin", "--example", "--profile",
                                            "--color", "--message-format"],
                       stop_at_positional=True)
    if any(a.text in ("--offline", "--frozen") for a in call.args) or _offline_env(
            call, "CARGO_NET_OFFLINE"):
        return
    sub = pos[0].text if pos else ""
    if sub in _CARGO_NET:
        _cargo_registries(w, call)
        return
    if sub not in _CARGO_BUILD:
        return
    manifests = _vals(opts, "--manifest-path") or [Word("Cargo.toml")]
    for m in manifests:
        if m.dynamic or _manifest_has_deps(w, m.text, call):
            _cargo_registries(w, call)
            return


def _cargo_registries(w: _Walker, call: _Call) -> None:
    opts, _ = getopt(call.args, "", ["--registry", "--index", "--git"])
    for v in _vals(opts, "--index", "--git"):
        w.add_url(v.text, "cargo-registry", dynamic=v.dynamic, default_scheme="https")
    w.add_host("index.crates.io", 443, "cargo-registry")


def _manifest_has_deps(w: _Walker, path: str, call: _Call) -> bool:
    """Whether a Cargo manifest declares dependencies (or is a workspace); unknown: True."""
    from runner.hostfs import HostReadRefused
    from runner.policy.paths import absolute

    try:
        text = w.resolver.read_text(absolute(path, call.ctx.cwds[0]), MAX_MANIFEST_BYTES)
    except HostReadRefused:
        return True
    if text is None:
        return True
    for m in _DEPS_SECTION.finditer(text):
        if "workspace" in m.group(0) and "dependencies" not in m.group(0):
            return True
        body = text[m.end():].split("\n[", 1)[0]
        if re.search(r"^\s*[\w\-\"']+\s*=", body, re.MULTILINE) or "." in m.group(0).split(
                "dependencies", 1)[1]:
            return True
    return False


_COMPOSER_NET = frozenset({"install", "i", "update", "u", "upgrade", "require", "r",
                           "create-project", "global", "self-update", "selfupdate", "outdated",
                           "search", "remove", "rm", "reinstall", "bump", "diagnose", "browse",
                           "home", "fund", "audit", "depends", "why", "prohibits", "why-not"})


def _h_composer(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "d", ["--working-dir"], stop_at_positional=True)
    sub = pos[0].text if pos else ""
    if sub in ("show", "info") and any(a.text in ("--all", "-a", "--latest", "-l", "--outdated",
                                                  "-o", "--available") for a in call.args):
        sub = "outdated"
    if sub in _COMPOSER_NET and not _offline_env(call, "COMPOSER_DISABLE_NETWORK"):
        w.add_host("repo.packagist.org", 443, "composer-repository")


@dataclass(frozen=True)
class _Registry:
    host: str
    subcommands: frozenset[str]  # empty: any invocation with arguments


_SIMPLE_REGISTRIES: dict[str, _Registry] = {
    "mvn": _Registry("repo.maven.apache.org", frozenset()),
    "gradle": _Registry("plugins.gradle.org", frozenset()),
    "dotnet": _Registry("api.nuget.org", frozenset({"restore", "add", "build", "run", "test",
                                                    "publish", "pack", "tool", "new",
                                                    "workload"})),
    "nuget": _Registry("api.nuget.org", frozenset({"install", "restore", "update", "push"})),
    "cpan": _Registry("www.cpan.org", frozenset()),
    "cpanm": _Registry("www.cpan.org", frozenset()),
    "luarocks": _Registry("luarocks.org", frozenset({"install", "download", "search", "upload",
                                                      "build"})),
    "cabal": _Registry("hackage.haskell.org", frozenset({"update", "install", "get", "fetch",
                                                          "build", "run", "test", "upload"})),
    "stack": _Registry("hackage.haskell.org", frozenset({"setup", "install", "build", "update",
                                                          "new", "upload", "test", "run"})),
    "opam": _Registry("opam.ocaml.org", frozenset({"install", "update", "upgrade", "init",
                                                    "repository", "source"})),
    "mix": _Registry("hex.pm", frozenset({"deps.get", "deps.update", "hex.publish",
                                          "archive.install", "local.hex", "local.rebar"})),
    "pub": _Registry("pub.dev", frozenset({"get", "upgrade", "downgrade", "publish", "add",
                                           "global"})),
    "brew": _Registry("formulae.brew.sh", frozenset({"install", "update", "upgrade", "fetch",
                                                     "tap", "reinstall", "search", "info"})),
    "apk": _Registry("dl-cdn.alpinelinux.org", frozenset({"add", "update", "upgrade", "fetch",
                                                           "search"})),
    "yum": _Registry("the distribution mirrors", frozenset({"install", "update", "upgrade",
                                                            "makecache", "download",
                                                            "reinstall", "search"})),
    "dnf": _Registry("the distribution mirrors", frozenset({"install", "update", "upgrade",
                                                            "makecache", "download",
                                                            "reinstall", "search"})),
    "zypper": _Registry("the distribution mirrors", frozenset({"install", "in", "update", "up",
                                                               "refresh", "ref", "dup"})),
    "pacman": _Registry("the distribution mirrors", frozenset()),
    "snap": _Registry("api.snapcraft.io", frozenset({"install", "refresh", "download", "find"})),
    "flatpak": _Registry("flathub.org", frozenset({"install", "update", "remote-add",
                                                   "search"})),
    "pecl": _Registry("pecl.php.net", frozenset({"install", "download", "upgrade",
                                                 "channel-update"})),
    "nix-env": _Registry("cache.nixos.org", frozenset()),
    "nix": _Registry("cache.nixos.org", frozenset({"build", "run", "shell", "develop",
                                                   "profile", "flake", "copy"})),
    "sdk": _Registry("api.sdkman.io", frozenset({"install", "update", "upgrade", "selfupdate"})),
    "rustup": _Registry("static.rust-lang.org", frozenset({"install", "update", "toolchain",
                                                           "target", "component", "default",
                                                           "self"})),
    "nvm": _Registry("nodejs.org", frozenset({"install", "ls-remote"})),
    "pyenv": _Registry("www.python.org", frozenset({"install"})),
    "asdf": _Registry("the plugin repositories", frozenset({"install", "plugin", "update"})),
}


def _h_simple_registry(w: _Walker, call: _Call) -> None:
    spec = _SIMPLE_REGISTRIES[call.name]
    words = [a.text for a in call.args if not a.text.startswith("-")]
    if not call.args or all(a.text in ("--version", "-v", "-V", "--help", "-h", "help",
                                       "version") for a in call.args):
        return
    if any(a.text in ("--offline", "-o") for a in call.args) and call.name in (
            "mvn", "gradle", "cabal", "stack", "dotnet"):
        return
    if spec.subcommands and not (words and words[0] in spec.subcommands):
        return
    if call.name in ("pacman",) and not any(a.text.startswith("-S") for a in call.args):
        return
    if "." in spec.host and " " not in spec.host:
        w.add_host(spec.host, 443, f"{call.name}-registry")
    else:
        w.add_hidden_host(spec.host, f"{call.name}-registry")


def more_handlers() -> dict[str, Handler]:
    out: dict[str, Handler] = {"gem": _h_gem, "bundle": _h_bundle, "bundler": _h_bundle,
                               "go": _h_go, "cargo": _h_cargo, "composer": _h_composer}
    out.update(dict.fromkeys(_SIMPLE_REGISTRIES, _h_simple_registry))
    return out
