"""The cross-check on a claude-code run: Claude Code asks its hook with the input it will run
(normalised) and, for file tools, a second time once the path is absolute."""

from __future__ import annotations

import pytest

from runner.audit.crosscheck import normalised_input


@pytest.mark.parametrize(("decided", "model"), [
    ({"file_path": "/workspace/backend/a.py"}, {"file_path": "backend/a.py"}),
    ({"file_path": "backend/a.py", "replace_all": False, "old_string": "a", "new_string": "b"},
     {"file_path": "backend/a.py", "old_string": "a", "new_string": "b"}),
    ({"command": "python -m pytest backend", "timeout": 300},
     {"command": "cd /workspace && python -m pytest backend", "timeout": 300}),
    ({"command": "ls"}, {"command": "ls", "description": None}),
])
def test_claude_codes_normalisations_match(decided: dict[str, object],
                                          model: dict[str, object]) -> None:
    assert normalised_input(decided, model)


@pytest.mark.parametrize(("decided", "model"), [
    ({"file_path": "/etc/passwd"}, {"file_path": "backend/a.py"}),
    ({"file_path": "/workspace/backend/b.py"}, {"file_path": "backend/a.py"}),
    ({"command": "rm -rf backend"}, {"command": "cd /workspace && ls"}),
    ({"command": "ls"}, {"command": "cd /tmp && ls"}),
    ({"file_path": "a", "replace_all": True}, {"file_path": "a"}),
    ({"file_path": "a", "content": "x"}, {"file_path": "a", "content": "y"}),
    ({"file_path": "a", "edits": []}, {"file_path": "a"}),
])
def test_anything_else_is_a_different_call(decided: dict[str, object],
                                           model: dict[str, object]) -> None:
    assert not normalised_input(decided, model)
