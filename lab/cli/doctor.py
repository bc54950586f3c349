"""`lab doctor`: the machine checked for `lab up` with the same settings, each problem with its fix."""

from __future__ import annotations

import typer
from rich.markup import escape

from lab import build as build_mod
from lab import doctor as doctor_mod
from lab import images as images_mod
from lab.errors import LabError
from lab.cli.application import CLUSTER, IMAGES, RELEASE, Application, command_class


def doctor(ctx: typer.Context) -> None:
    """Check that `lab up` with the same settings can succeed: Docker, kind, helm, kubectl, memory, disk, ports,
    context, node image, cgroups, the chart's values and images, the CA bundle — each problem with its fix."""
    lab = Application.of(ctx)
    settings = lab.resolved
    try:
        fallback = build_mod.registry_free_defaults(settings, lab.runner, images_mod.docker_client)
    except LabError:
        fallback = None  # no Docker engine: its own check says so
    if fallback is not None:  # what `lab up` will use: checked as such
        settings = fallback.settings
        building = f"; `lab up` builds {', '.join(part.name for part in fallback.to_build)} first" if fallback.to_build else ""
        lab.console.print(f"[yellow]note[/] no container registry answers — {escape(fallback.reason)}: `lab up` uses the "
                          f"registry-free set (image set local, node image {settings.config.node_image}){building}",
                          soft_wrap=True)
    checks = doctor_mod.run_checks(settings, lab.runner)
    for check in checks:
        colour = {"ok": "green", "FAIL": "red", "warn": "yellow"}[check.status]
        lab.console.print(f"[{colour}]{check.status:>4}[/] {check.name:<16} {check.detail}", soft_wrap=True)
        if not check.ok and check.fix:
            lab.console.print(f"     [cyan]fix:[/] {check.fix}", soft_wrap=True)
    if doctor_mod.can_go_up(checks):
        lab.console.print("[bold green]ready:[/] `lab up` can run")
        return
    failed = [c.name for c in checks if not c.ok and c.blocking]
    lab.console.print(f"[bold red]not ready:[/] fix {', '.join(failed)} first")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(cls=command_class(CLUSTER, IMAGES, RELEASE))(doctor)
