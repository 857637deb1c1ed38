# Helpers for the policy tests: build inputs and read decisions.
package sandbox.testlib

import rego.v1

# A path fact as derivation makes it, for a path that is not a symlink.
fact(raw, op) := {
	"raw": raw, "path": raw, "real": raw, "op": op,
	"inside_workspace": startswith(raw, "/") == false,
	"symlink": false, "via": "tool", "hardlinks": 1,
}

# The same, resolving through a symlink to `real`.
linked(raw, real, op) := object.union(fact(raw, op), {
	"real": real, "symlink": true,
	"inside_workspace": startswith(real, "/") == false,
})

call(tool, paths) := {
	"tool": {"name": tool, "input": {}},
	"paths": paths, "shell": null, "hosts": [], "secrets": [], "errors": [],
	"run": {"id": "test", "agent": "test", "workspace": "/workspace"},
}

read(path) := call("Read", [fact(path, "read")])

write(path) := call("Write", [fact(path, "write")])

write_fact(f) := call("Write", [f])

cmd(argv) := {"program": argv[0], "argv": argv}

bash(commands, paths) := object.union(call("Bash", paths), {"shell": {
	"parsed": true, "opaque": [], "commands": [cmd(argv) | some argv in commands],
}})

rules(inp) := {[r.policy, r.rule] | some r in d.reasons} if {
	d := data.sandbox.decision with input as inp
}

allowed(inp) if {
	data.sandbox.decision.allow == true with input as inp
}

# Denied, with `rule` of `policy` among the reasons.
denied_by(inp, policy, rule) if {
	data.sandbox.decision.allow == false with input as inp
	[policy, rule] in rules(inp)
}

# Every reason of a deny names its policy and rule and says something.
reasons_complete(inp) if {
	d := data.sandbox.decision with input as inp
	count(d.reasons) > 0
	every r in d.reasons {
		r.policy != ""
		r.rule != ""
		count(r.msg) > 20
	}
}
