"""Live progress of a run on stderr (rich). stdout stays free for ``--json``.

Most of what is shown comes from the sandbox: tool names and inputs, deny reasons
(which quote them), model text, agent stderr, test names and failure messages.
Each such value goes through :func:`shown` (one line, :mod:`runner.sanitize`: no
escape sequences or control characters, no workflow commands, capped) and then
rich's markup escape, so it can neither forge terminal output or CI annotations
nor style itself. Only this module adds markup.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from runner.sanitize import one_line

if TYPE_CHECKING:  # the reports' models are imported after the agent phase, not at startup
    from rich.console import Console

    from runner.protocol import EventRequest
    from runner.reports.summary import RunSummary

INPUT_WIDTH = 90
TEXT_WIDTH = 200
LINE_WIDTH = 300
MAX_FAILURES = 10


def escape(text: str) -> str:
    """rich's markup escape (rich is imported with the first line shown: not before a run's
    container starts)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def shown(value: object, cap: int = LINE_WIDTH) -> str:
    """Sandbox text as rich markup that shows it literally, on one line."""
    return escape(one_line(value, cap))


class RunDisplay:
    """Prints one line per event: tool calls with their decision, turns, tokens, elapsed time."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self._console = console
        self.quiet = quiet
        self.started = time.monotonic()
        self.turns = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self._lock = threading.Lock()

    @property
    def console(self) -> Console:
        """stderr's rich console, made for the first line shown."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
        return self._console

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def line(self, text: str, style: str = "") -> None:
        """Print rich markup: callers pass host text or :func:`shown` sandbox text."""
        if self.quiet:
            return
        with self._lock:
            prefix = f"[dim]{self._elapsed()}[/dim] "
            self.console.print(prefix + (f"[{style}]{text}[/{style}]" if style else text))

    def step(self, text: str) -> None:
        self.line(shown(text, 0), "cyan")

    def header(self, run_id: str, image: str, bundle_hash: str, agent: str, model: str) -> None:
        self.line(
            f"run [bold]{shown(run_id)}[/bold]  agent {shown(agent)}  model {shown(model)}\n"
            f"         image {shown(image)}  policy bundle {shown(bundle_hash[:12])}"
        )

    def decision(self, tool: str, data: dict[str, Any], allow: bool, reasons: list[str]) -> None:
        from runner.audit.show import summarize_call  # (the tool models: not before a run starts)

        what = f"{shown(tool, 60)} {shown(summarize_call(tool, data, INPUT_WIDTH), INPUT_WIDTH)}"
        if allow:
            self.line(f"[green]allow[/green] {what}")
        else:
            why = shown("; ".join(reasons), 1000)
            self.line(f"[bold red]DENY [/bold red] {what}\n                [red]{why}[/red]")

    def connection(self, target: dict[str, Any], allow: bool, reasons: list[str]) -> None:
        """A connection the egress proxy was asked for, with its decision (as logged)."""
        host, port = target.get("host", "?"), target.get("port", "?")
        what = (f"[blue]connect[/blue] {shown(target.get('method', '?'), 16)} "
                f"{shown(f'{host}:{port}', 300)} [dim]({shown(target.get('phase', '?'), 16)})[/dim]")
        if allow:
            self.line(f"[green]allow[/green] {what}")
        else:
            why = shown("; ".join(reasons), 1000)
            self.line(f"[bold red]DENY [/bold red] {what}\n                [red]{why}[/red]")

    def egress_refused(self, host: str, port: object, status: int, reason: str) -> None:
        """An allowed connection the proxy still refused (its address, a cap) or could not make."""
        self.line(f"[bold red]REFUSED[/bold red] [blue]connect[/blue] {shown(f'{host}:{port}', 300)} "
                  f"[dim](HTTP {status})[/dim]\n                [red]{shown(reason, 1000)}[/red]")

    def agent_stderr(self, line: str) -> None:
        """One line the agent process wrote to stderr."""
        text = one_line(line, LINE_WIDTH)
        if text:
            self.line(f"[dim]agent: {escape(text)}[/dim]")

    def failure(self, message: str) -> None:
        """Why the run failed (the message may quote the agent)."""
        self.line(f"[bold red]run failed:[/bold red] {shown(message, 1000)}")

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
            text = shown(ev.data.get("text", ""), TEXT_WIDTH)
            if text:
                self.line(f"[italic]{text}[/italic]")
        elif ev.kind == "agent_error":
            self.line("agent error: " + shown(ev.data.get("message", ""), 1000), "red")
        elif ev.kind == "agent_finished":
            self.line("agent finished: " + shown(ev.data.get("reason", "")), "cyan")

    def result(self, summary: RunSummary, run_dir: str) -> None:
        """The closing block: status, tests, coverage, decisions, where the record is."""
        colour = {"passed": "green", "gates_failed": "yellow"}.get(summary.status, "red")
        t = summary.tests
        cov = summary.coverage.line_percent if summary.coverage else None
        d = summary.decisions
        lines = [
            f"[bold {colour}]{shown(summary.status.upper())}[/bold {colour}] "
            f"(exit {summary.exit_code})"
            + (f": {shown(summary.failure, 1000)}" if summary.failure else ""),
            f"tests   {t.passed} passed, {t.failed} failed, {t.errors} errors, "
            f"{t.skipped} skipped" + (f"  [dim]({shown(t.error)})[/dim]" if t.error else ""),
            "coverage " + (f"{cov:.1f}% lines" if cov is not None else "n/a"),
            f"calls   {d.allowed} allowed, {d.denied} denied",
            *([f"egress  {e.connections} connections: {e.allowed} allowed, {e.denied} denied, "
               f"{e.refused} refused, {e.failed} failed; {e.bytes_up + e.bytes_down} bytes"]
              if (e := summary.egress) is not None else []),
            f"issues  {len(summary.issues)}   audit head "
            f"{shown((summary.audit.head_hash or '')[:16])}",
        ]
        for gate in summary.gates:
            if not gate.passed:
                lines.append(f"[yellow]gate {shown(gate.name)} failed:[/yellow] "
                             f"{shown(gate.detail, 600)}")
        for failure in t.failures[:MAX_FAILURES]:
            lines.append(f"[red]  FAILED[/red] {shown(failure.test)}: {shown(failure.message)}")
        more = len(t.failures) + t.failures_omitted - min(len(t.failures), MAX_FAILURES)
        if more > 0:
            lines.append(f"[red]  … {more} more failures[/red] (summary.md lists them)")
        lines.append(f"run directory {shown(run_dir, 0)}")
        with self._lock:
            self.console.print("\n".join(lines))
