"""What a process in the sandbox sees of the egress proxy.

``render(config)`` returns a probe script with every target written literally, which the tests
write into the project's backend/ with the Write tool and run with ``python3``: the policy sees
the hosts the script contacts (issue 9's Python analysis denies a host it cannot see), and the
proxy then decides each connection.
"""

from __future__ import annotations

from typing import Any

_HEAD = '''import os
import socket
import urllib.error
import urllib.request


def shown(resp):
    return f"{resp.status} {len(resp.read())} bytes"


def answer(sock, data):
    sock.settimeout(30)
    sock.sendall(data)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out.decode("utf-8", "replace").replace("\\r\\n", " | ")


print("proxy variables:", [os.environ.get(k) for k in ("HTTP_PROXY", "https_proxy", "NO_PROXY")])
'''


def render(config: dict[str, Any], relay_port: int = 3128) -> str:
    lines = [_HEAD]
    for url in config["urls"]:  # inline: one literal URL per call, so the policy sees each host
        lines += ["try:",
                  f"    with urllib.request.urlopen({url!r}, timeout=30) as resp:",
                  f"        print('fetch', {url!r}, '->', shown(resp))",
                  "except urllib.error.HTTPError as exc:",
                  f"    print('fetch', {url!r}, '->', exc.code, exc.read().decode('utf-8', 'replace'))",
                  "except OSError as exc:",
                  f"    print('fetch', {url!r}, '->', 'error', exc)"]
    for i, target in enumerate(config["raw"]):
        request = f"GET {target} HTTP/1.1\r\n\r\n".encode()
        lines += [f"with socket.create_connection(('127.0.0.1', {relay_port})) as s{i}:",
                  f"    print('relay', {target!r}, '->', answer(s{i}, {request!r}))"]
    if config.get("socket"):
        lines += ["with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:",
                  f"    u.connect({config['socket']!r})",
                  "    print('socket without token ->', "
                  "answer(u, b'CONNECT pypi.org:443 HTTP/1.1\\r\\n\\r\\n'))"]
    return "\n".join(lines) + "\n"
