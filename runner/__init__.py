"""sandbox-runner: run an LLM coding agent on your code without trusting it."""

__version__ = "0.1.0"
