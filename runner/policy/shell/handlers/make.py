"""make: the recipe lines a ``make`` command runs, analysed as shell.

The makefile is read from the workspace through the resolver (as scripts are: never
opened another way; written earlier in the same command, too large or unreadable is
opaque), parsed by :mod:`runner.policy.shell.makefile`, and each recipe line the goals
reach is analysed as a shell command run in the make directory (a new shell per line,
or one for the whole recipe under ``.ONESHELL``). Under ``-n``/``-q`` only ``+`` lines
and ``$(MAKE)`` lines run; ``-t`` writes the goals instead. A goal no rule makes may be
built by make's built-in rules: a write of that name in the make directory.
"""

from __future__ import annotations

from runner.policy.pathnames import absolute, normalize
from runner.policy.shell.context import _Call
from runner.policy.shell.makefile import MAX_RECIPE_LINES, Makefile, Opaque
from runner.policy.shell.walker import _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt

MAX_MAKE_RUNS = 8  # make invocations analysed per command (recursive make included)
_DEFAULT_NAMES = ("GNUmakefile", "makefile", "Makefile")


def _h_make(w: _Walker, call: _Call) -> None:
    label = " ".join(a.text for a in call.argv)
    opts, pos = getopt(call.args, "CfIWoE", ["--directory", "--file", "--makefile",
                                             "--include-dir", "--what-if", "--new-file",
                                             "--assume-new", "--old-file", "--assume-old",
                                             "--eval"])
    if _has(opts, "--eval", "-E"):
        w.add_opaque("inline-interpreter", label)
    dirs = _vals(opts, "-C", "--directory")
    files = _vals(opts, "-f", "--file", "--makefile")
    if any(d.dynamic for d in dirs) or any(f.dynamic or f.text == "-" for f in files):
        w.add_opaque("make-dynamic-argument", label)
        return
    make_dirs: list[str] = []
    for c in call.ctx.cwds:
        d = c
        for x in dirs:  # -C is cumulative: -C a -C b is a/b
            d = normalize(absolute(x.text, d))
        if d not in make_dirs:
            make_dirs.append(d)
    cwds = make_dirs if dirs else None
    for f in files:
        w.add_path(f, "exec", call, cwds=cwds)
    if not files:
        w.add_path(Word("Makefile"), "exec", call, cwds=cwds, implicit=True)
    if _has(opts, "-v", "--version", "-h", "--help"):
        return
    goals: list[str] = []
    command_vars: dict[str, str] = {}
    for p in pos:
        if p.dynamic:
            w.add_opaque("make-dynamic-argument", label)
            return
        name, eq, value = p.text.partition("=")
        if eq and name and not name.startswith("-"):
            command_vars[name.rstrip(":").strip()] = value
        elif not p.text.isdigit():  # `-j 4`: the job count
            goals.append(p.text)
    if _has(opts, "-e", "--environment-overrides"):
        command_vars = {**call.env, **command_vars}
    runs = w.budgets.get("make", 0) + 1
    w.budgets["make"] = runs
    if runs > MAX_MAKE_RUNS:
        w.add_opaque("make-too-deep", f"more than {MAX_MAKE_RUNS} make invocations to follow")
        return
    for d in make_dirs:
        _run(w, call, d, files, goals, command_vars, opts, label)


def _run(w: _Walker, call: _Call, directory: str, files: list[Word], goals: list[str],
         command_vars: dict[str, str], opts: list[tuple[str, Word | None]], label: str) -> None:
    names: list[str] = []
    texts: list[str] = []
    for f in files or [Word(n) for n in _DEFAULT_NAMES]:
        text = w.script_text(f, call, cwd=directory)
        if text is None:
            if w.written_before(f.text, directory):
                return  # opaque already
            continue
        names.append(f.text)
        texts.append(text)
        if not files:
            break  # make reads the first default name that exists
    mk = Makefile(directory=directory, names=names, command_vars=command_vars,
                  env=dict(call.env), goals_given=list(goals))
    dry = _has(opts, "-n", "--just-print", "--dry-run", "--recon", "-q", "--question")
    touch = _has(opts, "-t", "--touch")
    if not w.charge(sum(len(t) for t in texts) // 16, f"the makefile in {directory}"):
        return
    try:
        for text in texts:
            mk.read(text)
        lines, unmade = mk.recipes(goals, no_builtin_rules=_has(opts, "-r", "--no-builtin-rules"))
    except Opaque as exc:
        w.add_opaque(exc.construct, f"{exc.text} ({label})")
        return
    if touch:
        for g in goals or ([mk.first_target] if mk.first_target else []):
            w.add_path(Word(g), "write", call, cwds=[directory])
    for t in unmade:
        res = w.resolver.resolve(absolute(t, directory))
        if not res.exists:
            w.add_path(Word(t), "write", call, cwds=[directory], inferred=True)
    for line in lines[:MAX_RECIPE_LINES]:
        if (dry or touch) and not line.forced:
            continue
        ctx = call.ctx.child_shell()
        ctx.cwds = [directory]
        w.run_script(line.text, ctx, call.depth + 1)
