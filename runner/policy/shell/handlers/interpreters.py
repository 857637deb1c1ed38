"""Interpreters: shells (``bash -c``, scripts, stdin), source, eval, trap, python,
perl and other inline-code interpreters."""

from __future__ import annotations

import posixpath

from runner.policy.shell.context import _Call
from runner.policy.shell.handlers.packages import _h_pip
from runner.policy.shell.handlers.python import (
    analyse_python,
    python_file,
    python_module,
    python_stdin,
    python_tool_module,
)
from runner.policy.shell.handlers.writers import PYTHON_MODULES
from runner.policy.shell.tables import SHELLS, _family
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt


def _h_shell(w: _Walker, call: _Call) -> None:
    args = call.args
    opts: list[str] = []
    pos: list[Word] = []
    startup: list[Word] = []  # files the new shell sources before anything else
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
                startup.append(args[i])
            opts.append(t)
        else:
            opts.append(t)
            if ("o" in t[1:] or "O" in t[1:]) and i + 1 < len(args):
                i += 1  # -o OPTION / -O SHOPT
        i += 1
    flags = "".join(o[1:] for o in opts if not o.startswith("--"))
    label = " ".join(a.text for a in call.argv)
    if "BASH_ENV" in call.env or "BASH_ENV" in call.ctx.vars:
        value = call.env.get("BASH_ENV", call.ctx.vars.get("BASH_ENV"))
        if value is None or "$" in value or "`" in value:
            startup.append(Word("$BASH_ENV", True))
        elif value:
            startup.append(Word(value))
    for f in startup:  # --rcfile FILE, $BASH_ENV: sourced by the new shell first
        if f.dynamic or f.procsub:
            w.add_opaque("dynamic-source", label)
        elif f.text:
            w.add_path(f, "exec", call)
            run_shell_script(w, call, f, same_shell=False)
    if "c" in flags:
        if pos:
            w.shell_string(pos[0], call, label)
        return
    if pos and "s" not in flags and pos[0].text != "-":
        script = pos[0]
        if _script_operand(w, call, script, label) and "n" not in flags:
            run_shell_script(w, call, script, same_shell=False)  # -n: syntax only, nothing runs
        w.inferred_reads(call, pos[1:])
        return
    if "n" not in flags:
        w.stdin_program(call, shell=True)


def run_shell_script(w: _Walker, call: _Call, script: Word, *, same_shell: bool) -> None:
    """A file given to a shell (``bash FILE``, ``source FILE``): shell, whatever its shebang
    says (the shell does not look at it)."""
    text = w.script_text(script, call)
    if text is None:
        return
    if "\x00" in text:
        return  # bash refuses a binary file ("cannot execute binary file")
    w.run_shell_file(text, call, same_shell=same_shell, name=script.text)


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
        run_shell_script(w, call, target, same_shell=True)


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
        _script_operand(w, call, pos[0], label)
        w.inferred_reads(call, pos[1:])
        return
    w.stdin_program(call, shell=False)


def _script_operand(w: _Walker, call: _Call, script: Word, label: str) -> bool:
    """A script an interpreter is given: opaque when it is a process substitution or only
    known at run time, else an executed path. True when it is a literal file."""
    if script.procsub:
        w.add_opaque("process-substitution-script", label)
        return False
    if script.dynamic:
        w.add_opaque("dynamic-source", label)
        return False
    w.add_path(script, "exec", call)
    return True


def _h_python(w: _Walker, call: _Call) -> None:
    """Python: the code it runs (``-c``, a script, stdin, a workspace module) is analysed
    (:mod:`.python`)."""
    label = " ".join(a.text for a in call.argv)
    kind, value, pos = _python_options(call.args)
    if kind == "-c":
        if value is None:
            return  # `python -c` without code: an error, nothing runs
        if value.dynamic or value.procsub:
            w.add_opaque("inline-interpreter", label)
        else:
            analyse_python(w, call, value.text, [Word("-c"), *pos])
        return
    if kind == "-m":
        if value is None:
            return
        mod = value.text
        if value.dynamic:
            w.add_opaque("dynamic-source", label)
        elif python_module(w, call, mod, pos) or python_tool_module(w, call, mod, pos):
            pass  # a module file of the workspace, or a script/statements it runs: analysed
        elif mod == "pip":
            _h_pip(w, _Call("pip", [Word("pip"), *pos], call.ctx, call.stdin, call.depth, call.env))
        elif mod == "venv" or mod == "virtualenv":
            _, vpos = getopt(pos, "p", ["--prompt", "--python"])
            for p in vpos:
                w.add_path(p, "write", call)
        elif mod in PYTHON_MODULES and PYTHON_MODULES[mod] in w.registry.handlers:
            prog = PYTHON_MODULES[mod]  # python -m pytest/coverage/compileall ...: as the tool
            w.registry.handlers[prog](
                w, _Call(prog, [Word(prog), *pos], call.ctx, call.stdin, call.depth, call.env)
            )
        else:
            w.inferred_reads(call, pos)
        return
    if pos and pos[0].text not in _STDIN_NAMES:
        script = pos[0]
        if script.procsub:
            w.add_opaque("process-substitution-script", label)
        elif script.dynamic:
            w.add_opaque("dynamic-source", label)
        else:
            w.add_path(script, "exec", call)
            python_file(w, call, script, pos[1:])
        w.inferred_reads(call, pos[1:])
        return
    python_stdin(w, call, pos[1:])


_STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


def _python_options(args: list[Word]) -> tuple[str, Word | None, list[Word]]:
    """The interpreter's own options end at ``-c CODE``, ``-m MODULE`` or the script: what
    follows belongs to the program. Returns ("-c"/"-m"/"", its value, the rest)."""
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or a.procsub or not t.startswith("-") or t == "-":
            break
        i += 1
        if t == "--":
            break
        if t.startswith("--"):
            if t == "--check-hash-based-pycs":
                i += 1
            continue
        for j in range(1, len(t)):
            c = t[j]
            if c in "cmWX":
                attached = t[j + 1:]
                value = a.sub(attached) if attached else (args[i] if i < len(args) else None)
                if not attached:
                    i += 1
                if c in "cm":
                    return "-" + c, value, list(args[i:])
                break
    return "", None, list(args[i:])


def _h_eval(w: _Walker, call: _Call) -> None:
    w.add_opaque("eval", " ".join(a.text for a in call.argv))


# programs a shebang may name whose scripts are analysed (any other interpreter is opaque)
_SHEBANG_FAMILIES = SHELLS | {"python", "make", "gmake"}


def _h_run_file(w: _Walker, call: _Call) -> None:
    """A program run by its path (``./x.sh``, ``exec backend/run``): the kernel reads its
    first line. ``#!`` names the interpreter, run as ``interpreter [arg] FILE ARGS...``
    (that command is analysed: a shell or Python reads the file, ``make -f`` its rules);
    another interpreter is opaque. Without ``#!`` a text file is run by the shell; a
    binary in the workspace is opaque (its code cannot be read)."""
    prog = call.argv[0]
    text = w.script_text(prog, call)
    if text is None:
        return
    label = " ".join(a.text for a in call.argv)
    if not text.startswith("#!"):
        if "\x00" in text:
            w.add_opaque("binary-program", f"{prog.text} is a binary: its code cannot be read; "
                         "run a script or a system program")
            return
        w.run_shell_file(text, call, same_shell=False, name=prog.text)
        return
    line = text[2:].split("\n", 1)[0].strip().rstrip("\r").strip()
    parts = line.split(None, 1)
    if not parts:
        return  # `#!` alone: execve fails (ENOEXEC), then bash runs it as a shell script
    interp = parts[0]
    arg = parts[1].strip() if len(parts) > 1 else ""
    program = _shebang_program(interp, arg)
    if program is None or _family(program) not in _SHEBANG_FAMILIES:
        w.add_opaque("script-interpreter", f"{prog.text} is run by `{line}`, not analysed; "
                     f"run a shell or Python script instead ({label})")
        return
    argv = [Word(interp), *([Word(arg)] if arg else []), prog, *call.args]
    w.execute(argv, call.ctx, call.stdin, call.depth + 1, call.env, "shebang")


def _shebang_program(interp: str, arg: str) -> str | None:
    """The program a shebang line runs: its interpreter, or the one ``env`` runs (the
    kernel gives ``env`` the rest of the line as one argument; only ``-S`` splits it).
    None: nothing recognisable runs."""
    name = posixpath.basename(interp)
    if name != "env":
        return name
    if arg.startswith(("-S", "--split-string")):
        rest = arg[2:] if arg.startswith("-S") else arg[len("--split-string"):].lstrip("=")
        words = rest.split()
        i = 0
        while i < len(words):
            t = words[i]
            if t in ("-u", "--unset", "-C", "--chdir"):
                i += 2
            elif t.startswith("-") or ("=" in t and not t.startswith("=")):
                i += 1
            else:
                return posixpath.basename(t)
        return None
    if not arg or arg.startswith("-") or "=" in arg or any(c.isspace() for c in arg):
        return None
    return posixpath.basename(arg)
