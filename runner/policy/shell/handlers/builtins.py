"""Shell builtins that change or dump the shell state: cd/pushd/popd, read/printf -v/...,
alias, set, printenv, compgen."""

from __future__ import annotations

from runner.policy.pathnames import CONTAINER_HOME, absolute, normalize
from runner.policy.shell.context import _Call, _union
from runner.policy.shell.producers import pipeline_output
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Bound, Word, _has, _vals, getopt


def _h_cd(w: _Walker, call: _Call) -> None:
    ctx = call.ctx
    _, pos = getopt(call.args)
    name = call.name
    if name == "popd":
        if ctx.dirstack:
            ctx.oldpwd = ctx.cwds
            ctx.cwds = ctx.dirstack.pop()
        else:
            w.add_opaque("dynamic-cd", "popd")
            ctx.cwd_dynamic = True
        return
    if not pos:
        if name == "pushd":
            return
        target = Word(CONTAINER_HOME)
    else:
        target = pos[0]
    if target.text == "-" and not target.dynamic:
        if ctx.oldpwd is None:
            w.add_opaque("dynamic-cd", "cd -")
            ctx.cwd_dynamic = True
            return
        ctx.cwds, ctx.oldpwd = ctx.oldpwd, ctx.cwds
        return
    if target.dynamic:
        w.add_opaque("dynamic-cd", " ".join(a.text for a in call.argv))
        ctx.cwd_dynamic = True
    new = [normalize(absolute(target.text, c)) for c in ctx.cwds]
    may_fail = target.dynamic or not all(w.resolver.is_directory(n) is True for n in new)
    if name == "pushd":
        ctx.dirstack.append(list(ctx.cwds))
    ctx.oldpwd = list(ctx.cwds)
    if may_fail:
        ctx.fail = _union(ctx.fail, ctx.cwds)
    ctx.cwds = _union([], new)
    ctx.cap()


def _h_sets_vars(w: _Walker, call: _Call) -> None:
    """Builtins that assign variables: those variables are unknown from here on."""
    name = call.name
    ctx = call.ctx
    if name == "read":
        opts, pos = getopt(call.args, "adinNptu")
        names = [p.text for p in pos] + [v.text for v in _vals(opts, "-a")]
        names = names or ["REPLY"]
    elif name in ("mapfile", "readarray"):
        opts, pos = getopt(call.args, "dnOsuCc")
        names = [p.text for p in pos[-1:]] or ["MAPFILE"]
        for cb in _vals(opts, "-C"):
            w.shell_string(cb, call, cb.text)
    elif name == "printf":
        opts, _ = getopt(call.args, "v", stop_at_positional=True)
        names = [v.text for v in _vals(opts, "-v")]
    elif name == "getopts":
        names = [a.text for a in call.args[1:2]]
    else:  # let
        names = [a.text.partition("=")[0].strip("+-*/%<>&|^") for a in call.args]
    for n in names:
        ctx.vars[n.partition("[")[0]] = None
        ctx.bounds.pop(n.partition("[")[0], None)
    if name == "read" and len(names) == 1 and "[" not in names[0]:
        # `find backend -name x | while read -r f`: each line is a path under the roots
        opts, _ = getopt(call.args, "adinNptu")
        bound = _piped_paths(w, call)
        if bound is not None and not _has(opts, "-a", "-n", "-N"):
            ctx.bounds[names[0]] = bound


def _h_alias(w: _Walker, call: _Call) -> None:
    """``alias x='cmd'``: the body is a command that may run later, so it is analysed."""
    for a in call.args:
        _, eq, body = a.text.partition("=")
        if eq:
            w.shell_string(a.sub(body), call, a.text)


def _h_set(w: _Walker, call: _Call) -> None:
    if not call.args:
        w.environ_read(call)


def _h_printenv(w: _Walker, call: _Call) -> None:
    """``printenv`` alone dumps the environment; ``printenv NAME`` prints one variable, as
    ``echo $NAME`` does. A name only known when the command runs may be many names."""
    _, names = getopt(call.args)
    if not names or any(n.dynamic for n in names):
        w.environ_read(call)


def _h_compgen(w: _Walker, call: _Call) -> None:
    if any(a.text in ("-e", "-v", "-A") for a in call.args):
        w.environ_read(call)


def _piped_paths(w: _Walker, call: _Call) -> Bound | None:
    """What a bounded producer pipes into this command, one path per line (None: unknown)."""
    s = call.stdin
    if s is None or s.kind != "pipe":
        return None
    bound = pipeline_output([(p, [Word(t) for t in argv[1:]]) for p, argv in s.upstream])
    if bound is None or not w.names_plain(bound, call.ctx.cwds):
        return None
    return bound
