# Claude Code against the fake API, with user settings that try to switch hooks off and
# bypass mode asked for; prints what the test checks.
export HOME=/tmp/home FAKE_LOG=/tmp/api.jsonl
mkdir -p "$HOME/.claude"
echo '{"disableAllHooks": true, "hooks": {}}' > "$HOME/.claude/settings.json"
python3 /probe/fake_api.py 4999 /probe/script.json > /tmp/fake.out 2>&1 &
until grep -q ready /tmp/fake.out 2>/dev/null; do sleep 0.05; done
cd /tmp && ANTHROPIC_BASE_URL=http://127.0.0.1:4999 ANTHROPIC_API_KEY=dummy \
  /opt/claude-code/bin/claude -p go --output-format stream-json --verbose \
  --permission-mode bypassPermissions > /tmp/out.jsonl 2> /tmp/err.txt
echo "rc=$?"
echo "written=$(test -e /tmp/written && echo yes || echo no)"
echo "hook_calls=$(cat /tmp/hook-calls.jsonl 2>/dev/null | wc -l)"
grep -c '"type":"tool_result"' /tmp/out.jsonl | sed 's/^/tool_results=/'
grep -o 'denied by the test hook' /tmp/out.jsonl | head -1 | sed 's/^/reason=/'
