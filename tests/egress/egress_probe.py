"""What a process in the sandbox sees of the egress proxy (copied into the project's backend/
by tests/egress/test_egress_e2e.py; its targets come from a JSON file named on the command
line, so the command the policy decides is always the same)."""
import json
import os
import socket
import sys
import urllib.error
import urllib.request


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return f"{resp.status} {len(resp.read())} bytes"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode('utf-8', 'replace').strip()}"
    except OSError as exc:
        return f"error {exc}"


def raw(address, data):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(address)
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out.decode("utf-8", "replace").replace("\r\n", " | ")


def main():
    with open(sys.argv[1]) as fh:
        config = json.load(fh)
    port = int(os.environ.get("http_proxy", "http://127.0.0.1:0").rsplit(":", 1)[1])
    print("proxy variables:", [os.environ.get(k) for k in ("HTTP_PROXY", "https_proxy", "NO_PROXY")])
    for url in config["urls"]:
        print("fetch", url, "->", fetch(url))
    for target in config["raw"]:
        print("relay", target, "->", raw(("127.0.0.1", port), f"GET {target} HTTP/1.1\r\n\r\n".encode()))
    print("socket without token ->", raw(config["socket"], b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n"))


main()
