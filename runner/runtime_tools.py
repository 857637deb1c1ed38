"""The tools of each runtime, as an agent file's ``tools``/``disallowedTools`` name them.

- ``builtin``: the built-in tool loop's tools (runner/protocol.py ``BUILTIN_TOOLS``). Claude Code
  tools it does not have are dropped with the reason (runner/agentdef.py).
- ``claude-code``: Claude Code's tools that the sandbox supports; every call of each is
  decided on the host by the PreToolUse hook (runner/policy/claude_code.py maps them onto
  the policy tools). The rest of Claude Code's tools are dropped with the reason, and the
  binary is started with ``--tools`` naming only the granted ones (:func:`claude_tool_args`).

``MultiEdit`` is Edit in both (Claude Code's current binary has no MultiEdit); ``Task`` is
Claude Code's older name of ``Agent``.
"""

from __future__ import annotations

from runner.policy.models import BOOKKEEPING_TOOLS, CLAUDE_CODE_ONLY_TOOLS
from runner.protocol import BUILTIN_TOOLS
from runner.wire import RUNTIMES as RUNTIMES
from runner.wire import Runtime as Runtime

# the built-in tools' names are Claude Code's (runner/protocol.py "Tool inputs")
CLAUDE_CODE_TOOLS = (*BUILTIN_TOOLS, "NotebookEdit", *CLAUDE_CODE_ONLY_TOOLS)
# Tool names the pinned Claude Code binary does not have (images/claude-code/claude-code.toml):
# a call of one is answered by Claude Code itself ("No such tool available"), never run and
# never sent to the hook (checked against the binary: tests/run/test_claude_code_e2e.py).
CLAUDE_CODE_ABSENT = frozenset({"LS", "MultiEdit", "TodoRead", "NotebookRead"})
RUNTIME_TOOLS: dict[Runtime, tuple[str, ...]] = {"builtin": BUILTIN_TOOLS,
                                                 "claude-code": CLAUDE_CODE_TOOLS}
# An agent file's tool name that is another tool of the runtime.
TOOL_ALIASES: dict[Runtime, dict[str, str]] = {
    "builtin": {"MultiEdit": "Edit"},
    "claude-code": {"MultiEdit": "Edit", "Task": "Agent"},
}
# The policy tool a granted tool's calls are decided as (runner/policy/claude_code.py).
POLICY_NAMES = {"NotebookEdit": "Edit", "MultiEdit": "Edit", "Task": "Agent"}

_NO_NETWORK = "no network in the sandbox"
_NO_AGENTS = "no subagents in this runtime"
_NO_TEAMS = "no task lists or agent teams in this runtime"
_UNATTENDED = "runs are unattended and end with the task: nothing is scheduled or watched"
# Claude Code tools the built-in runtime does not have, and why.
BUILTIN_UNAVAILABLE: dict[str, str] = {
    "WebFetch": _NO_NETWORK, "WebSearch": _NO_NETWORK,
    "Task": _NO_AGENTS, "Agent": _NO_AGENTS,
    "TodoWrite": "no todo list in this runtime", "TodoRead": "no todo list in this runtime",
    "NotebookEdit": "no notebook tools in this runtime",
    "NotebookRead": "no notebook tools in this runtime (Read reads files)",
    "BashOutput": "no background shells in this runtime",
    "KillShell": "no background shells in this runtime",
    "KillBash": "no background shells in this runtime",
    "Skill": "no skills in this runtime", "SlashCommand": "no slash commands in this runtime",
    "ExitPlanMode": "no plan mode in this runtime", "EnterPlanMode": "no plan mode in this runtime",
    "EnterWorktree": "no worktrees in this runtime", "ExitWorktree": "no worktrees in this runtime",
    "AskUserQuestion": "runs are unattended: there is no user to ask",
    "LSP": "no language servers in this runtime",
    "ListMcpResourcesTool": "no MCP servers in the sandbox",
    "ReadMcpResourceTool": "no MCP servers in the sandbox",
    "SendMessage": _NO_TEAMS, "TeamCreate": _NO_TEAMS, "TeamDelete": _NO_TEAMS,
    **{name: _NO_TEAMS for name in BOOKKEEPING_TOOLS if name.startswith("Task")},
    "ToolSearch": "no deferred tools in this runtime",
    "ListAgents": _NO_AGENTS,
}
# Claude Code tools the sandbox does not offer Claude Code, and why.
CLAUDE_CODE_UNAVAILABLE: dict[str, str] = {
    "TodoRead": "not in current Claude Code (TodoWrite and the Task* tools keep the list)",
    "NotebookRead": "not in current Claude Code (Read reads notebooks)",
    "Skill": "no skills in the sandbox", "SlashCommand": "no slash commands in the sandbox",
    "ExitPlanMode": "runs are unattended: no plan mode",
    "EnterPlanMode": "runs are unattended: no plan mode",
    "EnterWorktree": "no worktrees in the sandbox (the workspace's .git is read-only)",
    "ExitWorktree": "no worktrees in the sandbox (the workspace's .git is read-only)",
    "AskUserQuestion": "runs are unattended: there is no user to ask",
    "LSP": "no language servers in the sandbox",
    "ListMcpResourcesTool": "no MCP servers in the sandbox",
    "ReadMcpResourceTool": "no MCP servers in the sandbox",
    "SendMessage": "no agent teams in the sandbox", "TeamCreate": "no agent teams in the sandbox",
    "TeamDelete": "no agent teams in the sandbox",
    "CronCreate": _UNATTENDED, "CronDelete": _UNATTENDED, "CronList": _UNATTENDED,
    "ScheduleWakeup": _UNATTENDED, "Monitor": _UNATTENDED, "RemoteTrigger": _UNATTENDED,
    "PushNotification": _UNATTENDED,
    "BashOutput": "not in current Claude Code (TaskOutput reads background output)",
    "KillShell": "not in current Claude Code (TaskStop stops background work)",
    "KillBash": "not in current Claude Code (TaskStop stops background work)",
}
UNAVAILABLE: dict[Runtime, dict[str, str]] = {"builtin": BUILTIN_UNAVAILABLE,
                                              "claude-code": CLAUDE_CODE_UNAVAILABLE}


def unavailable_reason(name: str, runtime: Runtime) -> str:
    """Why a tool an agent file names is not granted by ``runtime``."""
    if name.startswith("mcp__"):
        return "an MCP tool: no MCP servers in the sandbox"
    if name in UNAVAILABLE[runtime]:
        return f"not available: {UNAVAILABLE[runtime][name]}"
    close = [t for t in RUNTIME_TOOLS[runtime] if t.lower() == name.lower()]
    if close:
        return f"unknown tool (tool names are case-sensitive: {close[0]}?)"
    if runtime == "claude-code":
        return "not available in the sandbox (not a Claude Code tool the sandbox supports)"
    return "unknown tool: not a tool of Claude Code or of this runtime"


def policy_tool_names(granted: list[str]) -> list[str]:
    """The policy input's ``run.tools`` for a claude-code agent granted ``granted``: the
    names its calls are decided as (NotebookEdit is decided as Edit, Task as Agent)."""
    return list(dict.fromkeys(POLICY_NAMES.get(t, t) for t in granted))


def claude_tool_args(granted: list[str]) -> list[str]:
    """Arguments for the claude binary: ``--tools`` naming exactly the granted tools ("" for
    none) and ``--disallowedTools`` naming the sandbox's other tools (both, so neither
    Claude Code's defaults nor an agent file's own list can add one).

    Names the binary does not have (LS, TodoWrite in current versions) are ignored by it
    (tests/test_runtime_tools.py checks that against the binary); MultiEdit and Task never
    appear here: they are granted as Edit and Agent.
    """
    names = [t for t in granted if t in CLAUDE_CODE_TOOLS]
    others = [t for t in CLAUDE_CODE_TOOLS if t not in names]
    args = ["--tools", ",".join(names)]
    if others:
        args += ["--disallowedTools", ",".join(others)]
    return args
