"""`lab up` and `lab down`: converge the stack, take it away."""

from __future__ import annotations

from typing import Annotated

import typer

from lab.cli.application import CLUSTER, IMAGES, RELEASE, Application, command_class
from lab.cli.progress import RichProgress, render_up
from lab.stack import Stack


def up(ctx: typer.Context,
       recreate: Annotated[bool, typer.Option("--recreate", help="recreate a cluster whose config differs or that is broken (its data is lost)")] = False) -> None:
    """Create or converge the cluster, images and release; safe to run again at any time."""
    lab = Application.of(ctx)
    config = lab.config
    lab.console.print(f"lab up: image set [bold]{config.image_set}[/], app {config.app_release}")
    progress = RichProgress(lab.console, lab.settings.verbose)
    try:
        result = Stack(config, lab.runner, progress).up(recreate=recreate)
    finally:
        progress.close()
    render_up(lab.console, result)


def down(ctx: typer.Context,
         keep_cluster: Annotated[bool, typer.Option("--keep-cluster", help="uninstall only the release (volumes kept)")] = False) -> None:
    """Delete the lab's kind cluster (or only the release with --keep-cluster, or on a --context cluster)."""
    lab = Application.of(ctx)
    for line in Stack(lab.config, lab.runner).down(keep_cluster=keep_cluster):
        lab.console.print(f"[green]✓[/] {line}")


def register(app: typer.Typer) -> None:
    app.command(cls=command_class(CLUSTER, IMAGES, RELEASE))(up)
    app.command(cls=command_class(CLUSTER))(down)
