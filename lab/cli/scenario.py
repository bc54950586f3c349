"""`lab scenario`: list the scenarios, run some (`lab scenario rotate-password hook-deadlock`) or all.

Only parses flags and builds the real context factory; `lab.scenario.command` does the rest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lab.cli.application import CLUSTER, IMAGES, Application, command_class
from lab.scenario.command import list_scenarios, run_scenarios
from lab.scenario.engine import RunOptions
from lab.scenario.live import LiveContextFactory

NamesArg = Annotated[list[str] | None, typer.Argument(
    help="scenario ids (see `lab scenario list`), or `list`", show_default=False)]


def scenario(ctx: typer.Context, names: NamesArg = None,
             all_: Annotated[bool, typer.Option("--all", help="run every scenario")] = False,
             pause: Annotated[bool, typer.Option("--pause", help="wait for Enter before each step (live demos; needs a terminal)")] = False,
             keep: Annotated[bool, typer.Option("--keep", help="leave the namespace and release for inspection")] = False,
             report_dir: Annotated[Path | None, typer.Option("--report-dir", help="write JUnit XML, JSON and Markdown reports here")] = None,
             fail_fast: Annotated[bool, typer.Option("--fail-fast", help="stop the whole run at the first deviation")] = False,
             jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="scenarios run at once, each in its own namespace "
                                                      "(default: one more than the CPUs, at most 4; 1 with --pause)")] = None) -> None:
    """Reproduce the seed's failures and their fixes, step by step: `lab scenario list`,
    `lab scenario rotate-password`, `lab scenario --all --report-dir reports`."""
    lab = Application.of(ctx)
    if names == ["list"] and not all_:
        raise typer.Exit(list_scenarios(lab.console))
    options = RunOptions(pause=pause, keep=keep, fail_fast=fail_fast, report_dir=report_dir,
                         jobs=jobs or (1 if pause else default_jobs()))
    factory = LiveContextFactory(lab.config, lab.runner)
    try:
        code = run_scenarios(list(names or []), factory, options, all_scenarios=all_, console=lab.console)
    finally:  # namespaces are deleted in the background while the next scenario runs: awaited once here
        for namespace in factory.settle():
            lab.err_console.print(f"warning: namespace {namespace} is still being deleted", markup=False)
    raise typer.Exit(code)


def default_jobs() -> int:
    """A scenario mostly waits for pods: one more than the CPUs keeps them busy; four at most keeps the
    kind node's memory and the console readable."""
    return max(1, min(4, (os.cpu_count() or 1) + 1))


def register(app: typer.Typer) -> None:
    app.command(cls=command_class(CLUSTER, IMAGES))(scenario)
