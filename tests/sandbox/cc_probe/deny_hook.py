"""Stands in for runner.agent.hook in a test container: records the call, denies it."""

import json
import sys

call = json.load(sys.stdin)
with open("/tmp/hook-calls.jsonl", "a") as log:
    log.write(json.dumps(call) + "\n")
print(json.dumps({"hookSpecificOutput": {
    "hookEventName": "PreToolUse", "permissionDecision": "deny",
    "permissionDecisionReason": "denied by the test hook"}}))
