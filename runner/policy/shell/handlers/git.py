"""git: global options, read-only and network subcommands, config, remotes and their hosts."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from runner.hostfs import HostReadRefused
from runner.policy.models import PathOp
from runner.policy.pathnames import CONTAINER_WORKSPACE, absolute, normalize
from runner.policy.patterns import has_glob
from runner.policy.shell.context import _Call, _union
from runner.policy.shell.expansion import NO_LINKS
from runner.policy.shell.handlers.files import MAX_PATCH_BYTES, patch_targets
from runner.policy.shell.hosts import scp_remote
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Bound, Word, _has, _vals, getopt

MAX_GIT_CONFIG_BYTES = 1 << 20  # a larger .git/config names no remote here


_RISKY_GIT_KEYS = re.compile(
    r"^(core\.(fsmonitor|hookspath|sshcommand|pager|editor|askpass|gitproxy|"
    r"alternaterefscommand)|sequence\.editor|diff\.external|diff\..*\.(textconv|command)|"
    r"filter\..*\.(clean|smudge|process)|merge\..*\.driver|credential\..*|gpg\..*program|"
    r"uploadpack\..*|receivepack\..*|protocol\..*\.allow|alias\..*|pager\..*|"
    r"interactive\.difffilter|url\..*\.insteadof|url\..*\.pushinsteadof|remote\..*\.(uploadpack|receivepack|proxy)|"
    r"include\.path|includeif\..*|http\..*proxy|https\..*proxy|core\.hookspath|ssh\..*|"
    r"sendemail\..*|web\.browser|browser\..*|man\..*|init\.templatedir|submodule\..*\.update)$",
    re.IGNORECASE,
)
_GIT_READ = frozenset({
    "status", "log", "diff", "show", "blame", "annotate", "grep", "ls-files", "ls-tree",
    "rev-parse", "describe", "shortlog", "cat-file", "rev-list", "whatchanged", "count-objects",
    "fsck", "check-ignore", "check-attr", "diff-tree", "diff-files", "diff-index", "name-rev",
    "for-each-ref", "show-ref", "show-branch", "var", "verify-commit", "verify-tag", "help",
    "version", "merge-base", "cherry", "range-diff", "ls-remote", "archive", "bugreport",
    "format-patch", "get-tar-commit-id", "check-ref-format", "column", "hash-object",
    "verify-pack", "check-mailmap",
})
_GIT_NETWORK = frozenset({"clone", "fetch", "pull", "push", "ls-remote"})
_GIT_CONFIG_READ_FLAGS = frozenset({
    "--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l", "--get-color",
    "--get-colorbool", "--show-origin", "--show-scope", "--name-only",
})


_GIT_GLOBAL_VAL = ["--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env",
                   "--exec-path", "--list-cmds", "--attr-source"]


def _h_git(w: _Walker, call: _Call) -> None:
    args = call.args
    label = " ".join(a.text for a in call.argv)
    cwds = list(call.ctx.cwds)
    git_dir: Word | None = None
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or not t.startswith("-"):
            break
        name, eq, val = t.partition("=")
        value: Word | None = a.sub(val) if eq else None
        if name in ("-C", "-c") or (name in _GIT_GLOBAL_VAL and not eq):
            value = args[i + 1] if i + 1 < len(args) else None
            i += 1
        if name == "-C" and value is not None:
            cwds = [normalize(absolute(value.text, c)) for c in cwds]
            if value.dynamic:
                w.add_opaque("dynamic-cd", label)
        elif name == "-c" and value is not None:
            _git_config_pair(w, value, label)
        elif name == "--config-env" and value is not None:
            key = value.text.partition("=")[0]
            if _RISKY_GIT_KEYS.match(key):
                w.add_opaque("git-config-command", label)
        elif name == "--exec-path" and value is not None:
            w.add_opaque("git-config-command", label)
        elif name == "--git-dir" and value is not None:
            git_dir = value
        i += 1
    rest = list(args[i:])
    if not rest:
        return
    sub = rest[0].text
    sargs = rest[1:]
    gd = _git_dir(w, cwds, git_dir)
    repo = Word(".")

    def repo_path(op: PathOp) -> None:
        w.add_path(repo, op, call, cwds=cwds)

    def gitdir_path(suffix: str = "") -> None:
        for d in gd:
            w.add_path(Word(d + suffix), "write", call, implicit=True)

    if sub == "config":
        _git_config(w, call, sargs, cwds, gd, label)
        return
    if sub == "init":
        opts, pos = getopt(sargs, "b", ["--template", "--separate-git-dir", "--initial-branch",
                                        "--object-format", "--shared"])
        target = pos[0] if pos else Word(".")
        dirs = [normalize(absolute(target.text, c)) for c in cwds]
        for d in dirs:
            w.add_path(Word(d + "/.git"), "write", call, implicit=True)
        for v in _vals(opts, "--template"):
            w.add_path(v, "read", call, cwds=cwds)
        for v in _vals(opts, "--separate-git-dir"):
            w.add_path(v, "write", call, cwds=cwds)
        return
    if sub == "clone":
        opts, pos = getopt(sargs, "obujc", [
            "--origin", "--branch", "--upload-pack", "--reference", "--reference-if-able",
            "--separate-git-dir", "--depth", "--shallow-since", "--shallow-exclude", "--config",
            "--template", "--filter", "--jobs", "--bundle-uri", "--server-option",
            "--recurse-submodules",
        ])
        if _has(opts, "-u", "--upload-pack"):
            w.add_opaque("git-config-command", label)
        for c in _vals(opts, "-c", "--config"):
            _git_config_pair(w, c, label)
        for v in _vals(opts, "--template"):
            w.add_path(v, "read", call, cwds=cwds)
        if pos:
            _git_url(w, pos[0], label)
            if len(pos) > 1:
                dest = pos[1]
            else:
                base = posixpath.basename(pos[0].text.rstrip("/").rpartition(":")[2]) or "repo"
                dest = Word(base[:-4] if base.endswith(".git") else base, pos[0].dynamic)
            w.add_path(dest, "write", call, cwds=cwds)
            if scp_remote(pos[0].text) is None and "://" not in pos[0].text:
                w.add_path(pos[0], "read", call, cwds=cwds)  # a local repository
        return
    if sub in ("submodule",):
        repo_path("write")
        gitdir_path("/config")
        if sargs and sargs[0].text == "add":
            _, pos = getopt(sargs[1:], "b", ["--branch", "--name", "--reference", "--depth"])
            if pos:
                _git_url(w, pos[0], label)
        elif sargs and sargs[0].text == "foreach":
            _, pos = getopt(sargs[1:])
            if pos:
                w.shell_string(Word(" ".join(p.text for p in pos), any(p.dynamic for p in pos)),
                               call, label)
        elif sargs and sargs[0].text in ("update", "sync", "init"):
            _git_remote_hosts(w, gd, None, label)
        return
    if sub == "remote":
        action = sargs[0].text if sargs else ""
        if action in ("add", "set-url"):
            _, pos = getopt(sargs[1:], "tm", ["--track", "--master", "--push"])
            if len(pos) >= 2:
                _git_url(w, pos[-1], label)
            gitdir_path("/config")
        elif action in ("remove", "rm", "rename", "set-branches", "set-head", "prune", "update"):
            gitdir_path("/config")
            if action in ("update", "prune", "set-head"):
                _git_remote_hosts(w, gd, [p.text for p in sargs[1:] if not p.text.startswith("-")]
                                  or None, label)
        elif action == "show":
            names = [p.text for p in sargs[1:] if not p.text.startswith("-")]
            if "-n" not in [p.text for p in sargs]:
                _git_remote_hosts(w, gd, names or None, label)
            repo_path("read")
        else:
            repo_path("read")
        return
    if sub in _GIT_NETWORK:
        opts, pos = getopt(sargs, "oj", ["--upload-pack", "--receive-pack", "--exec", "--repo",
                                         "--push-option", "--server-option", "--depth",
                                         "--shallow-since", "--jobs", "--recurse-submodules"])
        if _has(opts, "--upload-pack", "--receive-pack", "--exec"):
            w.add_opaque("git-config-command", label)
        repo_arg = _vals(opts, "--repo")
        remote = repo_arg[-1] if repo_arg else (pos[0] if pos else None)
        if remote is not None and ("://" in remote.text or scp_remote(remote.text)
                                   or remote.text.startswith(("ext::", "fd::"))):
            _git_url(w, remote, label)
        elif remote is not None and remote.text.startswith(("/", ".", "~")):
            w.add_path(remote, "read", call, cwds=cwds)
        else:
            _git_remote_hosts(w, gd, [remote.text] if remote is not None else None, label,
                              dynamic=remote is not None and remote.dynamic)
        if sub == "ls-remote":
            return
        if sub in ("pull",):
            repo_path("write")
        gitdir_path()
        if sub == "push" and _has(opts, "-u", "--set-upstream"):
            gitdir_path("/config")
        return
    if sub in ("rebase",):
        opts, _ = getopt(sargs, "xsX", ["--exec", "--strategy", "--strategy-option", "--onto"])
        for c in _vals(opts, "-x", "--exec"):
            w.shell_string(c, call, label)
    if sub == "bisect" and len(sargs) >= 2 and sargs[0].text == "run":
        w.execute(list(sargs[1:]), call.ctx, None, call.depth + 1, call.env, "git")
    if sub == "filter-branch":
        w.add_opaque("git-config-command", label)
    if sub in ("difftool", "mergetool"):
        opts, _ = getopt(sargs, "xt", ["--extcmd", "--tool"])
        if _has(opts, "-x", "--extcmd"):
            w.add_opaque("git-config-command", label)
    if sub in ("show", "cat-file"):
        for p in sargs:
            t = p.text
            if ":" in t and not t.startswith("-") and "://" not in t:
                path = t.partition(":")[2]
                if path:
                    w.add_path(p.sub(path.lstrip("/")) if not path.startswith("./") else p.sub(path),
                               "read", call, cwds=_git_roots(w, cwds, gd))
    if sub == "grep":
        _git_grep(w, call, sargs, cwds, label)
    if sub in _GIT_READ or (sub in ("branch", "tag", "stash", "worktree", "notes", "reflog")
                            and _git_listing(sub, sargs)):
        repo_path("read")
        if "--" in [a.text for a in sargs]:
            after = [a for a in sargs[[a.text for a in sargs].index("--") + 1 :]]
            for p in after:
                w.add_path(p, "read", call, cwds=cwds)
        elif sub == "blame" and sargs:
            w.add_path(sargs[-1], "read", call, cwds=cwds)
        opts, _ = getopt(sargs, "o", ["--output", "--output-directory"])
        for v in _vals(opts, "--output", "-o", "--output-directory"):
            w.add_path(v, "write", call, cwds=cwds)
        return
    if sub in ("apply", "clean", "checkout", "restore") and _git_worktree_write(
        w, call, sub, sargs, cwds
    ):
        return
    # everything else changes the repository (and usually the working tree)
    repo_path("write")
    gitdir_path()
    opts, pos = getopt(sargs, "mFtCcSo", ["--message", "--file", "--template", "--reuse-message",
                                          "--reedit-message", "--author", "--date", "--pathspec-from-file",
                                          "--fixup", "--squash", "--cleanup", "--trailer"])
    for v in _vals(opts, "-F", "--file", "-t", "--template", "--pathspec-from-file"):
        w.add_path(v, "read", call, cwds=cwds)
    if sub in ("rm", "mv", "restore", "checkout", "clean", "apply", "am"):
        names = [p.text for p in sargs]
        paths = sargs[names.index("--") + 1 :] if "--" in names else (
            pos if sub in ("rm", "mv", "restore", "apply", "am") else []
        )
        for p in paths:
            w.add_path(p, "read" if sub in ("apply", "am") else "write", call, cwds=cwds)
    elif sub in ("add", "stage", "commit"):
        names = [p.text for p in sargs]
        for p in sargs[names.index("--") + 1 :] if "--" in names else pos:
            w.add_path(p, "read", call, cwds=cwds)


def _git_worktree_write(
    w: _Walker, call: _Call, sub: str, sargs: Sequence[Word], cwds: list[str]
) -> bool:
    """``git apply``, ``clean``, ``checkout -- PATHS``, ``restore PATHS``: what they write in
    the working tree, when it can be told (False: treat as a change of the repository).

    ``apply --check``/``--stat`` and ``clean -n`` only report; ``apply`` writes the files
    its patch names (``--cached``/``--index`` also the index: no); ``clean -f`` deletes
    untracked files under its pathspecs; ``checkout -- PATHS`` and ``restore PATHS``
    (worktree only) write those paths.
    """
    texts = [a.text for a in sargs]
    if sub == "apply":
        opts, pos = getopt(sargs, "pCv", ["--directory", "--include", "--exclude", "--whitespace",
                                           "--build-fake-ancestor"])
        for p in pos:
            w.add_path(p, "read", call, cwds=cwds)
        if _has(opts, "--check", "--stat", "--numstat", "--summary") and not _has(opts, "--apply"):
            return True
        if _has(opts, "--cached", "--index", "--3way", "-3", "--build-fake-ancestor") or not pos:
            return False
        strip = _vals(opts, "-p")
        n = int(strip[-1].text) if strip and strip[-1].text.isdigit() else 1
        directory = _vals(opts, "--directory")
        for p in pos:
            text = None if p.dynamic else _git_read(w, p, cwds)
            names = patch_targets(text, n) if text is not None else None
            if names is None:
                return False
            for name, link in names:
                target = f"{directory[-1].text.rstrip('/')}/{name}" if directory else name
                w.add_path(Word(target), "write", call, cwds=cwds)
                if link:
                    w.may_hold_links(Word(target), call, cwds)
        return True
    if sub == "clean":
        opts, pos = getopt(sargs, "eE", ["--exclude"])
        flags = "".join(o[1:] for o, _ in opts if not o.startswith("--"))
        if "n" in flags or _has(opts, "--dry-run"):
            return True
        if "i" in flags or _has(opts, "--interactive"):
            return False
        for p in pos or [Word(".")]:
            bound = None if p.dynamic or p.text.startswith(":") else Bound((p.text,), None, True)
            w.add_path(Word(p.text, True, bound=bound), "write", call, program="rm", cwds=cwds)
        return True
    if "--" not in texts:
        if sub != "restore":
            return False
        opts, paths = getopt(sargs, "sW", ["--source"])
    else:
        opts, _ = getopt(sargs[: texts.index("--")], "sW", ["--source"])
        paths = list(sargs[texts.index("--") + 1 :])
    if not paths or _has(opts, "--staged", "-S", "--patch", "-p", "--pathspec-from-file"):
        return False
    for p in paths:
        if p.dynamic or p.text.startswith(":"):
            return False  # pathspec magic (:/x is the top of the repository)
    for p in paths:
        w.add_path(p, "write", call, cwds=cwds)
    return True


def _git_read(w: _Walker, p: Word, cwds: list[str]) -> str | None:
    try:
        return w.resolver.read_text(absolute(p.text, cwds[0]), MAX_PATCH_BYTES)
    except HostReadRefused:
        return None


def _git_grep(w: _Walker, call: _Call, sargs: Sequence[Word], cwds: list[str], label: str) -> None:
    """``git grep`` reads every tracked file under its pathspecs (the current directory by
    default), and with a revision or ``--cached`` their committed content, which the
    sandbox does not mask. Whether a file is tracked is not looked up: every file counts."""
    texts = [a.text for a in sargs]
    if any(t.startswith(("-O", "--open-files-in-pager")) for t in texts):
        w.add_opaque("git-config-command", label)  # runs a pager program on the files
    dashes = texts.index("--") if "--" in texts else len(sargs)
    opts, pos = getopt(sargs[:dashes], "efABCm", [
        "--regexp", "--file", "--after-context", "--before-context", "--context",
        "--max-count", "--max-depth", "--threads", "--color", "--colour",
    ])
    for v in _vals(opts, "-f", "--file"):
        w.add_path(v, "read", call, cwds=cwds)
    if dashes < len(sargs):
        specs = list(sargs[dashes + 1 :])
    else:
        if not _has(opts, "-e", "--regexp", "-f", "--file"):
            pos = pos[1:]  # the pattern
        specs = [
            p for p in pos  # revisions and paths: git takes an existing path as a path
            if w.resolver.workspace is None or p.dynamic or any(
                w.resolver.resolve(p.text, c).exists is not False for c in cwds
            )
        ]
    roots = [
        Word(".") if (p.dynamic or p.text.startswith(":") or has_glob(p.text)) else p
        for p in specs
    ] or [Word(".")]
    for r in roots:  # a tracked symlink is searched as its target's name, not followed
        w.add_path(r, "read", call, cwds=cwds, recursive=NO_LINKS)


def _git_listing(sub: str, sargs: Sequence[Word]) -> bool:
    texts = [a.text for a in sargs]
    if sub in ("branch", "tag"):
        return not [t for t in texts if not t.startswith("-")] or any(
            t in ("-l", "--list", "-a", "-r", "-v", "-vv", "--contains", "--merged",
                  "--no-merged", "--show-current", "-n") for t in texts
        )
    if sub == "stash":
        return bool(texts) and texts[0] in ("list", "show")
    if sub == "worktree":
        return bool(texts) and texts[0] == "list"
    if sub == "notes":
        return not texts or texts[0] in ("list", "show")
    if sub == "reflog":
        return not texts or texts[0] in ("show",) or texts[0].startswith("-")
    return False


def _git_config_pair(w: _Walker, value: Word, label: str) -> None:
    key, _, val = value.text.partition("=")
    if value.dynamic or _RISKY_GIT_KEYS.match(key):
        w.add_opaque("git-config-command", label)
    if key.lower().endswith("proxy") and val:
        w.add_url(val, "git-proxy", default_scheme="http")


def _git_config(w: _Walker, call: _Call, sargs: Sequence[Word], cwds: list[str], gd: list[str],
                label: str) -> None:
    opts, pos = getopt(sargs, "f", ["--file", "--blob", "--type", "--default", "--comment",
                                    "--value", "--fixed-value"])
    texts = [o for o, _ in opts]
    reading = any(t in _GIT_CONFIG_READ_FLAGS for t in texts) or (
        len(pos) == 1 and not any(t in ("--unset", "--unset-all", "--remove-section",
                                        "--rename-section", "--add", "--replace-all", "-e",
                                        "--edit") for t in texts)
    ) or (pos and pos[0].text in ("get", "list"))
    files: list[Word] = _vals(opts, "-f", "--file")
    if "--global" in texts:
        files.append(Word("~/.gitconfig"))
    if "--system" in texts:
        files.append(Word("/etc/gitconfig"))
    if not files:
        suffix = "/config.worktree" if "--worktree" in texts else "/config"
        files = [Word(d + suffix) for d in gd]
    for f in files:
        w.add_path(f, "read" if reading else "write", call, cwds=cwds,
                   implicit=f.text not in [v.text for v in _vals(opts, "-f", "--file")])
    if not reading and len(pos) >= 2:
        key = pos[0].text
        if pos[0].text in ("set",) and len(pos) >= 3:
            key = pos[1].text
        if _RISKY_GIT_KEYS.match(key):
            w.add_opaque("git-config-command", label)


def _git_roots(w: _Walker, cwds: list[str], gd: list[str]) -> list[str]:
    """Repository roots (`HEAD:path` is relative to them)."""
    return [posixpath.dirname(d) if d.endswith("/.git") else d for d in gd] or cwds


def _git_dir(w: _Walker, cwds: list[str], git_dir: Word | None) -> list[str]:
    """The git directory for each possible cwd: --git-dir, else the nearest `.git` upwards."""
    if git_dir is not None:
        return [normalize(absolute(git_dir.text, c)) for c in cwds]
    out: list[str] = []
    for c in cwds:
        found = None
        d = c
        while True:
            candidate = "/.git" if d == "/" else d + "/.git"
            if w.resolver.resolve(candidate).exists:
                found = candidate
                break
            if d in ("/", CONTAINER_WORKSPACE) or not d.startswith(CONTAINER_WORKSPACE):
                break
            d = posixpath.dirname(d)
        out.append(found or (c.rstrip("/") + "/.git"))
    return _union([], out)


_REMOTE_SECTION = re.compile(r'^\s*\[\s*remote\s+"([^"]*)"\s*\]', re.MULTILINE)


def _git_remote_hosts(w: _Walker, gd: list[str], names: list[str] | None, label: str, *,
                      dynamic: bool = False) -> None:
    """Hosts of named remotes, read from the workspace's git config on the host."""
    wanted = names or ["origin"]
    for name in wanted:
        urls: list[str] = []
        for d in gd:
            urls.extend(_remote_urls(w, d, name))
        if urls:
            for u in urls:
                _git_url(w, Word(u), label)
        else:
            w.add_host(name, None, "git-remote-name", dynamic=dynamic)


def _remote_urls(w: _Walker, gitdir: str, name: str) -> list[str]:
    try:  # through WorkspaceFS, as the container sees it (masked: empty)
        text = w.resolver.read_text(gitdir + "/config", MAX_GIT_CONFIG_BYTES)
    except HostReadRefused:
        text = None
    if not text:
        return []
    urls: list[str] = []
    sections = list(_REMOTE_SECTION.finditer(text))
    for idx, m in enumerate(sections):
        if m.group(1) != name:
            continue
        end = sections[idx + 1].start() if idx + 1 < len(sections) else len(text)
        body = text[m.end() : end]
        body = body.split("\n[", 1)[0]
        for line in body.splitlines():
            k, eq, v = line.partition("=")
            if eq and k.strip().lower() in ("url", "pushurl"):
                urls.append(v.strip().strip('"'))
    return urls


def _git_url(w: _Walker, url: Word, label: str) -> None:
    t = url.text
    if t.startswith(("ext::", "fd::")) or "ext::" in t:
        w.add_opaque("git-config-command", label)
        return
    if "://" in t:
        w.add_url(t, "git-remote", dynamic=url.dynamic)
        return
    host = scp_remote(t)
    if host is not None:
        w.add_host(host, 22, "git-remote", dynamic=url.dynamic)
