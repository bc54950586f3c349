"""`lab up` and `lab down`: converge the stack, take it away."""

from __future__ import annotations

from typing import Annotated

import typer

from lab import build as build_mod
from lab import images as images_mod
from lab import remembered
from lab.cli.application import CLUSTER, IMAGES, RELEASE, Application, command_class
from lab.cli.progress import RichProgress, render_recorded, render_up
from lab.stack import Stack


def up(ctx: typer.Context,
       recreate: Annotated[bool, typer.Option("--recreate", help="recreate a cluster whose config differs or that is broken (its data is lost)")] = False) -> None:
    """Create or converge the cluster, images and release; safe to run again at any time."""
    lab = Application.of(ctx)
    settings = lab.resolved
    settings.check_for_up()
    progress = RichProgress(lab.console, lab.settings.verbose)
    fallback = build_mod.registry_free_defaults(settings, lab.runner, images_mod.docker_client)
    if fallback is not None:
        settings = fallback.settings
        lab.console.print(f"no container registry answers — {fallback.reason}: using the registry-free set "
                          f"(image set local, node image {settings.config.node_image}), built here from package "
                          f"registries and cached (`lab build`)", markup=False, soft_wrap=True)
        try:
            for status in build_mod.build(settings.config, lab.runner, fallback.to_build, on_line=progress.output):
                progress.step(status)
        finally:
            progress.close()
    config = settings.config
    origin = settings.resolved.origins["image_set"]
    lab.console.print(f"lab up: image set [bold]{config.image_set}[/] ({origin}), app {config.app_release}")
    recorded: list[remembered.Recorded] = []
    try:
        result = Stack(config, lab.runner, progress).up(
            recreate=recreate, on_accepted=lambda: recorded.append(remembered.record(settings)))
    finally:
        progress.close()
        for record in recorded:  # also when up failed: the next `lab up` resumes with the same settings
            render_recorded(lab.console, record)
    render_up(lab.console, result)


def down(ctx: typer.Context,
         keep_cluster: Annotated[bool, typer.Option("--keep-cluster", help="uninstall only the release (volumes kept)")] = False) -> None:
    """Delete the lab's kind cluster (or only the release with --keep-cluster, or on a --context cluster)."""
    lab = Application.of(ctx)
    result = Stack(lab.config, lab.runner).down(keep_cluster=keep_cluster)
    for line in result.lines:
        lab.console.print(f"[green]✓[/] {line}")
    forgotten = remembered.forget(lab.resolved) if result.nothing_deployed else None
    if forgotten is not None:
        lab.console.print(f"[green]✓[/] the settings of the last `lab up` are forgotten ({forgotten})", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(cls=command_class(CLUSTER, IMAGES, RELEASE))(up)
    app.command(cls=command_class(CLUSTER))(down)
