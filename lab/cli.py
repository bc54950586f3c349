"""`lab`: thin typer layer — parse flags, build the config once, call one library function, render."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table

from lab import doctor as doctor_mod
from lab.config import LabConfig, load_config
from lab.errors import LabError
from lab.runner import Runner
from lab.stack import Stack, StackNotReady, StatusReport, UpResult, dump_yaml

app = typer.Typer(name="lab", help="rhdemo-lab: the rhDemo stack on a local kind cluster, and its redeploy failures.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])

ImageSetOpt = Annotated[Optional[str], typer.Option("--image-set", help="public (default) | mirror:<registry prefix> | local")]
CaCertOpt = Annotated[Optional[Path], typer.Option("--ca-cert", help="extra CA certificate (PEM) for image builds behind a TLS-inspecting proxy")]
ContextOpt = Annotated[Optional[str], typer.Option("--context", help="use this existing cluster's kube context instead of the lab's kind cluster")]
ValuesOpt = Annotated[Optional[list[Path]], typer.Option("--values", "-f", help="extra chart values file (repeatable)")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="chart value KEY=VALUE (repeatable; never put in helm's argv)")]
NodeImageOpt = Annotated[Optional[str], typer.Option("--node-image", help="kind node image (default: kind's own)")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="config file (default: ./lab.toml, then ~/.config/rhdemo-lab/config.toml)")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="show every command the lab runs (secrets masked)")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="show a traceback on unexpected errors")]


def handle_errors(command: F) -> F:
    """LabError -> one red line + hint, exit 1; Ctrl-C -> clean stop, exit 130; never a traceback for bad input."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except StackNotReady as exc:
            for line in exc.diagnosis:
                err_console.print(f"  {line}", markup=False)
            _error(exc.message, exc.hint)
        except LabError as exc:
            _error(exc.message, exc.hint)
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/] — nothing is left half-done that `lab up` cannot finish; "
                              "run it again to converge.")
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as exc:  # a bug, or an API error we did not map: one line, traceback on --debug
            if kwargs.get("debug"):
                raise
            _error(f"unexpected error: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                   "run again with --debug for the traceback, and report it")

    return wrapper  # type: ignore[return-value]


def _error(message: str, hint: str | None) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err_console.print(f"[cyan]hint:[/] {hint}", soft_wrap=True)
    raise typer.Exit(1)


def _setup(image_set: str | None, ca_cert: Path | None, context: str | None, values: list[Path] | None,
           set_: list[str] | None, node_image: str | None, config_file: Path | None,
           verbose: bool) -> tuple[LabConfig, Runner]:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err_console, show_time=False, show_path=False,
                                              show_level=False, markup=False)], force=True)
    config = load_config({"image_set": image_set, "ca_cert": ca_cert, "kube_context": context,
                          "values_files": tuple(values or ()), "set_values": tuple(set_ or ()),
                          "node_image": node_image}, config_file=config_file)
    runner = Runner(tool_dirs=config.tool_dirs, default_timeout=config.timeouts.command)
    for key, value in config.set_values:  # a password given with --set must never be printed
        if any(word in key.lower() for word in ("password", "secret", "token")):
            runner.register_secret(value)
    return config, runner


class RichProgress:
    """Steps as lines, and one live line per component while waiting."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.live: Live | None = None

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def step(self, message: str) -> None:
        self._stop_live()
        console.print(f"[bold blue]▶[/] [bold]{message}[/]")

    def detail(self, message: str) -> None:
        (self.live.console if self.live else console).print(f"  {message}", style="dim", markup=False)

    def output(self, line: str) -> None:
        if self.verbose:
            self.detail(line)

    def components(self, lines: Mapping[str, str]) -> None:
        table = Table.grid(padding=(0, 2))
        for name, text in lines.items():
            done = text.endswith("ready") and "not" not in text or "succeeded" in text and "failed" not in text
            mark = "[green]✓[/]" if done else ("[red]✗[/]" if "fail" in text.lower() or "Crash" in text else "[yellow]…[/]")
            table.add_row(f"  {mark} {name}", text)
        if self.live is None:
            self.live = Live(table, console=console, refresh_per_second=4, transient=False)
            self.live.start()
        else:
            self.live.update(table)

    def close(self) -> None:
        self._stop_live()


def _render_up(config: LabConfig, result: UpResult) -> None:
    verb = "converged" if result.changed else "already up to date, nothing changed"
    console.print(f"\n[bold green]rhdemo stack ready[/] — {verb} in {result.seconds:.0f}s")
    console.print(f"  cluster: {result.cluster_action}; images built: {len(result.images_built)}, "
                  f"loaded: {len(result.images_loaded)}; release: {result.release_action} "
                  f"(revision {result.revision}, {result.release_reason})")
    for name, url in result.urls.items():
        console.print(f"  {name}: [link={url}]{url}[/link]" if url.startswith("http") else f"  {name}: {url}")
    console.print(f"  DB password (never printed by the lab): {result.password_command}", markup=False)
    console.print("  next: " + " · ".join(c for c in result.next_commands if c), markup=False)


@app.command()
@handle_errors
def doctor(image_set: ImageSetOpt = None, ca_cert: CaCertOpt = None, context: ContextOpt = None,
           values: ValuesOpt = None, set_: SetOpt = None, node_image: NodeImageOpt = None,
           config: ConfigOpt = None, verbose: VerboseOpt = False, debug: DebugOpt = False) -> None:
    """Check the machine: Docker, kind, helm, kubectl, memory, disk, ports, context — each problem with its fix."""
    lab_config, runner = _setup(image_set, ca_cert, context, values, set_, node_image, config, verbose)
    checks = doctor_mod.run_checks(lab_config, runner)
    for check in checks:
        colour = {"ok": "green", "FAIL": "red", "warn": "yellow"}[check.status]
        console.print(f"[{colour}]{check.status:>4}[/] {check.name:<16} {check.detail}", soft_wrap=True)
        if not check.ok and check.fix:
            console.print(f"     [cyan]fix:[/] {check.fix}", soft_wrap=True)
    if doctor_mod.can_go_up(checks):
        console.print("[bold green]ready:[/] `lab up` can run")
    else:
        failed = [c.name for c in checks if not c.ok and c.blocking]
        console.print(f"[bold red]not ready:[/] fix {', '.join(failed)} first")
        raise typer.Exit(1)


@app.command()
@handle_errors
def up(image_set: ImageSetOpt = None, ca_cert: CaCertOpt = None, context: ContextOpt = None,
       values: ValuesOpt = None, set_: SetOpt = None, node_image: NodeImageOpt = None, config: ConfigOpt = None,
       recreate: Annotated[bool, typer.Option("--recreate", help="recreate a cluster whose config differs or that is broken (its data is lost)")] = False,
       verbose: VerboseOpt = False, debug: DebugOpt = False) -> None:
    """Create or converge the cluster, images and release; safe to run again at any time."""
    lab_config, runner = _setup(image_set, ca_cert, context, values, set_, node_image, config, verbose)
    console.print(f"lab up: cluster {lab_config.cluster_name if lab_config.uses_kind else lab_config.context}, "
                  f"image set [bold]{lab_config.image_set}[/], app {lab_config.app_release}")
    progress = RichProgress(verbose)
    try:
        result = Stack(lab_config, runner, progress).up(recreate=recreate)
    finally:
        progress.close()
    _render_up(lab_config, result)


@app.command()
@handle_errors
def down(keep_cluster: Annotated[bool, typer.Option("--keep-cluster", help="uninstall only the release (volumes kept)")] = False,
         context: ContextOpt = None, config: ConfigOpt = None, verbose: VerboseOpt = False,
         debug: DebugOpt = False) -> None:
    """Delete the lab's kind cluster (or only the release with --keep-cluster)."""
    lab_config, runner = _setup(None, None, context, None, None, None, config, verbose)
    for line in Stack(lab_config, runner).down(keep_cluster=keep_cluster):
        console.print(f"[green]✓[/] {line}")


@app.command()
@handle_errors
def status(context: ContextOpt = None, config: ConfigOpt = None, verbose: VerboseOpt = False,
           output: Annotated[str, typer.Option("--output", "-o", help="text | json")] = "text",
           debug: DebugOpt = False) -> None:
    """Cluster, release and revision, pods, last hook Jobs, database roles."""
    lab_config, runner = _setup(None, None, context, None, None, None, config, verbose)
    report = Stack(lab_config, runner).status()
    if output == "json":
        console.print_json(json.dumps(_report_dict(report), default=str))
        return
    if output != "text":
        raise LabError(f"unknown output {output!r}", "use text or json")
    _render_status(lab_config, report)


def _report_dict(report: StatusReport) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(report)
    if report.cluster is not None:
        data["cluster"]["port_mappings"] = [asdict(m) for m in report.cluster.port_mappings]
    return data


def _render_status(config: LabConfig, report: StatusReport) -> None:
    if report.cluster is not None:
        c = report.cluster
        state = ("missing" if not c.container_exists else
                 f"{'running' if c.running else 'stopped'}, API {'healthy' if c.api_healthy else 'NOT healthy'}")
        console.print(f"[bold]cluster[/] {config.cluster_name}: {state}"
                      + (f" (node image {c.node_image})" if c.node_image else ""))
    console.print(f"[bold]context[/] {report.context}; image set {report.image_set}")
    for problem in report.problems:
        console.print(f"[red]{problem}[/]")
    if not report.reachable:
        console.print("next: `lab up`")
        return
    if report.release is None:
        console.print(f"[bold]release[/] {config.release}: not installed — next: `lab up`")
        return
    console.print(f"[bold]release[/] {config.release}: revision {report.release.revision}, {report.release.status}")
    pods = Table("pod", "ready", "phase", "restarts", "problem", box=None, pad_edge=False)
    for pod in report.pods:
        pods.add_row(pod.name, pod.containers_ready, pod.phase, str(pod.restarts), pod.problem or "")
    console.print(pods)
    if report.hooks:
        hooks = Table("hook job", "hook", "outcome", "finished", box=None, pad_edge=False)
        for job in report.hooks:
            hooks.add_row(job.name, job.hook, job.outcome, job.finished or "")
        console.print(hooks)
    for database, roles in report.db_roles.items():
        console.print(f"[bold]roles[/] in {database}: {', '.join(roles) if isinstance(roles, list) else roles}")
    if report.employes is not None:
        console.print(f"[bold]employes[/]: {report.employes.rows} rows (checksum {report.employes.checksum[:12]})")


@app.command()
@handle_errors
def logs(component: Annotated[str, typer.Argument(help="app | keycloak | database | database-keycloak | hooks | a workload name")],
         follow: Annotated[bool, typer.Option("--follow", "-F")] = False,
         tail: Annotated[int, typer.Option("--tail")] = 200,
         context: ContextOpt = None, config: ConfigOpt = None, verbose: VerboseOpt = False,
         debug: DebugOpt = False) -> None:
    """Logs of a component (all its containers)."""
    lab_config, runner = _setup(None, None, context, None, None, None, config, verbose)
    stack = Stack(lab_config, runner)
    raise typer.Exit(runner.run_interactive(stack.logs_argv(component, follow, tail)))


@app.command()
@handle_errors
def psql(database: Annotated[str, typer.Argument(help="rhdemo | keycloak")],
         context: ContextOpt = None, config: ConfigOpt = None, verbose: VerboseOpt = False,
         debug: DebugOpt = False) -> None:
    """Interactive psql inside the database pod, over its local socket: no password typed."""
    lab_config, runner = _setup(None, None, context, None, None, None, config, verbose)
    pod = Stack(lab_config, runner).database_pod(database)
    raise typer.Exit(runner.run_interactive(pod.psql_argv(interactive=sys.stdin.isatty())))


@app.command("values")
@handle_errors
def values_command(image_set: ImageSetOpt = None, context: ContextOpt = None, values: ValuesOpt = None,
                   set_: SetOpt = None, config: ConfigOpt = None, verbose: VerboseOpt = False,
                   debug: DebugOpt = False) -> None:
    """The effective chart values (deployed, or what `up` would deploy), secrets masked."""
    lab_config, runner = _setup(image_set, None, context, values, set_, None, config, verbose)
    source, effective = Stack(lab_config, runner).effective_values()
    err_console.print(f"# {source}", markup=False)
    console.print(dump_yaml(effective), markup=False, end="")


from lab.cli_scenario import register as register_scenario_command  # noqa: E402 (uses the options above)

register_scenario_command(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
