"""Wrappers: programs that run another command (env, timeout, nice, sudo, xargs, exec,
command, watch, su, script, flock, strace, busybox, chroot ...)."""

from __future__ import annotations

import posixpath

from runner.policy.pathnames import absolute, normalize
from runner.policy.shell.context import _Call, _Ctx
from runner.policy.shell.producers import extend, pipeline_output
from runner.policy.shell.tables import _NO_FILE_PROGRAMS
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Bound, Word, _has, _vals, getopt


def _wrapper_target(
    w: _Walker, call: _Call, short_val: str, long_val: str = "", *, skip: int = 0
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    opts, pos = getopt(call.args, short_val, long_val.split(), stop_at_positional=True)
    return opts, pos[skip:]


def _h_env(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "uCS", ["--unset", "--chdir", "--split-string"],
                       stop_at_positional=True)
    env: dict[str, str] = {}
    while pos and "=" in pos[0].text and not pos[0].text.startswith("="):
        k, _, v = pos[0].text.partition("=")
        env[k] = v
        pos = pos[1:]
    w._env_hosts(env)
    ctx = call.ctx
    chdir = _vals(opts, "-C", "--chdir")
    if chdir:
        ctx = _cd_ctx(w, call, chdir[-1])
    split = _vals(opts, "-S", "--split-string")
    if split:
        rest = " ".join(_shell_quote(p.text) for p in pos)
        w.shell_string(split[-1].sub(f"{split[-1].text} {rest}".strip()), call, split[-1].text)
        return
    if not pos:
        w.environ_read(call)
        return
    w.inner(call, pos, "env", ctx=ctx, env=env)


def _shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _cd_ctx(w: _Walker, call: _Call, target: Word) -> _Ctx:
    ctx = call.ctx.copy()
    if target.dynamic:
        w.add_opaque("dynamic-cd", target.text)
        ctx.cwd_dynamic = True
    ctx.cwds = [normalize(absolute(target.text, c)) for c in ctx.cwds]
    return ctx


def _simple_wrapper(short_val: str, long_val: str = "", *, skip: int = 0) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        _, pos = _wrapper_target(w, call, short_val, long_val, skip=skip)
        w.inner(call, pos, call.name)
    return handler


def _h_time(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(w, call, "fo", "--format --output")
    for v in _vals(opts, "-o", "--output"):
        w.add_path(v, "write", call)
    w.inner(call, pos, call.name)


def _h_command(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(w, call, "")
    if _has(opts, "-v", "-V"):
        return  # a lookup, nothing runs
    w.inner(call, pos, call.name)


def _h_exec(w: _Walker, call: _Call) -> None:
    _, pos = _wrapper_target(w, call, "a")
    if not pos:
        w.add_opaque("exec-fd", " ".join(a.text for a in call.argv))
        return
    w.inner(call, pos, "exec")


def _h_sudo(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(
        w, call, "ugCDhprtTUR",
        "--user --group --close-from --chdir --host --prompt --role --type --command-timeout "
        "--other-user --chroot",
    )
    if _has(opts, "-l", "--list", "-v", "--validate", "-k", "-K", "-e", "--edit"):
        if _has(opts, "-e", "--edit"):
            for p in pos:
                w.add_path(p, "write", call)
        return
    ctx = call.ctx
    chdir = _vals(opts, "-D", "--chdir")
    if chdir:
        ctx = _cd_ctx(w, call, chdir[-1])
    if _has(opts, "-s", "--shell", "-i", "--login"):
        if pos:
            w.shell_string(Word(" ".join(_shell_quote(p.text) for p in pos),
                                any(p.dynamic for p in pos)), call, " ".join(p.text for p in pos))
        else:
            w.stdin_program(call, shell=True)
        return
    w.inner(call, pos, call.name, ctx=ctx)


_XARGS_ADVICE = "list the files in the command, not via xargs: "


def _h_xargs(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(
        call.args, "adEIiLlnPs",
        ["--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args",
         "--max-procs", "--max-chars", "--process-slot-var"],
        stop_at_positional=True,
    )
    arg_files = _vals(opts, "-a", "--arg-file")
    for v in arg_files:
        w.add_path(v, "read", call)
    if not pos:
        pos = [Word("echo")]
    name = posixpath.basename(pos[0].text.rstrip("/")) or pos[0].text
    bound = _xargs_input(w, call, exact=_has(opts, "-0", "--null", "-d", "--delimiter"))
    if arg_files:
        bound = None
    if bound is None and (pos[0].dynamic or name not in _NO_FILE_PROGRAMS):
        # the program gets names that come from data (stdin, -a FILE): not knowable here
        w.add_opaque("xargs-dynamic-args", _XARGS_ADVICE + " ".join(a.text for a in call.argv))
    repl = _vals(opts, "-I", "--replace", "-i")
    if repl or _has(opts, "-i", "--replace"):
        token = repl[-1].text if repl else "{}"
        pos = [pos[0]] + [_item(p, token, bound) if token in p.text else p for p in pos[1:]]
    else:
        pos = [*pos, Word("{}", True, bound=bound)]  # the items read from stdin
    w.execute(pos, call.ctx, None, call.depth + 1, call.env, "xargs")


def _xargs_input(w: _Walker, call: _Call, *, exact: bool) -> Bound | None:
    """The items xargs reads, when a bounded producer pipes them (paths under its roots)."""
    s = call.stdin
    if s is None or s.kind != "pipe":
        return None
    # the upstream commands as recorded (texts): a dynamic word keeps its `$`, which
    # pipeline_output refuses in roots and name tests
    commands = [(program, [Word(t) for t in argv[1:]]) for program, argv in s.upstream]
    bound = pipeline_output(commands)
    if bound is None or (not exact and not w.names_plain(bound, call.ctx.cwds)):
        return None
    return bound


def _item(arg: Word, token: str, bound: Bound | None) -> Word:
    """An argument holding xargs' replace string: a path under the roots when the string
    starts it and what follows has no ``/``."""
    head, _, tail = arg.text.partition(token)
    if bound is None or head or token in tail:
        return Word(arg.text, True)
    return Word(arg.text, True, bound=extend(bound, tail))


def _h_watch(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args, "nqd", ["--interval", "--differences"], stop_at_positional=True)
    if pos:
        w.shell_string(Word(" ".join(p.text for p in pos), any(p.dynamic for p in pos)),
                       call, " ".join(p.text for p in pos))


def _h_su(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cgGsw", ["--command", "--group", "--shell",
                                            "--supp-group", "--whitelist-environment"])
    cmd = _vals(opts, "-c", "--command")
    if cmd:
        w.shell_string(cmd[-1], call, cmd[-1].text)
    elif call.name == "runuser" and len(pos) > 1:
        w.inner(call, pos[1:], call.name)
    else:
        w.stdin_program(call, shell=True)


def _h_script(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cEIOTtm", ["--command", "--log-in", "--log-out",
                                              "--log-timing", "--echo", "--logging-format"])
    for c in _vals(opts, "-c", "--command"):
        w.shell_string(c, call, c.text)
    for p in pos:
        w.add_path(p, "write", call)


def _h_flock(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "wEc", ["--timeout", "--conflict-exit-code", "--command"],
                       stop_at_positional=True)
    if pos:
        w.add_path(pos[0], "write", call)
    for c in _vals(opts, "-c", "--command"):
        w.shell_string(c, call, c.text)
    if len(pos) > 1:
        w.inner(call, pos[1:], "flock")


def _h_strace(w: _Walker, call: _Call) -> None:
    opts, pos = _wrapper_target(w, call, "abeEIOopPsSuUX", "--output --trace --signal")
    for v in _vals(opts, "-o", "--output"):
        w.add_path(v, "write", call)
    w.inner(call, pos, call.name)


def _h_busybox(w: _Walker, call: _Call) -> None:
    if call.args:
        w.inner(call, call.args, "busybox")


def _h_opaque(construct: str) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        w.add_opaque(construct, " ".join(a.text for a in call.argv))
    return handler
