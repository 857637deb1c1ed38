"""File programs: the :data:`FILE_PROGRAMS` option tables (:class:`FileSpec`) and the
programs with their own argument rules (find, sed, cp/mv, ln, install, dd, tar, unzip,
zip, cpio, patch, mktemp; awk and make have their own modules)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.policy.models import PathOp
from runner.policy.paths import absolute, fnmatch_name, normalize
from runner.policy.shell.context import _Call
from runner.policy.shell.expansion import ALL, NO_LINKS, Recursion
from runner.policy.shell.tables import _NO_FILE_PROGRAMS
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Word, _has, _vals, getopt


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
    "gzip": _fs("write", "S", "--suffix", read_flags="-c --stdout --to-stdout -l --list -t --test"),
    **{p: _fs("write", "S", "--suffix", read_flags="-c --stdout --to-stdout -l --list -t --test -k --keep")
       for p in ["gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "unlzma", "zstd", "unzstd", "lz4", "compress", "uncompress"]},
    "split": _fs("read", "lbnaCt", "--lines --bytes --number --suffix-length "
                 "--additional-suffix --line-bytes --separator --filter", second_writes=True),
    "csplit": _fs("read", "fbn", "--prefix --suffix-format --digits", first_only=True),
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
    while i < len(args) and not (args[i].text.startswith(("-", "(", "!", ",")) and not args[i].dynamic):
        starts.append(args[i])
        i += 1
    if not starts:
        starts = [Word(".")]
    for s in starts:
        w.add_path(s, "read", call)
    expr = args[i:]
    j = 0
    filtered = False
    while j < len(expr):
        t = expr[j].text
        if t in ("-exec", "-execdir", "-ok", "-okdir"):
            k = j + 1
            while k < len(expr) and expr[k].text not in (";", "+"):
                k += 1
            inner = expr[j + 1 : k]
            if not filtered:
                keep, keep_dirs = _find_filter(expr[:j])
                filtered = True
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
                base = s.text.rstrip("/") or "/"
                argv = [
                    Word(a.text.replace("{}", f"{base}/{{}}"), True) if "{}" in a.text else a
                    for a in inner
                ]
                if argv:
                    w.execute(argv, call.ctx, None, call.depth + 1, call.env, "find")
            j = k + 1
            continue
        if t == "-delete":
            for s in starts:
                w.add_path(Word(s.text, True), "write", call)
        elif t in ("-fprint", "-fprint0", "-fls", "-fprintf") and j + 1 < len(expr):
            w.add_path(expr[j + 1], "write", call)
        elif t == "-files0-from" and j + 1 < len(expr):
            w.add_path(expr[j + 1], "read", call)
        j += 1


# find's tests that take one value (two for -fprintf), and the ones that take none.
_FIND_VALUED = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-type", "-xtype", "-newer", "-anewer", "-cnewer", "-perm", "-user", "-group", "-uid",
    "-gid", "-size", "-mtime", "-atime", "-ctime", "-mmin", "-amin", "-cmin", "-links", "-inum",
    "-samefile", "-maxdepth", "-mindepth", "-fstype", "-lname", "-ilname", "-used", "-printf",
    "-fprint", "-fprint0", "-fls", "-context", "-regextype", "-files0-from",
})
_FIND_FLAGS = frozenset({
    "-a", "-and", "-true", "-false", "-print", "-print0", "-ls", "-depth", "-d", "-mount",
    "-xdev", "-noleaf", "-ignore_readdir_race", "-noignore_readdir_race", "-follow", "-daystart",
    "-warn", "-nowarn", "-empty", "-readable", "-writable", "-executable", "-nouser", "-nogroup",
    "-prune", "-quit",
})


def _find_filter(expr: Sequence[Word]) -> tuple[Callable[[str], bool] | None, bool]:
    """The names an -exec can get, from the tests before it: (keep, directories count too).

    Only a plain conjunction of known tests is used, and only its -name/-iname and
    ``-type f``: leaving out a conjunct selects more files, never fewer. Anything else
    (-o, !, parentheses, unknown tests) selects everything.
    """
    names: list[tuple[str, bool]] = []
    files_only = False
    i = 0
    while i < len(expr):
        t = expr[i].text
        if expr[i].dynamic and not expr[i].glob:
            return None, True
        if t in _FIND_FLAGS:
            i += 1
            continue
        if t == "-fprintf":
            i += 3
            continue
        if t not in _FIND_VALUED or i + 1 >= len(expr):
            return None, True
        value = expr[i + 1]
        if t in ("-name", "-iname") and "$" not in value.text and "`" not in value.text:
            names.append((value.text, t == "-iname"))
        elif t == "-type" and value.text == "f":
            files_only = True
        i += 2
    if not names:
        return None, not files_only
    return (lambda name: all(fnmatch_name(p, name, nocase=nc) for p, nc in names)), not files_only


_SED_EXEC = re.compile(r"(^|[;\n{}]\s*|\d\s*|\$\s*|/\s*)e(\s|;|$)|s(.).*\3.*\3[gpiImM0-9w]*e")
_SED_WRITE = re.compile(r"(?:^|[;\n{}/]|\d)\s*[wW]\s+([^;\n}]+)|s(.)(?:.*?)\2(?:.*?)\2[gpiImM0-9]*w\s+([^;\n]+)")


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
        if s.dynamic or _SED_EXEC.search(s.text):
            w.add_opaque("inline-interpreter", " ".join(a.text for a in call.argv))
        for m in _SED_WRITE.finditer(s.text):
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
    src_op: PathOp = "write" if (call.name == "mv" or hard) else "read"
    recursive: Recursion | None = None
    if call.name == "cp" and _has(opts, "-r", "-R", "--recursive", "-a", "--archive"):
        # symlinks below the top are copied as links unless -L
        recursive = ALL if _has(opts, "-L", "--dereference") else NO_LINKS
    if target:
        sources = pos
        for t in target:
            w.add_path(t, "write", call)
            for s in sources:
                w.add_path(Word(f"{t.text.rstrip('/')}/{posixpath.basename(s.text.rstrip('/'))}",
                                t.dynamic or s.dynamic), "write", call)
    elif len(pos) >= 2:
        sources = pos[:-1]
        dest = pos[-1]
        w.add_path(dest, "write", call)
        if len(pos) > 2 or _is_dir(w, call, dest):
            for s in sources:
                w.add_path(dest.sub(f"{dest.text.rstrip('/')}/"
                                    f"{posixpath.basename(s.text.rstrip('/'))}"), "write", call)
    else:
        sources = pos
    for s in sources:
        w.add_path(s, src_op, call, recursive=recursive)


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
    for link in links:
        w.add_path(link, "write", call)
    for t, link in zip(targets, links, strict=False):
        if symbolic:
            # a symlink's target is resolved from the link's directory, not the cwd
            if t.text.startswith("/") or t.text.startswith("~"):
                w.add_path(t, "read", call)
            else:
                dirs = [posixpath.dirname(normalize(absolute(link.text, c))) for c in call.ctx.cwds]
                w.add_path(t, "read", call, cwds=dirs)
        else:
            w.add_path(t, "write", call)  # a hard link makes the file writable through it


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
    elif _has(opts, "-i", "--extract") and not _has(opts, "-t", "--list"):
        d = _vals(opts, "-D", "--directory")
        w.add_path(d[-1] if d else Word("."), "write", call)


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
    for v in _vals(opts, "-i", "--input"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-o", "--output", "-r", "--reject-file"):
        w.add_path(v, "write", call)
    if pos:
        w.add_path(pos[0], "write", call)
        for p in pos[1:2]:
            w.add_path(p, "read", call)
    else:
        d = _vals(opts, "-d", "--directory")
        w.add_path(Word(d[-1].text if d else ".", True), "write", call)  # files named in the patch


def _h_mktemp(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "p", ["--tmpdir", "--suffix"])
    if _has(opts, "-u", "--dry-run"):
        return
    tmp = _vals(opts, "-p", "--tmpdir")
    base = tmp[-1].text if tmp else None
    if pos:
        text = pos[0].text if base is None or "/" in pos[0].text else f"{base}/{pos[0].text}"
        w.add_path(Word(text, True), "write", call)
    else:
        w.add_path(Word(f"{base or '/tmp'}/tmp.XXXXXXXXXX", True), "write", call, implicit=True)


def _file_handler(spec: FileSpec) -> Handler:
    def handler(w: _Walker, call: _Call) -> None:
        _file_program(w, call, spec)
    return handler
