"""Database clients: the server they connect to (psql and the PostgreSQL tools, mysql and
mariadb, redis-cli, the MongoDB shells and tools) and the files their SQL and meta-commands
read or write (sqlite3 ``readfile()``/``.read``/``.import``/``.output``/``.shell``, psql
``\\i``/``\\o``/``\\copy``/``\\!``, mysql ``source``/``tee``/``system``).

Without a host option these clients use a local socket (no host fact); ``-h localhost`` is
loopback (allowed by the network policy), any other host is a host fact like a URL. SQL is
scanned in the arguments, ``-c``/``-e``/``-cmd`` values, heredocs and here-strings, files
given by ``-f``/``-init``/``< file`` and those the SQL itself reads (``.read``), bounded.
"""

from __future__ import annotations

import re

from runner.hostfs import HostReadRefused
from runner.policy.pathnames import absolute
from runner.policy.shell.context import _Call
from runner.policy.shell.hosts import _port, split_host_port
from runner.policy.shell.walker import Handler, _Walker
from runner.policy.shell.words import Word, _vals, getopt

MAX_SQL_BYTES = 256 * 1024  # larger SQL files read by a client are not scanned (opaque)
MAX_SQL_DEPTH = 4  # .read of a file that .reads ...
MAX_SQL_REFS = 64  # files and shell commands one client's SQL may name (more: opaque)


def _label(call: _Call) -> str:
    return " ".join(a.text for a in call.argv)


def _env(call: _Call, name: str) -> tuple[str | None, bool]:
    """(value, known) of an environment variable set in the command: ``X=v cmd`` or earlier."""
    if name in call.env:
        return call.env[name], True
    if name in call.ctx.vars:
        value = call.ctx.vars[name]
        return value, value is not None
    return None, True


def _host_list(w: _Walker, value: Word, port: int | None, via: str) -> None:
    """``-h a,b`` / ``--host=a:1,b:2``: each host (a value starting with ``/`` is a socket dir)."""
    if value.dynamic:
        w.add_host(value.text, port, via, dynamic=True)
        return
    for part in value.text.split(","):
        part = part.strip()
        if not part or part.startswith("/") or part.startswith("@"):
            continue
        host, hport = split_host_port(part, port)
        w.add_host(host, hport, via)


# --- SQL and meta-commands -----------------------------------------------------------------

_SQL_STR = r"""(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)")"""
_SQL_FILE_FUNCS = re.compile(
    r"\b(readfile|writefile|load_extension|edit|fsdir|zipfile)\s*\(\s*(" + _SQL_STR + r")?",
    re.IGNORECASE,
)
_SQL_ATTACH = re.compile(r"\b(attach(?:\s+database)?|vacuum(?:\s+\w+)?\s+into)\s+(" + _SQL_STR + ")?",
                         re.IGNORECASE)
_SQLITE_DOT = re.compile(r"^[ \t]*\.([a-z_]+)(?:[ \t]+(.*))?$", re.IGNORECASE | re.MULTILINE)
_PSQL_META = re.compile(r"\\([a-z!]+)(?:[ \t]+([^\\\n]*))?", re.IGNORECASE)
_MYSQL_CMD = re.compile(r"^[ \t]*(source|\\\.|tee|\\T|system|\\!|pager|\\P)(?:[ \t]+(.*?))?;?[ \t]*$",
                        re.IGNORECASE | re.MULTILINE)
_MYSQL_INFILE = re.compile(r"\bload\s+data\s+local\s+infile\s+(" + _SQL_STR + ")?", re.IGNORECASE)

_FUNC_OPS = {"readfile": "read", "writefile": "write", "load_extension": "exec", "fsdir": "read",
             "zipfile": "read"}
# sqlite3 dot-commands: what their first (or last) argument is
_DOT_READ = {"read": "script", "import": "read", "restore": "last-read", "load": "exec"}
_DOT_WRITE: dict[str, str | None] = {
    "output": "write", "once": "write", "save": "write", "backup": "last-write", "open": "write",
    "clone": "write", "log": "write", "trace": "write", "iotrace": "write", "excel": None,
}
_DOT_SHELL = {"shell", "system"}
_DOT_OPAQUE = {"cd", "archive", "ar", "edit"}


def _unquote(s: str) -> str:
    s = s.strip().rstrip(";").strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1].replace(s[0] * 2, s[0])
    return s


class _SqlScan:
    """Scans SQL text for the files and commands it reaches, recording them on the walker."""

    def __init__(self, w: _Walker, call: _Call, dialect: str) -> None:
        self.w = w
        self.call = call
        self.dialect = dialect
        self.label = _label(call)
        self._seen: set[tuple[str, str]] = set()
        self.full = False  # MAX_SQL_REFS reached: the rest is not looked at

    def _new(self, kind: str, text: str) -> bool:
        """Whether a reference is new and within MAX_SQL_REFS (else opaque, once)."""
        key = (kind, text)
        if self.full or key in self._seen:
            return False
        self._seen.add(key)
        if len(self._seen) > MAX_SQL_REFS:
            self.full = True
            self.w.add_opaque("sql-too-many-files", f"more than {MAX_SQL_REFS} files or "
                              f"commands in the SQL of {self.label}")
            return False
        return True

    def shell(self, text: str) -> None:
        if self._new("shell", text):
            self.w.shell_string(Word(text), self.call, self.label)

    def text(self, sql: str | None, dynamic: bool = False, depth: int = 0) -> None:
        if sql is None or dynamic:
            if dynamic and sql is not None and not _mentions_files(sql, self.dialect):
                return  # a value with an expansion, but nothing that reaches a file
            self.w.add_opaque("dynamic-sql", self.label)
            return
        if self.dialect == "sqlite":
            self._sqlite(sql, depth)
        elif self.dialect == "psql":
            self._psql(sql, depth)
        else:
            self._mysql(sql, depth)
        for m in _SQL_FILE_FUNCS.finditer(sql):
            if self.full:
                return
            func = m.group(1).lower()
            name = m.group(3) if m.group(3) is not None else m.group(4)
            if func == "edit":
                self.w.add_opaque("sql-edit", self.label)
            elif name is None:
                self.w.add_opaque("sql-dynamic-file", f"{func}(...) in {self.label}")
            else:
                op = _FUNC_OPS[func]
                self._path(name.replace("''", "'"), op, recursive=func == "fsdir")
        for m in _SQL_ATTACH.finditer(sql):
            name = m.group(3) if m.group(3) is not None else m.group(4)
            if name is None:
                self.w.add_opaque("sql-dynamic-file", f"{m.group(1)} in {self.label}")
            elif name and name != ":memory:":
                self._path(name, "write")

    def file(self, word: Word, depth: int) -> None:
        """SQL read from a file (``-f``, ``-init``, ``< file``, ``.read``): read, then scanned."""
        if not self._new("file", word.text):
            return
        self.w.add_path(word, "read", self.call)
        if word.dynamic or word.procsub:
            self.w.add_opaque("dynamic-sql", self.label)
            return
        if depth >= MAX_SQL_DEPTH:
            self.w.add_opaque("nesting-too-deep", self.label)
            return
        try:
            text = self.w.resolver.read_text(absolute(word.text, self.call.ctx.cwds[0]), MAX_SQL_BYTES)
        except HostReadRefused as exc:
            self.w.add_opaque("unreadable-script", f"{word.text}: {exc.reason}")
            return
        if text is None:
            if self.w.resolver.workspace is not None and _inside(word.text, self.call):
                self.w.add_opaque("sql-file-not-scanned", f"{word.text} in {self.label}")
            return
        self.text(text, False, depth + 1)

    def _path(self, name: str, op: str, *, recursive: bool = False) -> None:
        from runner.policy.shell.expansion import ALL

        if not name or name == "-" or name.startswith("|"):
            if name.startswith("|"):
                self.shell(name[1:].strip())
            return
        if not self._new(op, name):
            return
        if op == "exec":
            self.w.add_path(Word(name), "exec", self.call)
            return
        self.w.add_path(Word(name), "write" if op == "write" else "read", self.call,
                        recursive=ALL if recursive else None)

    def _sqlite(self, sql: str, depth: int) -> None:
        for cmd, rest in _commands(_SQLITE_DOT, sql):
            if self.full:
                return
            args = [a for a in re.findall(r"'[^']*'|\"[^\"]*\"|\S+", rest)]
            files = [_unquote(a) for a in args if not a.startswith("-")]
            if cmd in _DOT_SHELL:
                self.shell(rest)
            elif cmd in _DOT_OPAQUE:
                self.w.add_opaque(f"sqlite-{cmd}", self.label)
            elif cmd == "read" and files:
                if files[0].startswith("|"):
                    self.shell(files[0][1:].strip())
                else:
                    self.file(Word(files[0]), depth)
            elif cmd in _DOT_READ and files:
                kind = _DOT_READ[cmd]
                target = files[-1] if kind.startswith("last") else files[0]
                self._path(target, "exec" if kind == "exec" else "read")
            elif cmd in _DOT_WRITE:
                wkind = _DOT_WRITE[cmd]
                if wkind is None or "-x" in args or "-e" in args:
                    self.w.add_opaque(f"sqlite-{cmd}", self.label)  # opens a program
                elif rest.startswith("|"):
                    self.shell(rest[1:].strip())
                elif files:
                    target = files[-1] if wkind.startswith("last") else files[0]
                    if target not in (":memory:", "off", "stdout"):
                        self._path(target, "write")

    def _psql(self, sql: str, depth: int) -> None:
        for cmd, rest in _commands(_PSQL_META, sql):
            if self.full:
                return
            if cmd in ("!", "setenv"):
                if cmd == "!":
                    self.shell(rest)
            elif cmd in ("i", "include", "ir", "include_relative") and rest:
                self.file(Word(_unquote(rest.split()[0])), depth)
            elif cmd in ("o", "out", "w", "write", "g", "gx") and rest:
                target = rest.strip()
                if target.startswith("|"):
                    self.shell(target[1:].strip())
                else:
                    self._path(_unquote(target.split()[0]), "write")
            elif cmd == "copy" and rest:
                self._copy(rest)
            elif cmd == "lo_import" and rest:
                self._path(_unquote(rest.split()[0]), "read")
            elif cmd == "lo_export" and len(rest.split()) > 1:
                self._path(_unquote(rest.split()[1]), "write")
            elif cmd in ("e", "edit", "ef", "ev"):
                self.w.add_opaque("sql-edit", self.label)

    def _copy(self, rest: str) -> None:
        m = re.search(r"\b(from|to)\s+(program\s+)?(" + _SQL_STR + r"|\S+)", rest, re.IGNORECASE)
        if m is None:
            return
        target = _unquote(m.group(3))
        if m.group(2):
            self.shell(target)
        elif target.lower() not in ("stdin", "stdout", "pstdin", "pstdout"):
            self._path(target, "read" if m.group(1).lower() == "from" else "write")

    def _mysql(self, sql: str, depth: int) -> None:
        for cmd, rest in _commands(_MYSQL_CMD, sql):
            if self.full:
                return
            if cmd in ("source", "\\."):
                if rest:
                    self.file(Word(_unquote(rest)), depth)
            elif cmd in ("tee", "\\t"):
                if rest:
                    self._path(_unquote(rest), "write")
            elif cmd in ("system", "\\!") or (cmd in ("pager", "\\p") and rest):
                self.shell(rest)
        for m in _MYSQL_INFILE.finditer(sql):
            name = m.group(2) if m.group(2) is not None else m.group(3)
            if name is None:
                self.w.add_opaque("sql-dynamic-file", self.label)
            else:
                self._path(name, "read")


def _commands(regex: re.Pattern[str], sql: str) -> list[tuple[str, str]]:
    """(command, argument text) of each meta-command, once each, in order."""
    return list(dict.fromkeys((m.group(1).lower(), (m.group(2) or "").strip())
                              for m in regex.finditer(sql)))


def _mentions_files(sql: str, dialect: str) -> bool:
    if _SQL_FILE_FUNCS.search(sql) or _SQL_ATTACH.search(sql):
        return True
    if dialect == "sqlite":
        return bool(_SQLITE_DOT.search(sql))
    if dialect == "psql":
        return "\\" in sql
    return bool(_MYSQL_CMD.search(sql) or _MYSQL_INFILE.search(sql))


def _inside(text: str, call: _Call) -> bool:
    return absolute(text, call.ctx.cwds[0]).startswith("/workspace/")


def _stdin_sql(scan: _SqlScan, call: _Call) -> None:
    """SQL the client reads from stdin: a heredoc/here-string, a file, a pipe."""
    s = call.stdin
    if s is None:
        return
    if s.kind in ("heredoc", "herestring"):
        scan.text(s.text, s.text is None)
    elif s.kind == "file" and s.word is not None:
        if s.word.procsub:
            scan.w.add_opaque("dynamic-sql", scan.label)
        else:
            scan.file(s.word, 0)
    elif s.kind == "pipe":
        # what feeds the pipe: echo/printf text is scanned, `cat FILE` reads FILE; else unknown
        for program, argv in s.upstream[-1:]:
            if program in ("echo", "printf"):
                scan.text("\n".join(a for a in argv[1:] if not a.startswith("-")),
                          any("$" in a or "`" in a for a in argv[1:]))
            elif program == "cat":
                for a in argv[1:]:
                    if not a.startswith("-"):
                        scan.file(Word(a, "$" in a or "`" in a or "*" in a), 0)
            else:
                scan.w.add_opaque("sql-from-pipe", scan.label)


# --- sqlite3 -------------------------------------------------------------------------------


def _h_sqlite3(w: _Walker, call: _Call) -> None:
    # sqlite3's options have one dash and whole-word names (-init FILE, -cmd SQL, -readonly)
    args = call.args
    scan = _SqlScan(w, call, "sqlite")
    values = {"-init", "-cmd", "-separator", "-newline", "-nullvalue", "-vfs", "-maxsize",
              "-mmap", "-pagecache", "-lookaside", "-heap", "-escape"}
    flags: set[str] = set()
    positional: list[Word] = []
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text.lstrip("-")
        if a.text.startswith("-") and not a.dynamic and a.text not in ("-", "--"):
            key = "-" + t
            if key in values and i + 1 < len(args):
                v = args[i + 1]
                if key == "-init":
                    scan.file(v, 0)
                elif key == "-cmd":
                    scan.text(v.text, v.dynamic)
                i += 2
                continue
            flags.add(key)
            i += 1
            continue
        if a.text == "--":
            positional.extend(args[i + 1 :])
            break
        positional.append(a)
        i += 1
    safe = "-safe" in flags
    if positional:
        db = positional[0]
        name = db.text
        if name not in ("", ":memory:") and not name.startswith("file::memory:"):
            ro = "-readonly" in flags or "mode=ro" in name or "immutable=1" in name
            target = db.sub(name[5:].partition("?")[0]) if name.startswith("file:") else db
            w.add_path(target, "read" if ro else "write", call)
    if "-A" in flags or "-archive" in flags:
        w.add_opaque("sqlite-archive", _label(call))
    if safe:
        return  # --safe: no file access beyond the database, no shell
    sql_args = positional[1:]
    for s in sql_args:
        scan.text(s.text, s.dynamic)
    if not sql_args:
        _stdin_sql(scan, call)


# --- PostgreSQL ------------------------------------------------------------------------------

_PG_VAL = "cdfhLoPpRTUvFjnNtTZSEWsiIx"
_PG_LONG = [
    "--command", "--dbname", "--file", "--host", "--log-file", "--output", "--pset", "--port",
    "--record-separator", "--table-attr", "--username", "--set", "--variable",
    "--field-separator", "--format", "--jobs", "--schema", "--exclude-schema", "--table",
    "--exclude-table", "--compress", "--superuser", "--encoding", "--timeout", "--role",
    "--section", "--maintenance-db", "--pgdata", "--label", "--checkpoint", "--wal-method",
    "--tablespace", "--template", "--locale", "--owner", "--lc-collate", "--lc-ctype",
]
_PG_WRITE_FILE = frozenset({"pg_dump", "pg_dumpall", "pg_basebackup", "pg_receivewal"})


def _conninfo(w: _Walker, text: Word, port: int | None, via: str) -> bool:
    """A libpq connection string (URL or ``key=value ...``): its hosts. True if it was one."""
    t = text.text
    if "://" in t:
        scheme = t.partition("://")[0].lower()
        if scheme in ("postgres", "postgresql"):
            rest = t.partition("://")[2]
            netloc = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
            if text.dynamic and ("$" in netloc or "`" in netloc):
                w.add_host(t, None, via, dynamic=True)
                return True
            q = rest.partition("?")[2]
            extra = re.findall(r"(?:^|&)host(?:addr)?=([^&]+)", q)
            for h in [*netloc.split(","), *extra]:
                if h and not h.startswith("%2f") and not h.startswith("/"):
                    host, hport = split_host_port(h, port or 5432)
                    w.add_host(host, hport, via)
            return True
        return False
    if "=" in t and re.match(r"^\s*\w+\s*=", t):
        pairs = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", t))
        hp = pairs.get("port")
        for key in ("host", "hostaddr"):
            if key in pairs:
                _host_list(w, text.sub(_unquote(pairs[key])), _port(hp) if hp else port or 5432,
                           via)
        return True
    return False


def _h_postgres(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, _PG_VAL if call.name != "pg_isready" else "dhpUt", _PG_LONG)
    via = call.name
    pv = _vals(opts, "-p", "--port")
    port = _port(pv[-1].text) if pv else 5432
    hosts = _vals(opts, "-h", "--host")
    for h in hosts:
        _host_list(w, h, port, via)
    if not hosts:
        for var in ("PGHOST", "PGHOSTADDR"):
            value, known = _env(call, var)
            if not known:
                w.add_host(f"${var}", port, via, dynamic=True)
            elif value:
                _host_list(w, Word(value), port, via)
    dbs = _vals(opts, "-d", "--dbname", "--maintenance-db")
    if call.name in ("psql", "pgbench", "createdb", "dropdb", "vacuumdb", "reindexdb",
                     "clusterdb", "pg_dump") and pos:
        dbs = [*dbs, pos[0]]
    for d in dbs:
        _conninfo(w, d, port, via)
    scan = _SqlScan(w, call, "psql")
    for c in _vals(opts, "-c", "--command"):
        scan.text(c.text, c.dynamic)
    files = _vals(opts, "-f", "--file")
    for f in files:
        if call.name in _PG_WRITE_FILE:
            w.add_path(f, "write", call)
        elif f.text != "-":
            scan.file(f, 0)
    for v in _vals(opts, "-o", "--output", "-L", "--log-file"):
        if v.text.startswith("|"):
            w.shell_string(v.sub(v.text[1:]), call, _label(call))
        else:
            w.add_path(v, "write", call)
    if call.name == "pg_restore":
        for p in pos:
            w.add_path(p, "read", call)
    if call.name == "psql" and not _vals(opts, "-c", "--command") and not files:
        _stdin_sql(scan, call)


# --- MySQL / MariaDB -----------------------------------------------------------------------------


def _h_mysql(w: _Walker, call: _Call) -> None:
    """mysql's ``-p`` takes an attached value only, so its options are read by hand."""
    via = call.name
    host: list[Word] = []
    port = 3306
    sql: list[Word] = []
    files_read: list[Word] = []
    files_write: list[Word] = []
    positional: list[Word] = []
    short_val = set("hPueDSAOWRbC") - {"C"}
    long_val = {"host", "port", "user", "execute", "database", "socket", "defaults-file",
                "defaults-extra-file", "tee", "pager", "init-command", "result-file",
                "tab", "password", "load-data-local-dir", "plugin-dir", "ssl-ca", "ssl-cert",
                "ssl-key", "character-sets-dir", "default-character-set", "protocol",
                "bind-address", "login-path", "connect-timeout", "max-allowed-packet",
                "net-buffer-length", "where", "ignore-table", "tables", "fields-terminated-by",
                "lines-terminated-by", "delimiter", "prompt"}
    args = call.args
    i = 0
    while i < len(args):
        a = args[i]
        t = a.text
        if a.dynamic or not t.startswith("-") or t == "-":
            positional.append(a)
            i += 1
            continue
        if t.startswith("--"):
            name, eq, val = t[2:].partition("=")
            value: Word | None = a.sub(val) if eq else None
            if not eq and name in long_val and name != "password" and i + 1 < len(args):
                value = args[i + 1]
                i += 1
            i += 1
            if value is None:
                continue
            if name == "host":
                host.append(value)
            elif name == "port":
                port = _port(value.text) or port
            elif name in ("execute", "init-command"):
                sql.append(value)
            elif name in ("defaults-file", "defaults-extra-file", "ssl-ca", "ssl-cert",
                          "ssl-key"):
                files_read.append(value)
            elif name in ("tee", "result-file"):
                files_write.append(value)
            elif name == "pager":
                w.shell_string(value, call, _label(call))
            elif name == "tab":
                files_write.append(value)
            continue
        c = t[1]
        if c == "p":  # -pPASSWORD (attached only) or a bare -p (prompt)
            i += 1
            continue
        if c in short_val:
            value = a.sub(t[2:]) if len(t) > 2 else (args[i + 1] if i + 1 < len(args) else None)
            i += 1 if len(t) > 2 else 2
            if value is None:
                continue
            if c == "h":
                host.append(value)
            elif c == "P":
                port = _port(value.text) or port
            elif c == "e":
                sql.append(value)
            continue
        i += 1
    for h in host:
        _host_list(w, h, port, via)
    if not host:
        env_host, known = _env(call, "MYSQL_HOST")
        if not known:
            w.add_host("$MYSQL_HOST", port, via, dynamic=True)
        elif env_host:
            _host_list(w, Word(env_host), port, via)
    for f in files_read:
        w.add_path(f, "read", call)
    for f in files_write:
        w.add_path(f, "write", call)
    scan = _SqlScan(w, call, "mysql")
    for s in sql:
        scan.text(s.text, s.dynamic)
    if call.name in ("mysqlimport",):
        for p in positional[1:]:
            w.add_path(p, "read", call)
    if not sql and call.name in ("mysql", "mariadb"):
        _stdin_sql(scan, call)


# --- Redis, MongoDB ------------------------------------------------------------------------------


def _h_redis_cli(w: _Walker, call: _Call) -> None:
    opts, _ = getopt(call.args, "hpsaunrid", [
        "--user", "--pass", "--askpass", "--tls", "--cacert", "--cacertdir", "--cert", "--key",
        "--rdb", "--functions-rdb", "--pipe-timeout", "--eval", "--pattern", "--count",
        "--memkeys-samples", "--ldb-sync-mode", "--sni", "--tls-ciphers", "--tls-ciphersuites",
        "--replica", "--intrinsic-latency", "--cluster", "--quoted-pattern",
    ])
    pv = _vals(opts, "-p")
    port = _port(pv[-1].text) if pv else 6379
    hosts = _vals(opts, "-h")
    for h in hosts:
        w.add_host(h.text, port, call.name, dynamic=h.dynamic)
    for u in _vals(opts, "-u"):
        w.add_url(u.text, call.name, dynamic=u.dynamic)
    for v in _vals(opts, "--rdb", "--functions-rdb"):
        w.add_path(v, "write", call)
    for v in _vals(opts, "--eval", "--cacert", "--cert", "--key"):
        w.add_path(v, "read", call)


def _h_mongo(w: _Walker, call: _Call) -> None:
    opts, pos = getopt(call.args, "hpudcoq", [
        "--host", "--port", "--uri", "--username", "--password", "--authenticationDatabase",
        "--eval", "--file", "--db", "--collection", "--out", "--archive", "--query", "--type",
        "--fields", "--fieldFile", "--tlsCAFile", "--tlsCertificateKeyFile", "--nsInclude",
        "--nsExclude", "--nsFrom", "--nsTo", "--config", "--sslCAFile", "--sslPEMKeyFile",
        "--authenticationMechanism", "--apiVersion", "--numParallelCollections",
    ])
    via = call.name
    pv = _vals(opts, "--port")
    port = _port(pv[-1].text) if pv else 27017
    shell = call.name in ("mongo", "mongosh")  # their -h is --help; the tools' -h is --host
    for h in _vals(opts, "--host") + ([] if shell else _vals(opts, "-h")):
        text = h.text.partition("/")[2] if "/" in h.text else h.text  # replset/host1,host2
        _host_list(w, h.sub(text), port, via)
    for u in _vals(opts, "--uri"):
        _mongo_uri(w, u, via)
    if _vals(opts, "--eval"):
        w.add_opaque("inline-interpreter", _label(call))  # JavaScript that can open files
    for v in _vals(opts, "--file", "--fieldFile", "--tlsCAFile", "--tlsCertificateKeyFile",
                   "--config", "--sslCAFile", "--sslPEMKeyFile"):
        w.add_path(v, "read", call)
    for v in _vals(opts, "-o", "--out"):
        if v.text != "-":
            w.add_path(v, "write" if call.name in ("mongodump", "mongoexport") else "read", call)
    for p in pos:
        t = p.text
        if t.startswith(("mongodb://", "mongodb+srv://")) or (p.dynamic and "://" in t):
            _mongo_uri(w, p, via)
        elif t.endswith(".js") or call.name in ("mongorestore", "mongoimport"):
            w.add_path(p, "read", call)
        elif shell and ("/" in t or ":" in t):
            _host_list(w, p.sub(t.partition("/")[0]), port, via)  # host[:port]/db


def _mongo_uri(w: _Walker, u: Word, via: str) -> None:
    rest = u.text.partition("://")[2]
    netloc = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    if u.dynamic and ("$" in netloc or "`" in netloc or not netloc):
        w.add_host(u.text, None, via, dynamic=True)
        return
    _host_list(w, u.sub(netloc), 27017, via)


POSTGRES_TOOLS = (
    "psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_isready", "createdb", "dropdb",
    "createuser", "dropuser", "vacuumdb", "reindexdb", "clusterdb", "pgbench", "pg_basebackup",
    "pg_receivewal",
)
MYSQL_TOOLS = (
    "mysql", "mariadb", "mysqldump", "mariadb-dump", "mysqladmin", "mariadb-admin", "mysqlshow",
    "mysqlimport", "mysqlcheck", "mysqlpump",
)
MONGO_TOOLS = ("mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport",
               "mongostat", "mongotop", "mongofiles")


def handlers() -> dict[str, Handler]:
    out: dict[str, Handler] = {"sqlite3": _h_sqlite3, "redis-cli": _h_redis_cli,
                              "valkey-cli": _h_redis_cli, "keydb-cli": _h_redis_cli}
    out.update(dict.fromkeys(POSTGRES_TOOLS, _h_postgres))
    out.update(dict.fromkeys(MYSQL_TOOLS, _h_mysql))
    out.update(dict.fromkeys(MONGO_TOOLS, _h_mongo))
    return out

