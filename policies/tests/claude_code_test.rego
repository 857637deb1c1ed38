package sandbox.claude_code_test

import rego.v1

import data.sandbox.testlib as t

tool(name, inp, hosts) := object.union(t.call(name, []), {"tool": {"name": name, "input": inp}, "hosts": hosts})

fetch(url, host, port, scheme) := tool("WebFetch", {"url": url, "prompt": "summarise"}, [{"host": host, "port": port, "via": "webfetch", "scheme": scheme}])

allowlist := object.union(data.settings, {"allowed_hosts": ["docs.python.org", "*.example.com:8443"], "allowed_presets": []})

test_webfetch_only_allowlisted_hosts if {
	t.denied_by(fetch("https://docs.python.org/3/", "docs.python.org", 443, "https"), "network", "host_not_allowed")
	t.allowed(fetch("https://docs.python.org/3/", "docs.python.org", 443, "https")) with data.settings as allowlist
	data.sandbox.decision.allow == true with input as fetch("http://docs.python.org/", "docs.python.org", 80, "http") with data.settings as allowlist
	data.sandbox.decision.allow == true with input as fetch("https://a.example.com:8443/x", "a.example.com", 8443, "https") with data.settings as allowlist
	data.sandbox.decision.allow == false with input as fetch("https://a.example.com/x", "a.example.com", 443, "https") with data.settings as allowlist
	data.sandbox.decision.allow == false with input as fetch("https://docs.python.org:8080/", "docs.python.org", 8080, "https") with data.settings as allowlist
	t.reasons_complete(fetch("https://evil.test/", "evil.test", 443, "https"))
}

test_webfetch_no_loopback_exception if {
	t.allowed(t.bash([["curl", "http://127.0.0.1:8000/"]], [])) # Bash may (servers the agent started)
	# Bash may reach servers the agent started on loopback; WebFetch follows the egress allowlist
	t.denied_by(fetch("http://127.0.0.1:4141/v1/decide", "127.0.0.1", 4141, "http"), "network", "host_not_allowed")
	t.denied_by(fetch("http://localhost/", "localhost", 80, "http"), "network", "host_not_allowed")
}

test_webfetch_needs_an_http_url if {
	t.denied_by(fetch("file:///etc/passwd", "", null, "file"), "network", "url_not_http")
	t.denied_by(fetch("ftp://docs.python.org/", "docs.python.org", null, "ftp"), "network", "url_not_http")
	t.denied_by(fetch("https:///nohost", "", 443, "https"), "network", "url_not_http")
	t.allowed(fetch("http://docs.python.org/", "docs.python.org", 80, "http")) with data.settings as allowlist
	d := data.sandbox.decision with input as fetch("file:///etc/passwd", "", null, "file") with data.settings as allowlist
	d.allow == false
	contains(d.reasons[0].msg, "http and https URLs only")
}

test_websearch_denied_by_default if {
	t.denied_by(tool("WebSearch", {"query": "fastapi"}, []), "claude_code", "web_search_not_allowed")
	t.reasons_complete(tool("WebSearch", {"query": "fastapi"}, []))
	allowed_search := object.union(data.settings, {"allow_web_search": true})
	t.allowed(tool("WebSearch", {"query": "x"}, [])) with data.settings as allowed_search
}

test_subagents if {
	t.allowed(tool("Agent", {"description": "d", "prompt": "p", "subagent_type": "general-purpose"}, []))
	t.allowed(tool("Agent", {"description": "d", "prompt": "p", "mode": "plan"}, []))
	t.denied_by(tool("Agent", {"description": "d", "prompt": "p", "isolation": "remote"}, []), "claude_code", "subagent_isolation")
	t.denied_by(tool("Agent", {"description": "d", "prompt": "p", "mode": "bypassPermissions"}, []), "claude_code", "subagent_mode")
	t.reasons_complete(tool("Agent", {"prompt": "p", "isolation": "worktree", "mode": "auto"}, []))
}

test_bookkeeping_allowed if {
	every name in ["TodoWrite", "TaskCreate", "TaskGet", "TaskList", "TaskUpdate", "TaskStop", "TaskOutput", "ToolSearch", "ListAgents"] {
		t.allowed(tool(name, {}, []))
	}
}

test_unknown_claude_code_tool if {
	t.denied_by(tool("CronCreate", {"cron": "* * * * *", "prompt": "x"}, []), "input", "unknown_tool")
	t.denied_by(tool("mcp__github__create_issue", {}, []), "input", "unknown_tool")
	d := data.sandbox.decision with input as tool("Skill", {}, [])
	startswith(d.reasons[0].msg, "tool Skill is not available in the sandbox")
}

test_granted_names if {
	granted := object.union(tool("WebFetch", {"url": "https://x"}, []), {"run": {"tools": ["Read", "Edit"]}})
	t.denied_by(granted, "agent", "tool_not_granted")
	edit := object.union(t.write("backend/a.py"), {"tool": {"name": "Edit", "input": {}, "called": {"name": "MultiEdit", "input": {}}}, "run": {"tools": ["Edit"]}})
	t.allowed(edit)
}
