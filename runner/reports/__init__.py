"""Results of a run: runner-owned verification, report parsing, gates and summaries.

Modules, one concern each:

- :mod:`.xmlsafe`   XML parsing that refuses DTDs and entities (reports come from agent-written code)
- :mod:`.junit`     JUnit XML -> :class:`~.junit.TestResults`
- :mod:`.coverage`  Cobertura XML -> :class:`~.coverage.CoverageReport`
- :mod:`.issues`    the agent's ``issues.md`` -> :class:`~.issues.IssueEntry` list
- :mod:`.diff`      before/after snapshot of ``backend/`` -> :class:`~.diff.BackendDiff`
- :mod:`.gates`     quality gates (tests pass, line coverage threshold)
- :mod:`.summary`   :class:`~.summary.RunSummary` (``summary.json``) and decision statistics
- :mod:`.markdown`  ``summary.md`` and ``$GITHUB_STEP_SUMMARY``
- :mod:`.html`      the self-contained HTML report for auditors
- :mod:`.findings`  denied decisions and failed gates for CI (one decision accessor, both log layouts)
- :mod:`.sarif`, :mod:`.annotations`, :mod:`.codequality`  SARIF 2.1.0, GitHub workflow
  commands, GitLab Code Quality; :mod:`.formats` dispatches ``report --format``
- :mod:`.verify`    the verification container
- :mod:`.collect`   glue: turn a finished run's files into the pieces of the summary
"""
