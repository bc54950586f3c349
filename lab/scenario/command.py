"""What `lab scenario ...` does, so that `lab/cli/scenario.py` only parses flags and builds the context factory:

    lab scenario list                 -> list_scenarios()
    lab scenario rotate-password ...  -> run_scenarios(["rotate-password"], ...)
    lab scenario --all ...            -> run_scenarios([], all_scenarios=True, ...)
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from lab.scenario.console import ConsoleObserver, print_list
from lab.scenario.engine import Engine, PauseNeedsTerminal, RunOptions
from lab.scenario.model import ContextFactory
from lab.scenario.registry import DEFAULT_PACKAGE, ScenarioError, discover
from lab.scenario.report import write_reports


def list_scenarios(console: Console | None = None, package: str = DEFAULT_PACKAGE) -> int:
    print_list(discover(package).summaries(), console)
    return 0


def run_scenarios(names: list[str], make_context: ContextFactory, options: RunOptions = RunOptions(), *,
                  all_scenarios: bool = False, console: Console | None = None, package: str = DEFAULT_PACKAGE) -> int:
    """Runs the named scenarios (or all), renders them, writes the reports; returns the exit code
    (0 all as expected, 1 deviation, 130 interrupted). Raises ScenarioError on bad input."""
    registry = discover(package)
    if all_scenarios and names:
        raise ScenarioError("give scenario names or --all, not both")
    if not all_scenarios and not names:
        raise ScenarioError("no scenario given", "name one (see `lab scenario list`) or use --all")
    scenarios = registry.all() if all_scenarios else registry.select(names)
    if not scenarios:  # `--all` over an empty package must not pass silently
        raise ScenarioError(f"no scenarios found in the {package!r} package")
    if options.pause and options.jobs > 1:
        raise ScenarioError("--pause shows one step at a time: it cannot run scenarios in parallel", "drop --jobs (or --pause)")
    console = console or Console(highlight=False)
    observer = ConsoleObserver(console)
    try:
        result = Engine(make_context, options, observer).run(scenarios)
    except PauseNeedsTerminal as error:
        raise ScenarioError(str(error), "drop --pause when the output is not a terminal (CI, pipes)") from error
    if options.report_dir is not None:
        paths = write_reports(result, options.report_dir)
        console.print(Text("reports: " + ", ".join(str(path) for path in paths), style="dim"))
    return result.exit_code
