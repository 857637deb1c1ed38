"""The APIs the Python analysis knows, by canonical name ("os.path.join", "builtins.open")."""

from __future__ import annotations

import re

from runner.policy.models import PathOp

_ALIASES = {
    "posixpath": "os.path", "posix": "os", "_io": "io", "_socket": "socket",
    "io.open": "builtins.open", "io.FileIO": "builtins.open", "codecs.open": "builtins.open",
    "gzip.open": "builtins.open", "bz2.open": "builtins.open", "lzma.open": "builtins.open",
    "aiofiles.open": "builtins.open",
    "urllib.request.OpenerDirector": "urllib.request.build_opener",
    "requests.api": "requests", "requests.sessions.Session": "requests.Session",
    "requests.session": "requests.Session", "httpx.AsyncClient": "httpx.Client",
    "pathlib.PosixPath": "pathlib.Path", "pathlib.PurePath": "pathlib.Path",
    "pathlib.PurePosixPath": "pathlib.Path", "pathlib.WindowsPath": "pathlib.Path",
    "pathlib.PureWindowsPath": "pathlib.Path", "socket.SocketType": "socket.socket",
    "urllib2": "urllib.request", "websockets.client.connect": "websockets.connect",
    "websockets.sync.client.connect": "websockets.connect",
    "websocket.WebSocketApp": "websocket.create_connection",
    "tarfile.TarFile": "tarfile.open", "tarfile.TarFile.open": "tarfile.open",
}


def _canon(name: str) -> str:
    name = name.removesuffix(".__call__")
    head, _, rest = name.partition(".")
    if head in _ALIASES:
        name = _ALIASES[head] + ("." + rest if rest else "")
    return _ALIASES.get(name, name)


_W: PathOp = "write"
_R: PathOp = "read"
_X: PathOp = "exec"

# Functions whose arguments are paths: (position (-1: keyword only), keyword, op, default).
_PATH_ARGS: dict[str, tuple[tuple[int, str, PathOp, str | None], ...]] = {}
for _names, _spec in (
    ("os.remove os.unlink os.rmdir os.removedirs os.mkdir os.makedirs os.truncate os.chmod "
     "os.lchmod os.chown os.lchown os.utime os.mkfifo os.mknod os.chroot shutil.rmtree "
     "shutil.chown shelve.open dbm.open logging.FileHandler", ((0, "path", _W, None),)),
    ("os.rename os.replace os.renames os.link shutil.move",
     ((0, "src", _W, None), (1, "dst", _W, None))),
    ("os.symlink", ((0, "src", _R, None), (1, "dst", _W, None))),
    ("shutil.copy shutil.copy2 shutil.copyfile shutil.copytree shutil.copymode shutil.copystat",
     ((0, "src", _R, None), (1, "dst", _W, None))),
    ("os.listdir os.scandir", ((0, "path", _R, "."),)),
    ("os.walk os.fwalk os.readlink tokenize.open", ((0, "top", _R, None),)),
    ("shutil.make_archive", ((0, "base_name", _W, None), (2, "root_dir", _R, "."))),
    ("shutil.unpack_archive", ((0, "filename", _R, None), (1, "extract_dir", _W, "."))),
    ("urllib.request.urlretrieve", ((1, "filename", _W, None),)),
    ("logging.basicConfig", ((-1, "filename", _W, None),)),
    ("runpy.run_path", ((0, "path_name", _X, None),)),
    ("importlib.util.spec_from_file_location importlib.machinery.SourceFileLoader",
     ((1, "location", _X, None),)),
    ("dotenv.load_dotenv dotenv.dotenv_values", ((0, "dotenv_path", _R, ".env"),)),
):
    for _n in _names.split():
        _PATH_ARGS[_n] = _spec

# Connections to (host position, port position or None).
_HOSTPORT: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys((
        "socket.getaddrinfo", "http.client.HTTPConnection", "http.client.HTTPSConnection",
        "smtplib.SMTP", "smtplib.SMTP_SSL", "smtplib.LMTP", "telnetlib.Telnet",
        "poplib.POP3", "poplib.POP3_SSL", "imaplib.IMAP4", "imaplib.IMAP4_SSL",
        "nntplib.NNTP", "ftplib.FTP", "ftplib.FTP_TLS", "asyncio.open_connection",
        "urllib3.HTTPConnectionPool", "urllib3.HTTPSConnectionPool",
    ), (0, 1)),
    **dict.fromkeys(
        ("socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"), (0, None)),
}
_ADDR = {"socket.create_connection", "paramiko.Transport"}  # an (host, port) address
_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
_URLS: dict[str, int] = {  # the URL's position
    **{f"{m}.{v}": 0 for m in ("requests", "httpx") for v in _VERBS},
    **dict.fromkeys((
        "requests.request", "httpx.request", "httpx.stream", "urllib3.request",
        "aiohttp.request", "requests.Request", "httpx.Request",
    ), 1),
    **dict.fromkeys((
        "urllib.request.urlopen", "urllib.request.Request", "urllib.request.urlretrieve",
        "xmlrpc.client.ServerProxy", "websockets.connect", "websocket.create_connection",
        "webbrowser.open",
    ), 0),
}
_SESSIONS = {"requests.Session", "httpx.Client", "urllib3.PoolManager", "aiohttp.ClientSession",
             "urllib.request.build_opener"}
# Code run from a string: (position, keyword) of each string.
_CODE_ARGS = dict.fromkeys(("timeit.timeit", "timeit.repeat", "timeit.Timer"),
                           ((0, "stmt"), (1, "setup")))
_EXEC_APIS = {"code.interact", "code.InteractiveInterpreter", "code.InteractiveConsole",
              "codeop.compile_command", "types.CodeType", "types.FunctionType",
              # a module run by name (its file is not looked into) and exec outside subprocess
              "runpy.run_module", "multiprocessing.util.spawnv_passfds"}
# Paths an API reads or writes whole: (name, argument position).
_RECURSIVE = {("shutil.copytree", 0), ("shutil.rmtree", 0), ("shutil.make_archive", 2),
              ("shutil.unpack_archive", 1)}
# Methods of unknown objects: connections; APIs reading or writing a path given as a string.
_DYN_CONNECT = {"create_connection", "sock_connect", "create_datagram_endpoint"}
_DYN_READ = ("read_", "load", "open", "from_")
_DYN_WRITE = ("to_", "save", "dump", "export")
_SUBPROCESS = {f"subprocess.{n}" for n in ("run", "call", "check_call", "check_output", "Popen")}
_SHELL_FUNCS = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
                "asyncio.create_subprocess_shell"}
_EXECS = {f"os.{n}": n for n in (
        "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
        "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
        "spawnvpe", "posix_spawn", "posix_spawnp",
    )}
_DESERIALIZE = {f"{m}.{f}" for m in ("pickle", "_pickle", "marshal", "dill", "cloudpickle")
                for f in ("load", "loads", "Unpickler")} | {"yaml.unsafe_load", "jsonpickle.decode"}
_NATIVE = {"ctypes", "_ctypes", "cffi", "_posixsubprocess", "_winapi"}
_SENS_MODULES = {"os", "os.path", "subprocess", "socket", "shutil", "pathlib", "builtins", "io",
                 "pty", "importlib", "http.client", "urllib.request", "requests", "httpx",
                 "aiohttp", "smtplib", "ftplib", "telnetlib", "paramiko", "sqlite3", "tarfile",
                 "zipfile", "glob", "runpy", "pickle", "marshal", "asyncio", "websockets", "sys"}
_SPECIAL = {"builtins.open", "os.open", "sqlite3.connect", "tarfile.open", "zipfile.ZipFile",
            "os.chdir", "pathlib.Path", "glob.glob", "glob.iglob", "builtins.eval", "builtins.exec",
            "builtins.compile", "builtins.__import__", "importlib.import_module", "pty.spawn",
            "asyncio.create_subprocess_exec", "socket.socket", "paramiko.SSHClient",
            "builtins.getattr", "builtins.setattr", "builtins.globals", "builtins.locals",
            "builtins.vars", "operator.methodcaller", "builtins.type"}
_ENVIRON = {"os.environ", "os.environb"}
# Calls that neither keep nor use their arguments (a path or a client passed is not lost).
_INERT = {f"builtins.{n}" for n in (
        "len", "isinstance", "issubclass", "hasattr", "id", "type", "bool", "hash",
        "callable", "int", "float", "abs", "round",
    )} | {
    f"os.path.{n}" for n in (
        "exists", "lexists", "isfile", "isdir", "islink", "getsize", "getmtime", "samefile",
    )}
_PRINTS = {"builtins.print", "builtins.str", "builtins.repr", "builtins.format", "builtins.ascii",
           "os.fspath", "os.fsencode", "os.fsdecode"}  # the environment printed is dumped
_CONTAINERS = {f"builtins.{n}" for n in ("list", "tuple", "sorted", "set", "frozenset",
                                         "reversed", "iter")}
_PATH_METHODS: dict[str, PathOp] = {
    **dict.fromkeys(("read_text", "read_bytes", "iterdir", "glob", "rglob", "readlink"), _R),
    **dict.fromkeys(("write_text", "write_bytes", "unlink", "rmdir", "mkdir", "touch", "chmod",
                     "lchmod", "rename", "replace", "symlink_to", "hardlink_to"), _W),
}
# pathlib writers: called on an unknown object, maybe a path (opaque)
_DYN_WRITERS = {"write_text", "write_bytes", "unlink", "rmdir", "mkdir", "touch", "symlink_to",
                "hardlink_to"}
_STR_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "removeprefix", "removesuffix",
                "startswith", "endswith", "title", "capitalize", "casefold", "split", "rsplit"}
_SQL_FILE = re.compile(r"(?i)\b(?:attach\s+(?:database\s+)?|vacuum\s+(?:\w+\s+)?into\s+)'([^']*)'")
# Modules whose functions take no paths: a string argument is text, not a maybe-read.
_PURE_MODULES = {
    "re", "json", "string", "datetime", "time", "logging", "argparse", "typing", "collections",
    "itertools", "functools", "math", "random", "hashlib", "hmac", "base64", "binascii",
    "textwrap", "enum", "dataclasses", "uuid", "decimal", "fractions", "statistics", "struct",
    "copy", "pprint", "operator", "warnings", "sys", "traceback", "unittest", "pytest", "abc",
    "contextlib", "secrets", "platform", "locale", "html", "urllib", "difflib", "shlex",
    "fnmatch", "zlib", "typing_extensions", "builtins", "os", "asyncio", "threading", "signal",
}
# Callables that do I/O, run code or connect: passed as a value, they are opaque.
_SENS_CALLS = {*_PATH_ARGS, *_HOSTPORT, *_ADDR, *_URLS, *_SESSIONS, *_SUBPROCESS, *_SHELL_FUNCS,
               *_EXECS, *_DESERIALIZE, *_SPECIAL, *_CODE_ARGS, *_EXEC_APIS} - {
    "pathlib.Path", "builtins.getattr", "builtins.globals", "builtins.locals", "builtins.vars",
    "os.chdir", "builtins.type", "operator.methodcaller"}
_CLIENTS = {"socket", "session", "client", "ssh"}
_POISON = re.compile(r"\b(?:global|nonlocal)\s+(\w+(?:\s*,\s*\w+)*)|\b(\w+)\s*:=")
