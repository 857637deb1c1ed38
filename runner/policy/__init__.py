"""Policy input, derivation of facts from a tool call, engines and decisions."""
