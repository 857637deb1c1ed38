"""A scripted Messages API for Claude Code inside a test container (stdlib only; run with the
image's system python3): each POST /v1/messages answers the next turn of script.json as
server-sent events; every request is appended to $FAKE_LOG."""

import http.server
import itertools
import json
import os
import sys

with open(sys.argv[2]) as script:
    TURNS = json.load(script)
COUNTER = itertools.count()


def events(turn):
    content = ([{"type": "text", "text": turn["text"]}] if turn.get("text") else []) + [
        {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args}
        for i, (name, args) in enumerate(turn.get("tools", []))]
    yield {"type": "message_start", "message": {
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1}}}
    for i, block in enumerate(content):
        if block["type"] == "text":
            yield {"type": "content_block_start", "index": i,
                   "content_block": {"type": "text", "text": ""}}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield {"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield {"type": "content_block_delta", "index": i, "delta": delta}
        yield {"type": "content_block_stop", "index": i}
    stop = "tool_use" if turn.get("tools") else "end_turn"
    yield {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
           "usage": {"output_tokens": 1}}
    yield {"type": "message_stop"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _empty(self, status):
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_HEAD(self):
        self._empty(200)

    def do_GET(self):
        self._empty(404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        with open(os.environ["FAKE_LOG"], "a") as log:
            log.write(json.dumps({"path": self.path, "body": body}) + "\n")
        if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
            self._empty(404)
            return
        i = next(COUNTER)
        turn = TURNS[i] if i < len(TURNS) else {"text": "done"}
        data = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()
                        for e in events(turn))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("fake api ready", flush=True)
server.serve_forever()
