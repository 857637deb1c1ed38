"""Interpreters: shells (``bash -c``, scripts, stdin), source, eval, trap, python,
perl and other inline-code interpreters."""

from __future__ import annotations

from runner.policy.shell.context import _Call
from runner.policy.shell.handlers.packages import _h_pip
from runner.policy.shell.handlers.writers import PYTHON_MODULES
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt


def _h_shell(w: _Walker, call: _Call) -> None:
    args = call.args
    opts: list[str] = []
    pos: list[Word] = []
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or not t.startswith(("-", "+")) or t in ("-", "--"):
            if t == "--":
                i += 1
            pos = list(args[i:])
            break
        if t.startswith("--"):
            if t in ("--rcfile", "--init-file") and i + 1 < len(args):
                i += 1
            opts.append(t)
        else:
            opts.append(t)
            if ("o" in t[1:] or "O" in t[1:]) and i + 1 < len(args):
                i += 1  # -o OPTION / -O SHOPT
        i += 1
    flags = "".join(o[1:] for o in opts if not o.startswith("--"))
    label = " ".join(a.text for a in call.argv)
    if "c" in flags:
        if pos:
            w.shell_string(pos[0], call, label)
        return
    if pos and "s" not in flags and pos[0].text != "-":
        script = pos[0]
        if script.procsub:
            w.add_opaque("process-substitution-script", label)
        elif script.dynamic:
            w.add_opaque("dynamic-source", label)
        else:
            w.add_path(script, "exec", call)
            w.run_script_file(script, call, same_shell=False, require_shebang=False)
        w.inferred_reads(call, pos[1:])
        return
    w.stdin_program(call, shell=True)


def _h_fish(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "cC", ["--command", "--init-command"])
    if _vals(opts, "-c", "--command", "-C", "--init-command"):
        w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
    elif pos:
        w.add_path(pos[0], "exec", call)
    else:
        w.stdin_program(call, shell=False)


def _h_source(w: _Walker, call: _Call) -> None:
    if not call.args:
        return
    target = call.args[0]
    label = " ".join(a.text for a in call.argv)
    if target.procsub:
        w.add_opaque("process-substitution-script", label)
    elif target.dynamic:
        w.add_opaque("dynamic-source", label)
    elif target.text in ("/dev/stdin", "-", "/proc/self/fd/0", "/dev/fd/0"):
        w.stdin_program(call, shell=True)
    else:
        w.add_path(target, "exec", call)
        w.run_script_file(target, call, same_shell=True, require_shebang=False)


def _h_trap(w: _Walker, call: _Call) -> None:
    _, pos = getopt(call.args)
    if not pos or pos[0].text in ("-", ""):
        return
    w.shell_string(pos[0], call, " ".join(a.text for a in call.argv))


def _interpreter(inline: tuple[str, ...], *, short_val: str = "", long_val: str = "",
                 bundle_inline: str = "") -> Handler:
    """Interpreters: inline program options are opaque; a script argument is executed."""

    def handler(w: _Walker, call: _Call) -> None:
        label = " ".join(a.text for a in call.argv)
        opts, pos = getopt(call.args, short_val + "".join(o[1] for o in inline if len(o) == 2),
                           long_val.split() + [o for o in inline if o.startswith("--")],
                           stop_at_positional=True)
        if _has(opts, *inline) or (bundle_inline and any(
            o[1] in bundle_inline for o, _ in opts if len(o) == 2
        )):
            w.add_opaque("inline-interpreter", label)
            return
        _interpreter_script(w, call, pos, label)

    return handler


def _interpreter_script(w: _Walker, call: _Call, pos: list[Word], label: str) -> None:
    """An interpreter's script argument (executed) and its arguments, or a script on stdin."""
    if pos and pos[0].text != "-":
        script = pos[0]
        if script.procsub:
            w.add_opaque("process-substitution-script", label)
        elif script.dynamic:
            w.add_opaque("dynamic-source", label)
        else:
            w.add_path(script, "exec", call)
        w.inferred_reads(call, pos[1:])
        return
    w.stdin_program(call, shell=False)


def _h_python(w: _Walker, call: _Call) -> None:
    label = " ".join(a.text for a in call.argv)
    opts, pos = getopt(call.args, "cmWXQ", ["--check-hash-based-pycs"], stop_at_positional=True)
    if _has(opts, "-c"):
        w.add_opaque("inline-interpreter", label)
        return
    module = _vals(opts, "-m")
    if module:
        mod = module[-1].text
        if mod == "pip":
            _h_pip(w, _Call("pip", [Word("pip"), *pos], call.ctx, call.stdin, call.depth, call.env))
        elif mod == "venv" or mod == "virtualenv":
            _, vpos = getopt(pos, "p", ["--prompt", "--python"])
            for p in vpos:
                w.add_path(p, "write", call)
        elif mod in PYTHON_MODULES and PYTHON_MODULES[mod] in w.registry.handlers:
            prog = PYTHON_MODULES[mod]  # python -m pytest/coverage/compileall ...: as the tool
            args = _module_args(call.args)
            w.registry.handlers[prog](
                w, _Call(prog, [Word(prog), *args], call.ctx, call.stdin, call.depth, call.env)
            )
        else:
            w.inferred_reads(call, pos)
        return
    _interpreter_script(w, call, pos, label)


def _module_args(args: list[Word]) -> list[Word]:
    """What follows ``-m MODULE`` (``-mMODULE``, ``-qm MODULE``): the module's own
    arguments, options included."""
    i = 0
    while i < len(args):
        t = args[i].text
        if args[i].dynamic or not t.startswith("-") or t == "-":
            return []
        if t.startswith("--"):
            i += 2 if t == "--check-hash-based-pycs" else 1
            continue
        for j, ch in enumerate(t[1:], start=1):
            if ch in "mcWX":
                attached = j + 1 < len(t)
                if ch == "m":
                    return list(args[i + 1 :] if attached else args[i + 2 :])
                if not attached:
                    i += 1  # the value of -W/-X is the next word
                break
        i += 1
    return []


def _h_perl(w: _Walker, call: _Call) -> None:
    _interpreter(("-e", "-E"), short_val="IMmdx", bundle_inline="eE")(w, call)


def _h_eval(w: _Walker, call: _Call) -> None:
    w.add_opaque("eval", " ".join(a.text for a in call.argv))
