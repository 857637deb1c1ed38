"""The in-container agent: ``python -m runner.agent``.

Runs inside the sandbox image. It may import only the standard library,
httpx, pydantic, wcmatch and :mod:`runner.protocol` (it is copied into the
image alone); never the anthropic SDK (seconds to import: it speaks the
Messages API itself). Its only channel out is the gateway's unix socket.
"""
