"""How `lab up` looks: one line per step as it starts and ends (a mark per state), the live component
table while waiting (transient: it is replaced by the step's end line, never printed twice), one line
per component in the summary."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from lab.remembered import Recorded
from lab.stack import ComponentStatus, State, StepStatus, UpResult

MARK = {State.PENDING: "[yellow]…[/]", State.RUNNING: "[bold blue]▶[/]", State.UNCHANGED: "[green]✓[/]",
        State.CREATED: "[green]✓[/]", State.RECREATED: "[green]✓[/]", State.CHANGED: "[green]✓[/]",
        State.READY: "[green]✓[/]", State.FAILED: "[red]✗[/]"}


def component_table(statuses: Sequence[ComponentStatus]) -> Table:
    table = Table.grid(padding=(0, 2))
    for status in statuses:
        table.add_row(f"  {MARK[status.state]} {status.name}", status.detail)
    return table


class RichProgress:
    """Renders `lab.stack.status` states; never reads their prose."""

    def __init__(self, console: Console, verbose: bool) -> None:
        self.console = console
        self.verbose = verbose
        self.live: Live | None = None
        self.last_components: Sequence[ComponentStatus] = ()

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def step(self, status: StepStatus) -> None:
        self._stop_live()
        if status.state is State.RUNNING:
            self.console.print(f"{MARK[State.RUNNING]} [bold]{status.detail}[/]")
            return
        if status.state is State.FAILED and self.last_components:
            self.console.print(component_table(self.last_components))  # where it stood when it failed
        colour = "red" if status.state is State.FAILED else "green"
        self.console.print(f"  {MARK[status.state]} {status.step}: [{colour}]{status.state.value}[/]"
                           + (f" — {status.detail}" if status.detail else ""), soft_wrap=True)

    def detail(self, message: str) -> None:
        (self.live.console if self.live else self.console).print(f"  {message}", style="dim", markup=False)

    def output(self, line: str) -> None:
        if self.verbose:
            self.detail(line)

    def components(self, statuses: Sequence[ComponentStatus]) -> None:
        self.last_components = statuses
        if self.live is None:
            self.live = Live(component_table(statuses), console=self.console, refresh_per_second=4, transient=True)
            self.live.start()
        else:
            self.live.update(component_table(statuses))

    def close(self) -> None:
        self._stop_live()


def render_up(console: Console, result: UpResult) -> None:
    verb = "converged" if result.changed else "already up to date, nothing changed"
    console.print(f"\n[bold green]rhdemo stack ready[/] — {verb} in {result.seconds:.0f}s")
    for status in result.steps:
        if status.step == "components":
            continue  # one line per component below
        figures = ""
        if status.step == "images":
            figures = f" ({status.figures.get('built', 0)} built, {status.figures.get('loaded', 0)} loaded)"
        elif status.step == "release" and "revision" in status.figures:
            figures = f" (revision {status.figures['revision']})"
        console.print(f"  {status.step}: {status.state.value}{figures}", markup=False)
    for component in result.components:
        console.print(f"  {MARK[component.state]} {component.name}: {component.detail}", soft_wrap=True)
    for name, url in result.urls.items():
        console.print(f"  {name}: [link={url}]{url}[/link]" if url.startswith("http") else f"  {name}: {url}",
                      soft_wrap=True)
    console.print(f"  DB password (never printed by the lab): {result.password_command}", markup=False, soft_wrap=True)
    console.print("  next: " + " · ".join(c for c in result.next_commands if c), markup=False, soft_wrap=True)


def render_recorded(console: Console, recorded: Recorded) -> None:
    console.print(f"settings remembered in {recorded.path}: later commands use them unless a flag overrides them",
                  markup=False, soft_wrap=True, style="dim")
    if recorded.secret_keys:
        console.print(f"not remembered (secrets): --set {', '.join(recorded.secret_keys)}; the next `lab up` "
                      "needs them again", markup=False, soft_wrap=True, style="yellow")
