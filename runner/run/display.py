"""Live progress of a run on stderr (rich). stdout stays free for ``--json``."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape

from runner.protocol import EventRequest
from runner.reports.summary import RunSummary


def _summarize_input(tool: str, data: dict[str, Any]) -> str:
    if tool == "Bash":
        text = str(data.get("command", ""))
    elif "file_path" in data:
        text = str(data.get("file_path", ""))
    elif "pattern" in data:
        text = f"{data.get('pattern', '')} in {data.get('path', '.')}"
    else:
        text = str(data.get("path", ""))
    text = " ".join(text.split())
    return text if len(text) <= 90 else text[:87] + "..."


class RunDisplay:
    """Prints one line per event: tool calls with their decision, turns, tokens, elapsed time."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.started = time.monotonic()
        self.turns = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self._lock = threading.Lock()

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def line(self, text: str, style: str = "") -> None:
        if self.quiet:
            return
        with self._lock:
            prefix = f"[dim]{self._elapsed()}[/dim] "
            self.console.print(prefix + (f"[{style}]{text}[/{style}]" if style else text))

    def step(self, text: str) -> None:
        self.line(escape(text), "cyan")

    def header(self, run_id: str, image: str, bundle_hash: str, agent: str, model: str) -> None:
        self.line(
            f"run [bold]{escape(run_id)}[/bold]  agent {escape(agent)}  model {escape(model)}\n"
            f"         image {escape(image)}  policy bundle {bundle_hash[:12]}"
        )

    def decision(self, tool: str, data: dict[str, Any], allow: bool, reasons: list[str]) -> None:
        what = escape(f"{tool} {_summarize_input(tool, data)}")
        if allow:
            self.line(f"[green]allow[/green] {what}")
        else:
            why = escape("; ".join(reasons))
            self.line(f"[bold red]DENY [/bold red] {what}\n                [red]{why}[/red]")

    def event(self, ev: EventRequest) -> None:
        if ev.kind == "turn":
            self.turns += 1
            usage = ev.data.get("usage") or ev.data
            self.input_tokens += int(usage.get("input_tokens", 0) or 0)
            self.output_tokens += int(usage.get("output_tokens", 0) or 0)
            self.line(
                f"[magenta]turn {self.turns}[/magenta] "
                f"[dim]tokens in {self.input_tokens} out {self.output_tokens}[/dim]"
            )
        elif ev.kind == "text":
            text = " ".join(str(ev.data.get("text", "")).split())
            if text:
                self.line(f"[italic]{escape(text[:200])}[/italic]")
        elif ev.kind == "agent_error":
            self.line(escape(f"agent error: {ev.data.get('message', '')}"), "red")
        elif ev.kind == "agent_finished":
            self.line(escape(f"agent finished: {ev.data.get('reason', '')}"), "cyan")

    def result(self, summary: RunSummary, run_dir: str) -> None:
        """The closing block: status, tests, coverage, decisions, where the record is."""
        colour = {"passed": "green", "gates_failed": "yellow"}.get(summary.status, "red")
        t = summary.tests
        cov = summary.coverage.line_percent if summary.coverage else None
        d = summary.decisions
        lines = [
            f"[bold {colour}]{summary.status.upper()}[/bold {colour}] (exit {summary.exit_code})"
            + (f": {escape(summary.failure)}" if summary.failure else ""),
            f"tests   {t.passed} passed, {t.failed} failed, {t.errors} errors, "
            f"{t.skipped} skipped" + (f"  [dim]({escape(t.error)})[/dim]" if t.error else ""),
            "coverage " + (f"{cov:.1f}% lines" if cov is not None else "n/a"),
            f"calls   {d.allowed} allowed, {d.denied} denied",
            f"issues  {len(summary.issues)}   audit head {(summary.audit.head_hash or '')[:16]}",
        ]
        for gate in summary.gates:
            if not gate.passed:
                lines.append(f"[yellow]gate {escape(gate.name)} failed:[/yellow] "
                             f"{escape(gate.detail)}")
        for failure in t.failures[:10]:
            lines.append(f"[red]  FAILED[/red] {escape(failure.test)}: {escape(failure.message)}")
        lines.append(f"run directory {escape(run_dir)}")
        with self._lock:
            self.console.print("\n".join(lines))
