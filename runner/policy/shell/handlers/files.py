"""File programs: the :data:`FILE_PROGRAMS` option tables (:class:`FileSpec`) and the
programs with their own argument rules (find, sed, cp/mv, ln, install, dd, tar, unzip,
zip, cpio, patch, mktemp; awk and make have their own modules)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.hostfs import HostReadRefused
from runner.policy.models import PathOp
from runner.policy.pathnames import absolute, normalize
from runner.policy.patterns import fnmatch_name
from runner.policy.shell.context import _Call
from runner.policy.shell.expansion import ALL, NO_LINKS, Recursion
from runner.policy.shell.producers import _find_filter, extend, mktemp_target
from runner.policy.shell.tables import _NO_FILE_PROGRAMS
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Bound, Word, _has, _vals, getopt


@dataclass(frozen=True)
class FileSpec:
    """How a file program treats its operands."""

    op: PathOp
    short_val: str = ""
    long_val: frozenset[str] = frozenset()
    skip_first: bool = False  # the first positional is not a file (pattern, mode, owner ...)
    skip_first_unless: frozenset[str] = frozenset()  # ... unless one of these options is given
    read_opts: frozenset[str] = frozenset()  # options whose value is a file read
    write_opts: frozenset[str] = frozenset()  # options whose value is a file written
    write_flags: frozenset[str] = frozenset()  # flags that make the operands writes (sed -i)
    read_flags: frozenset[str] = frozenset()  # flags that make the operands reads (gzip -c)
    first_only: bool = False  # only the first positional is a file (mknod)
    second_writes: bool = False  # IN [OUT]: the second positional is written (uniq, xxd)
    # how the program reads directories it is given (grep -r), None: not recursively
    recurse: Callable[[_Call, list[tuple[str, Word | None]]], Recursion | None] | None = None


def _fs(op: PathOp, short_val: str = "", long_val: str = "", **kw: object) -> FileSpec:
    conv: dict[str, object] = {}
    for k, v in kw.items():
        conv[k] = frozenset(str(v).split()) if isinstance(v, str) else v
    return FileSpec(op, short_val, frozenset(long_val.split()), **conv)  # type: ignore[arg-type]


def _name_filter(values: Sequence[Word]) -> Callable[[str], bool] | None:
    """Keep names matching any of the globs (None: unknown, keep everything)."""
    patterns = [v.text for v in values]
    if not patterns or any("$" in p or "`" in p or "/" in p for p in patterns):
        return None
    return lambda name: any(fnmatch_name(p, name) for p in patterns)


def _grep_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    if not (
        call.name == "rgrep"
        or _has(opts, "-r", "-R", "--recursive", "--dereference-recursive")
        or any(v.text == "recurse" for v in _vals(opts, "-d", "--directories"))
    ):
        return None
    # -r follows symbolic links only on the command line, -R all of them
    follow = call.name == "rgrep" or _has(opts, "-R", "--dereference-recursive")
    return Recursion(follow=follow, keep=_name_filter(_vals(opts, "--include")))


def _rg_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    if _has(opts, "--files", "--type-list"):
        return None  # lists names, reads no file
    names = [o for o, _ in opts]
    config = "RIPGREP_CONFIG_PATH" in call.env  # a config file may add any flag
    hidden = (
        config or _has(opts, "--hidden", "-.")
        or names.count("-u") + names.count("--unrestricted") >= 2
    )
    return Recursion(hidden=hidden, follow=config or _has(opts, "-L", "--follow"))


def _ag_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    hidden = _has(opts, "--hidden", "-u", "--unrestricted")
    return Recursion(hidden=hidden, follow=_has(opts, "-f", "--follow"))


def _ack_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    if _has(opts, "-n", "--no-recurse"):
        return None
    return ALL if _has(opts, "--follow") else NO_LINKS


def _diff_recursion(call: _Call, opts: list[tuple[str, Word | None]]) -> Recursion | None:
    return ALL if _has(opts, "-r", "--recursive") else None


_READ = _fs("read")
_GREP = _fs(
    "read", "efABCmdD",
    "--regexp --file --after-context --before-context --context --max-count --include "
    "--exclude --exclude-from --exclude-dir --label --devices --directories --binary-files "
    "--group-separator",
    skip_first=True, skip_first_unless="-e -f --regexp --file", read_opts="-f --file --exclude-from",
    recurse=_grep_recursion,
)
_RG = _fs(
    "read", "efgtTjmMACrEd",
    "--regexp --file --glob --iglob --type --type-not --threads --max-count --max-columns "
    "--after-context --before-context --context --replace --encoding --max-depth --type-add "
    "--ignore-file --pre --pre-glob --sort --sortr --max-filesize --path-separator --colors",
    skip_first=True, skip_first_unless="-e -f --regexp --file --files --type-list",
    read_opts="-f --file --ignore-file", recurse=_rg_recursion,
)
_WRITE = _fs("write")
FILE_PROGRAMS: dict[str, FileSpec] = {
    **{p: _READ for p in ["cat", "tac", "nl", "strings", "base32", "basenc", "md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "sum", "file", "stat", "less", "more", "most", "wc", "cmp", "comm", "paste", "rev", "zcat", "bzcat", "xzcat", "zless", "zmore", "bat", "batcat", "view", "lsattr", "getfacl", "readlink", "realpath", "tsort", "expand", "unexpand", "fmt", "fold", "look", "hd", "md5", "shasum", "sha1", "dos2unix-check"]},
    "base64": _fs("read", "w", "--wrap"),
    "od": _fs("read", "AtNjw", "--address-radix --format --read-bytes --skip-bytes --width"),
    "hexdump": _fs("read", "nsef", read_opts="-f"),
    "xxd": _fs("read", "cglso", "--cols --groupsize --len --seek", second_writes=True),
    "head": _fs("read", "nc", "--lines --bytes"),
    "tail": _fs("read", "ncsF", "--lines --bytes --sleep-interval --pid --max-unchanged-stats"),
    "ls": _fs("read", "ITw", "--ignore --hide --tabsize --width --format --sort --time --color"),
    "dir": _fs("read", "ITw"),
    "tree": _fs("read", "LIPo", "--filelimit --charset", write_opts="-o"),
    "du": _fs("read", "dBt", "--max-depth --block-size --threshold --exclude --exclude-from",
              read_opts="--exclude-from -X"),
    "diff": _fs("read", "UCxXIFL", "--unified --context --exclude --exclude-from --label "
                "--ignore-matching-lines --show-function-line --from-file --to-file",
                read_opts="-X --exclude-from --from-file --to-file", recurse=_diff_recursion),
    "diff3": _fs("read", "L", "--label"),
    "sdiff": _fs("read", "ow", "--output --width", write_opts="-o --output"),
    "cut": _fs("read", "dfbc", "--delimiter --fields --bytes --characters --output-delimiter"),
    "column": _fs("read", "sctoNR"),
    "join": _fs("read", "t12joe"),
    "sort": _fs("read", "koStT", "--key --output --buffer-size --field-separator "
                "--temporary-directory --parallel --files0-from --random-source",
                write_opts="-o --output", read_opts="--files0-from --random-source"),
    "uniq": _fs("read", "fsw", "--skip-fields --skip-chars --check-chars", second_writes=True),
    "shuf": _fs("read", "nio", "--head-count --input-range --output --random-source",
                write_opts="-o --output"),
    "iconv": _fs("read", "fto", "--from-code --to-code --output", write_opts="-o --output"),
    "pr": _fs("read", "hlwoNsSeinTD"),
    "grep": _GREP, "egrep": _GREP, "fgrep": _GREP, "rgrep": _GREP, "zgrep": _GREP,
    "rg": _RG, "ag": _fs("read", "ABCGgmp", "--file-search-regex --ignore --depth --pager",
                         skip_first=True, recurse=_ag_recursion),
    "ack": _fs("read", "ABCm", "--type --ignore-dir --ignore-file", skip_first=True,
               recurse=_ack_recursion),
    "jq": _fs("read", "fL", "--from-file --arg --argjson --slurpfile --rawfile --indent --args",
              skip_first=True, skip_first_unless="-f --from-file", read_opts="-f --from-file"),
    "yq": _fs("read", "I", "--indent --output-format --input-format",
              skip_first=True, skip_first_unless="-f --from-file"),
    **{p: _WRITE for p in ["rm", "rmdir", "unlink", "tee", "sponge", "vi", "vim", "nvim", "nano", "emacs", "ed", "ex", "pico", "micro", "joe", "dos2unix", "unix2dos"]},
    "touch": _fs("write", "drt", "--date --reference", read_opts="-r --reference"),
    "mkdir": _fs("write", "m", "--mode --context"),
    "shred": _fs("write", "ns", "--iterations --size --random-source"),
    "truncate": _fs("write", "sr", "--size --reference", read_opts="-r --reference"),
    "mkfifo": _fs("write", "mZ", "--mode"),
    "mknod": _fs("write", "mZ", "--mode", first_only=True),
    "chmod": _fs("write", "", "--reference", skip_first=True,
                 skip_first_unless="--reference", read_opts="--reference"),
    "chown": _fs("write", "", "--reference --from", skip_first=True,
                 skip_first_unless="--reference", read_opts="--reference"),
    "chgrp": _fs("write", "", "--reference", skip_first=True,
                 skip_first_unless="--reference", read_opts="--reference"),
    "chattr": _fs("write", "pv", skip_first=True),
    "setfacl": _fs("write", "mMxX", "--modify --modify-file --remove --remove-file --set "
                   "--set-file", read_opts="-M -X --modify-file --remove-file --set-file"),
    "rename": _fs("write", "", skip_first=True),
    "prename": _fs("write", "", skip_first=True),
    # (de)compressors write next to each input (or -o FILE): the input's name stands for it
    "gzip": _fs("write", "S", "--suffix", read_flags="-c --stdout --to-stdout -l --list -t --test"),
    **{p: _fs("write", "S", "--suffix", read_flags="-c --stdout --to-stdout -l --list -t --test")
       for p in ["gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "unlzma", "compress", "uncompress"]},
    **{p: _fs("write", "SoTBL", "--suffix --output --threads", write_opts="-o --output",
              read_flags="-c --stdout --to-stdout -l --list -t --test")
       for p in ["zstd", "unzstd", "zstdmt", "lz4", "unlz4", "pigz", "unpigz"]},
}


def _file_program(w: _Walker, call: _Call, spec: FileSpec) -> None:
    opts, pos = getopt(call.args, spec.short_val, spec.long_val)
    op = spec.op
    if spec.write_flags and _has(opts, *spec.write_flags):
        op = "write"
    if spec.read_flags and _has(opts, *spec.read_flags):
        op = "read"
    for v in _vals(opts, *spec.read_opts):
        w.add_path(v, "read", call)
    for v in _vals(opts, *spec.write_opts):
        w.add_path(v, "write", call)
    if spec.skip_first and pos and not (spec.skip_first_unless and _has(opts, *spec.skip_first_unless)):
        pos = pos[1:]
    if spec.first_only:
        pos = pos[:1]
    if spec.second_writes and len(pos) >= 2:
        w.add_path(pos[1], "write", call)
        for extra in pos[2:]:
            w.add_path(extra, "read", call, inferred=True)
        pos = pos[:1]
    recursive = spec.recurse(call, opts) if spec.recurse is not None else None
    if recursive is not None and not pos and not (call.name in ("rg", "ag", "ack") and call.stdin):
        pos = [Word(".")]  # grep -r, rg ... without a path search the working directory
    for p in pos:
        w.add_path(p, op, call, recursive=recursive)


_FILE_LIST_ADVICE = "list the files in the command, not via stdin: "


def _h_find(w: _Walker, call: _Call) -> None:
    args = call.args
    starts: list[Word] = []
    i = 0
    while i < len(args) and args[i].text in ("-H", "-L", "-P") and not args[i].dynamic:
        i += 1
    while i < len(args) and not (args[i].text.startswith(("-", "(", "!", ",")) and not args[i].dynamic):
        starts.append(args[i])
        i += 1
    if not starts:
        starts = [Word(".")]
    for s in starts:
        w.add_path(s, "read", call)
    expr = args[i:]
    j = 0
    while j < len(expr):
        t = expr[j].text
        if t in ("-exec", "-execdir", "-ok", "-okdir"):
            k = j + 1
            while k < len(expr) and expr[k].text not in (";", "+"):
                k += 1
            inner = expr[j + 1 : k]
            keep, keep_dirs = _find_filter(expr[:j])
            prog = inner[0] if inner else None
            if prog is not None and any("{}" in a.text for a in inner[1:]) and (
                prog.dynamic or posixpath.basename(prog.text) not in _NO_FILE_PROGRAMS
            ):
                # the program gets every file the expression selects under each start
                for s in starts:
                    name = posixpath.basename(s.text.rstrip("/")) or s.text
                    top = keep is None or (keep_dirs and keep(name))
                    how = ALL if top else Recursion(keep=keep, keep_dirs=keep_dirs)
                    w.add_path(s, "read", call, recursive=how)
            for s in starts:
                argv = [_found(a, s, keep, keep_dirs) if "{}" in a.text else a for a in inner]
                if argv:
                    w.execute(argv, call.ctx, None, call.depth + 1, call.env, "find")
            j = k + 1
            continue
        if t == "-delete":
            for s in starts:
                keep, keep_dirs = _find_filter(expr[:j])
                w.add_path(_found(Word("{}"), s, keep, keep_dirs), "write", call)
        elif t in ("-fprint", "-fprint0", "-fls", "-fprintf") and j + 1 < len(expr):
            w.add_path(expr[j + 1], "write", call)
        elif t == "-files0-from" and j + 1 < len(expr):
            w.add_path(expr[j + 1], "read", call)
        j += 1


def _found(arg: Word, start: Word, keep: Callable[[str], bool] | None, keep_dirs: bool) -> Word:
    """An argument holding find's ``{}``: a path under ``start`` (exactly, when ``{}`` is the
    whole argument or followed by a suffix without ``/``)."""
    base = start.text.rstrip("/") or "/"
    text = arg.text.replace("{}", f"{base}/{{}}")
    head, _, tail = arg.text.partition("{}")
    bound = None if (start.dynamic or head or "{}" in tail) else extend(
        Bound((start.text,), keep, keep_dirs, "find"), tail
    )
    return Word(text, True, bound=bound)


_SED_EXEC = re.compile(r"(^|[;\n{}]\s*|\d\s*|\$\s*|/\s*)e(\s|;|$)|s(.).*\3.*\3[gpiImM0-9w]*e")
_SED_WRITE = re.compile(r"(?:^|[;\n{}/]|\d)\s*[wW]\s+([^;\n}]+)|s(.)(?:.*?)\2(?:.*?)\2[gpiImM0-9]*w\s+([^;\n]+)")


# $(date +FORMAT) printing only digits and separators: it cannot end a sed command or
# add a flag, so a script holding it is as safe as one holding a number
_DATE_DIGITS = re.compile(r"""\$\(date \+['"]?[%YmdHMSjsyuwVGg.:_ -]*['"]?\)|`date \+[%YmdHMSjsyuwVGg.:_-]*`""")


def _digits_only(text: str) -> str | None:
    """A dynamic sed script with its known-harmless substitutions replaced (None: others)."""
    known = _DATE_DIGITS.sub("0", text)
    return None if "$" in known.replace("$/", "").rstrip("$") or "`" in known else known


def _h_sed(w: _Walker, call: _Call) -> None:
    # -i takes only an attached suffix (-i.bak), so it is parsed as a flag
    opts, pos = getopt(call.args, "efl", ["--expression", "--file", "--line-length"])
    inplace = _has(opts, "-i", "--in-place")
    scripts = _vals(opts, "-e", "--expression")
    for f in _vals(opts, "-f", "--file"):
        w.add_path(f, "read", call)
    if not scripts and not _vals(opts, "-f", "--file"):
        if not pos:
            return
        scripts, pos = [pos[0]], pos[1:]
    for s in scripts:
        text = _digits_only(s.text) if s.dynamic else s.text
        if text is None or _SED_EXEC.search(text):
            w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
        for m in _SED_WRITE.finditer(text or s.text):
            target = (m.group(1) or m.group(3) or "").strip()
            if target and target not in ("/dev/stdout", "/dev/stderr"):
                w.add_path(Word(target), "write", call)
    for p in pos:
        w.add_path(p, "write" if inplace else "read", call)


def _h_cp(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "St", ["--target-directory", "--suffix", "--backup",
                                         "--reflink", "--sparse", "--preserve",
                                         "--no-preserve"])
    target = _vals(opts, "-t", "--target-directory")
    hard = _has(opts, "-l", "--link")
    mv = call.name == "mv"
    src_op: PathOp = "write" if (mv or hard) else "read"
    recursive: Recursion | None = None
    tree = not mv and _has(opts, "-r", "-R", "--recursive", "-a", "--archive")
    if tree:
        # symlinks below the top are copied as links unless -L
        recursive = ALL if _has(opts, "-L", "--dereference") else NO_LINKS
    pairs: list[tuple[Word, Word]] = []  # (source, what it becomes)
    if target:
        sources = pos
        for t in target:
            w.add_path(t, "write", call)
            pairs += [(s, _into(t, s)) for s in sources]
    elif len(pos) >= 2:
        sources = pos[:-1]
        dest = pos[-1]
        w.add_path(dest, "write", call)
        if len(pos) > 2 or _is_dir(w, call, dest):
            pairs += [(s, _into(dest, s)) for s in sources]
        else:
            pairs += [(s, dest) for s in sources]
    else:
        sources = pos
    for s in sources:
        w.add_path(s, src_op, call, recursive=recursive)
    symbolic = not mv and _has(opts, "-s", "--symbolic-link")
    as_links = mv or (not _has(opts, "-L", "--dereference") and (tree or _has(
        opts, "-P", "--no-dereference", "-d")))
    for s, made in pairs:
        if made is not s:
            w.add_path(made, "write", call)
        if symbolic:
            w.new_link(made, s, call)
        elif as_links:
            _moved_links(w, call, s, made)


def _into(directory: Word, source: Word) -> Word:
    """``source`` copied or moved into ``directory``."""
    name = posixpath.basename(source.text.rstrip("/"))
    text = f"{directory.text.rstrip('/')}/{name if source.bound is None else '{}'}"
    if directory.bound is not None:
        tail = "" if source.bound is not None or source.dynamic else f"/{name}"
        return Word(text, True, bound=extend(directory.bound, tail))
    if source.bound is not None and not directory.dynamic:
        return Word(text, True, bound=Bound((directory.text,), producer=source.bound.producer))
    return directory.sub(text) if not source.dynamic else Word(text, True)


def _moved_links(w: _Walker, call: _Call, source: Word, made: Word) -> None:
    """``source`` is moved or copied as links to ``made``: a link stays a link (now at
    ``made``), and a directory holding links holds them at ``made`` too."""
    if source.dynamic or source.bound is not None:
        if source.bound is not None or source.glob is None:
            w.may_hold_links(made, call)
        return
    for cwd in call.ctx.cwds:
        path = normalize(absolute(source.text, cwd))
        hit = w.links.hit(path)
        if hit is not None:
            link, rest = hit
            if link.target is None:
                w.may_hold_links(made, call, [cwd])
            else:
                w.new_link(made, Word(f"{link.target}/{rest}" if rest else link.target), call)
            continue
        res = w.resolver.resolve(path, "/")
        parent = w.resolver.resolve(posixpath.dirname(path), "/")
        if res.real != posixpath.join(parent.real, posixpath.basename(path)):
            w.new_link(made, Word(res.real), call)  # the source is itself a symlink
        elif res.is_dir and _holds_links(w, res.real):
            w.may_hold_links(made, call, [cwd])


def _holds_links(w: _Walker, container_dir: str) -> bool:
    """Whether a directory of the workspace holds symlinks (or too much to tell)."""
    return w.tree_has_links(container_dir)


def _is_dir(w: _Walker, call: _Call, word: Word) -> bool:
    if word.text.endswith("/"):
        return True
    if word.dynamic:
        return False
    return any(
        w.resolver.is_directory(normalize(absolute(word.text, c))) for c in call.ctx.cwds
    )


def _h_ln(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "St", ["--target-directory", "--suffix", "--backup"])
    symbolic = _has(opts, "-s", "--symbolic")
    target_dir = _vals(opts, "-t", "--target-directory")
    links: list[Word] = []
    targets: list[Word]
    if target_dir:
        targets = pos
        links = [Word(f"{target_dir[-1].text.rstrip('/')}/{posixpath.basename(t.text.rstrip('/'))}",
                      t.dynamic or target_dir[-1].dynamic) for t in targets]
    elif len(pos) == 1:
        targets = pos
        links = [Word(posixpath.basename(pos[0].text.rstrip("/")) or ".", pos[0].dynamic)]
    elif len(pos) >= 2:
        targets = pos[:-1]
        dest = pos[-1]
        if len(pos) > 2 or (_is_dir(w, call, dest) and not _has(opts, "-T", "-n",
                                                              "--no-target-directory")):
            links = [Word(f"{dest.text.rstrip('/')}/{posixpath.basename(t.text.rstrip('/'))}",
                          t.dynamic or dest.dynamic) for t in targets]
        else:
            links = [dest]
    else:
        return
    relative = _has(opts, "-r", "--relative")  # the target is named from the cwd
    for link in links:
        w.add_path(link, "write", call)
    for t, link in zip(targets, links, strict=False):
        if symbolic:
            if relative and not t.dynamic and not t.text.startswith(("/", "~")):
                t = t.sub(normalize(absolute(t.text, call.ctx.cwds[0])))
            w.new_link(link, t, call)
            # a symlink's target is resolved from the link's directory, not the cwd
            if t.text.startswith("/") or t.text.startswith("~"):
                w.add_path(t, "read", call)
            else:
                dirs = [posixpath.dirname(normalize(absolute(link.text, c))) for c in call.ctx.cwds]
                w.add_path(t, "read", call, cwds=dirs)
        else:
            w.add_path(t, "write", call)  # a hard link makes the file writable through it


def _h_link(w: _Walker, call: _Call) -> None:
    """``link FILE NEW``: a hard link, so FILE becomes writable through NEW."""
    _, pos = getopt(call.args)
    for p in pos[:2]:
        w.add_path(p, "write", call)


def _h_install(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "mogSt", ["--mode", "--owner", "--group", "--suffix",
                                            "--target-directory", "--backup"])
    if _has(opts, "-d", "--directory"):
        for p in pos:
            w.add_path(p, "write", call)
        return
    target = _vals(opts, "-t", "--target-directory")
    if target:
        for t in target:
            w.add_path(t, "write", call)
        for s in pos:
            w.add_path(s, "read", call)
        return
    if len(pos) >= 2:
        for s in pos[:-1]:
            w.add_path(s, "read", call)
        w.add_path(pos[-1], "write", call)


def _h_dd(w: _Walker, call: _Call) -> None:
    for a in call.args:
        key, eq, val = a.text.partition("=")
        if not eq:
            continue
        if key == "if":
            w.add_path(a.sub(val), "read", call)
        elif key == "of":
            w.add_path(a.sub(val), "write", call)


_TAR_SHORT_VAL = "bCfFgHIKLNTVX"


def _h_tar(w: _Walker, call: _Call) -> None:
    args = list(call.args)
    if args and not args[0].text.startswith("-") and not args[0].dynamic:
        args[0] = args[0].sub("-" + args[0].text)  # old style: `tar czf out.tgz dir`
    opts, pos = getopt(args, _TAR_SHORT_VAL, [
        "--file", "--directory", "--files-from", "--exclude-from", "--exclude", "--transform",
        "--use-compress-program", "--to-command", "--checkpoint-action", "--info-script",
        "--new-volume-script", "--rsh-command", "--owner", "--group", "--mode", "--mtime",
        "--label", "--blocking-factor", "--format", "--listed-incremental", "--newer",
        "--after-date", "--index-file", "--volno-file", "--suffix", "--strip-components",
    ])
    label = " ".join(a.text for a in call.argv)
    if _has(opts, "--to-command", "--checkpoint-action", "--info-script", "-F",
            "--new-volume-script", "--use-compress-program", "-I", "--rsh-command"):
        w.add_opaque("inline-interpreter", label)
    create = _has(opts, "-c", "--create", "-r", "--append", "-u", "--update", "-A",
                  "--catenate", "--concatenate", "--delete")
    extract = _has(opts, "-x", "--extract", "--get")
    ctx_dirs = _vals(opts, "-C", "--directory")
    cwds = None
    if ctx_dirs:
        cwds = [normalize(absolute(ctx_dirs[-1].text, c)) for c in call.ctx.cwds]
    for f in _vals(opts, "-f", "--file"):
        if f.text == "-":
            continue
        w.add_path(f, "write" if create else "read", call)
    for f in _vals(opts, "-T", "--files-from", "-X", "--exclude-from", "--index-file"):
        w.add_path(f, "read", call)
    if create and any(f.text == "-" for f in _vals(opts, "-T", "--files-from")):
        w.add_opaque("file-list-from-input", _FILE_LIST_ADVICE + label)
    if create:
        recursive = None if _has(opts, "--no-recursion") else (
            ALL if _has(opts, "-h", "--dereference") else NO_LINKS  # links stored as links
        )
        for p in pos:
            w.add_path(p, "read", call, cwds=cwds, recursive=recursive)
    elif extract and not _has(opts, "-O", "--to-stdout"):
        dest = ctx_dirs[-1] if ctx_dirs else Word(".")
        w.add_path(dest, "write", call)
        for p in pos:
            w.add_path(p, "write", call, cwds=cwds)
        w.may_hold_links(dest, call)  # an archive may hold symlinks
    else:
        for p in pos:
            w.add_path(p, "read", call, inferred=True, cwds=cwds)


def _h_unzip(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "dxP", [])
    if pos:
        w.add_path(pos[0], "read", call)
    if _has(opts, "-l", "-t", "-p", "-v", "-Z", "-z"):
        return
    dest = _vals(opts, "-d")
    w.add_path(dest[-1] if dest else Word("."), "write", call)
    w.may_hold_links(dest[-1] if dest else Word("."), call)


def _h_cpio(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "EFHIMOR", ["--pattern-file", "--file", "--format", "--message",
                                              "--owner", "--directory"])
    create = _has(opts, "-o", "--create")
    passing = _has(opts, "-p", "--pass-through")
    for v in _vals(opts, "-E", "--pattern-file", "-I"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-O"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "-F", "--file"):
        w.add_path(v, "write" if create else "read", call)
    if create or passing:
        w.add_opaque("file-list-from-input",
                     _FILE_LIST_ADVICE + " ".join(a.text for a in call.argv))
    if passing:
        w.add_path(pos[0] if pos else Word("."), "write", call)
        w.may_hold_links(pos[0] if pos else Word("."), call)
    elif _has(opts, "-i", "--extract") and not _has(opts, "-t", "--list"):
        d = _vals(opts, "-D", "--directory")
        w.add_path(d[-1] if d else Word("."), "write", call)
        w.may_hold_links(d[-1] if d else Word("."), call)


def _h_zip(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "bntPxi", ["--temp-path", "--suffixes", "--password",
                                             "--exclude", "--include"])
    if _has(opts, "-@", "--names-stdin"):
        w.add_opaque("file-list-from-input",
                     _FILE_LIST_ADVICE + " ".join(a.text for a in call.argv))
    recursive: Recursion | None = None
    if _has(opts, "-r", "-R", "--recurse-paths", "--recurse-patterns"):
        # zip stores what a symlink points to unless -y
        recursive = NO_LINKS if _has(opts, "-y", "--symlinks") else ALL
    if pos:
        w.add_path(pos[0], "write", call)
        for p in pos[1:]:
            w.add_path(p, "read", call, recursive=recursive)


def _h_patch(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "pidoBrVYzDFgM", [
        "--strip", "--input", "--directory", "--output", "--prefix", "--reject-file",
        "--version-control", "--basename-prefix", "--suffix", "--ifdef", "--fuzz", "--get",
    ])
    inputs = _vals(opts, "-i", "--input") or pos[1:2]
    for v in inputs:
        w.add_path(v, "read", call)
    d = _vals(opts, "-d", "--directory")
    cwds = [normalize(absolute(d[-1].text, c)) for c in call.ctx.cwds] if d else None
    if _has(opts, "--dry-run", "-C", "--check"):
        return  # reports what it would do, changes nothing
    for v in _vals(opts, "-o", "--output", "-r", "--reject-file"):
        w.add_path(v, "write", call)
    if pos:
        w.add_path(pos[0], "write", call, cwds=cwds)
        return
    # the files named in the patch: read it (a file given, or a file on stdin)
    source = inputs[-1] if inputs else (
        call.stdin.word if call.stdin is not None and call.stdin.kind == "file" else None
    )
    text = _patch_text(w, call, source) if source is not None else None
    if call.stdin is not None and call.stdin.kind in ("heredoc", "herestring") and not inputs:
        text = call.stdin.text
    strip = _vals(opts, "-p", "--strip")
    names = None if text is None else patch_targets(
        text, int(strip[-1].text) if strip and strip[-1].text.isdigit() else None
    )
    if names is None:
        base = d[-1].text if d else "."
        w.add_path(Word(base, True), "write", call)  # files named in the patch: unknown
        return
    for name, link in names:
        w.add_path(Word(name), "write", call, cwds=cwds)
        if link:
            w.may_hold_links(Word(name), call, cwds)


def _patch_text(w: _Walker, call: _Call, source: Word) -> str | None:
    if source.dynamic or source.procsub or source.text == "-":
        return None
    try:
        return w.resolver.read_text(absolute(source.text, call.ctx.cwds[0]), MAX_PATCH_BYTES)
    except HostReadRefused:
        return None


MAX_PATCH_BYTES = 1024 * 1024
_PATCH_NAME = re.compile(
    r"^(?:(?:\+\+\+|---|\*\*\*) (?P<n>[^\t\n]+)|Index: (?P<i>[^\n]+)|"
    r"(?:rename|copy) (?:from|to) (?P<r>[^\n]+)|diff --git (?P<a>\S+) (?P<b>\S+))$",
    re.MULTILINE,
)


def patch_targets(text: str, strip: int | None) -> list[tuple[str, bool]] | None:
    """The files a unified/context/git patch may write (and whether one may become a
    symlink), after stripping ``strip`` leading components (None: GNU patch's default,
    the whole name or its base name). None: a name that cannot be used (quoted, absolute
    after stripping, too many)."""
    found: list[tuple[str, bool]] = []
    link = "120000" in text  # a git patch that makes a symlink
    for m in _PATCH_NAME.finditer(text):
        raw = m.group("n") or m.group("i") or m.group("r") or m.group("a") or ""
        names = [raw] if not m.group("a") else [m.group("a"), m.group("b")]
        for name in names:
            name = name.strip()
            if name == "/dev/null" or not name:
                continue
            if name.startswith('"'):
                return None  # a quoted (escaped) name
            if m.group("r") is not None:
                candidates = [name]  # already relative to the top (git)
            elif strip is None:
                candidates = [name, posixpath.basename(name)]
            else:
                parts = name.split("/")
                candidates = ["/".join(parts[strip:])] if len(parts) > strip else []
            for c in candidates:
                if not c or c.startswith("/"):
                    return None
                if (c, link) not in found:
                    found.append((c, link))
        if len(found) > 256:
            return None
    return found


def _h_mktemp(w: _Walker, call: _Call) -> None:
    made = mktemp_target(call.args)
    if made is None:
        w.add_path(Word("$(mktemp)", True), "write", call)
        return
    text, given, dry = made
    if not dry:
        bound = Bound((posixpath.dirname(text) or ".",), None, True, "mktemp")
        w.add_path(Word(text, True, bound=bound), "write", call, implicit=not given)


def _file_handler(spec: FileSpec) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        _file_program(w, call, spec)
    return handler
