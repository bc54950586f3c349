"""Looking at a running stack: `lab status`, `lab values`, `lab logs`, `lab psql`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lab.cli.application import CLUSTER, RELEASE, Application, command_class
from lab.config import LabConfig
from lab.errors import LabError
from lab.remembered import SettingShown
from lab.stack import Stack, StatusReport, dump_yaml


def status(ctx: typer.Context,
           output: Annotated[str, typer.Option("--output", "-o", help="text | json")] = "text") -> None:
    """Cluster, release and revision, pods, last hook Jobs, database roles."""
    lab = Application.of(ctx)
    if output not in ("text", "json"):
        raise LabError(f"unknown output {output!r}", "use text or json")
    stack = Stack(lab.config, lab.runner)
    report = stack.status()
    settings = lab.resolved.shown()
    if output == "json":
        data = {**report_dict(report), "settings": [asdict(setting) for setting in settings],
                "settings_file": str(lab.resolved.path) if lab.resolved.remembered else None}
        lab.console.print_json(json.dumps(data, default=str))
    else:
        render_status(lab.console, lab.config, report)
        render_settings(lab.console, settings, lab.resolved.path if lab.resolved.remembered else None)
    if not report.reachable:
        raise stack.unreachable()


def report_dict(report: StatusReport) -> dict[str, Any]:
    data = asdict(report)
    if report.cluster is not None:
        data["cluster"]["port_mappings"] = [asdict(m) for m in report.cluster.port_mappings]
    return data


def render_status(console: Console, config: LabConfig, report: StatusReport) -> None:
    if report.cluster is not None:
        c = report.cluster
        state = ("missing" if not c.container_exists else
                 f"{'running' if c.running else 'stopped'}, API {'healthy' if c.api_healthy else 'NOT healthy'}")
        console.print(f"[bold]cluster[/] {config.cluster_name}: {state}"
                      + (f" (node image {c.node_image})" if c.node_image else ""))
    console.print(f"[bold]context[/] {report.context}")
    for problem in report.problems:
        console.print(f"[red]{problem}[/]")
    if not report.reachable:
        return
    if report.release is None:
        console.print(f"[bold]release[/] {config.release}: not installed — next: `lab up`")
        return
    deployed = report.deployed
    console.print(f"[bold]release[/] {config.release}: revision {report.release.revision}, {report.release.status}"
                  + (f" — image set {deployed.image_set}, app {deployed.app_image or 'chart default'}" if deployed else ""),
                  soft_wrap=True)
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


def render_settings(console: Console, settings: Sequence[SettingShown], path: Path | None) -> None:
    """Each setting, its value, where it came from (flag, remembered, environment, config file, default)."""
    console.print("[bold]settings[/] " + (f"(remembered from the last `lab up` in {path})" if path else
                                          "(nothing remembered: no `lab up` since the last `lab down`)"), soft_wrap=True)
    table = Table(box=None, pad_edge=False, show_header=False)
    for setting in settings:
        table.add_row(f"  {setting.name}", setting.value, f"[dim]{setting.origin}[/]")
    console.print(table)


def values(ctx: typer.Context) -> None:
    """The effective chart values (deployed, or what `up` would deploy), secrets masked."""
    lab = Application.of(ctx)
    source, effective = Stack(lab.config, lab.runner).effective_values()
    lab.err_console.print(f"# {source}", markup=False)
    lab.console.print(dump_yaml(effective), markup=False, end="")


def logs(ctx: typer.Context,
         component: Annotated[str, typer.Argument(help="app | keycloak | database | database-keycloak | hooks | a workload name")],
         follow: Annotated[bool, typer.Option("--follow", "-F")] = False,
         tail: Annotated[int, typer.Option("--tail")] = 200) -> None:
    """Logs of a component (all its containers)."""
    lab = Application.of(ctx)
    argv = Stack(lab.config, lab.runner).logs_argv(component, follow, tail)
    raise typer.Exit(lab.runner.run_interactive(argv))


def psql(ctx: typer.Context, database: Annotated[str, typer.Argument(help="rhdemo | keycloak")]) -> None:
    """Interactive psql inside the database pod, over its local socket: no password typed."""
    lab = Application.of(ctx)
    pod = Stack(lab.config, lab.runner).database_pod(database)
    raise typer.Exit(lab.runner.run_interactive(pod.psql_argv(interactive=sys.stdin.isatty())))


def register(app: typer.Typer) -> None:
    app.command(cls=command_class(CLUSTER, ("image_set",)))(status)
    app.command("values", cls=command_class(CLUSTER, ("image_set",), RELEASE))(values)
    app.command(cls=command_class(CLUSTER))(logs)
    app.command(cls=command_class(CLUSTER))(psql)
