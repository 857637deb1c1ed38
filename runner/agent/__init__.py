"""The in-container agent: ``python -m runner.agent``.

Runs inside the sandbox image. It may import only the standard library,
anthropic, httpx, pydantic and :mod:`runner.protocol` (it is copied into the
image alone). Its only channel out is the gateway's unix socket.
"""
