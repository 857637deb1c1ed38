# Claude Code's own tools (`--runtime claude-code`; runner/policy/claude_code.py maps its
# calls: MultiEdit and NotebookEdit are Edits, Task is Agent). WebFetch is network.rego's.
#
# - web_search_not_allowed: WebSearch runs on Anthropic's servers, outside the sandbox's
#   egress control, so it is denied unless data.settings.allow_web_search is true.
# - subagent_isolation: a subagent (Agent) runs in this sandbox like the agent, its calls
#   decided by the same hook: no `isolation` (a git worktree, or a remote session off the
#   sandbox).
# - subagent_mode: a subagent's permission mode may not loosen Claude Code's own fallback
#   (the hook decides every call; if it cannot answer, Claude Code's permission mode does):
#   only default, plan and dontAsk.
# Agent calls otherwise, and the bookkeeping tools (TodoWrite, Task*, ToolSearch,
# ListAgents: Claude Code's memory only), have no reason to be denied here.
package sandbox.claude_code

import rego.v1

deny := [] if {
	# the common case: not one of the tools decided here
	not input.tool.name in {"WebSearch", "Agent"}
} else := [reason(
	"web_search_not_allowed",
	"WebSearch is not allowed: it runs on Anthropic's servers, outside the sandbox's egress control (settings.allow_web_search is off); work from the files in the workspace and the installed packages' documentation",
)] if {
	input.tool.name == "WebSearch"
	not data.settings.allow_web_search == true
} else := array.concat(
	[reason(
		"subagent_isolation",
		sprintf("subagents run in this sandbox only: isolation %q is not allowed; call Agent without isolation", [input.tool.input.isolation]),
	) |
		is_string(input.tool.input.isolation)
		input.tool.input.isolation != ""
	],
	[reason(
		"subagent_mode",
		sprintf("a subagent's permission mode %q is not allowed (default, plan or dontAsk); call Agent without mode", [input.tool.input.mode]),
	) |
		is_string(input.tool.input.mode)
		not input.tool.input.mode in {"default", "plan", "dontAsk"}
	],
) if {
	input.tool.name == "Agent"
} else := []

reason(rule, msg) := {"policy": "claude_code", "rule": rule, "msg": msg}
