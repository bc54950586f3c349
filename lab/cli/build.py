"""`lab build`: the registry-free node image and image set, from package registries, with progress."""

from __future__ import annotations

from typing import Annotated

import typer

from lab import build as build_mod
from lab import images as images_mod
from lab.cli.application import CLUSTER, IMAGES, Application, command_class
from lab.cli.progress import RichProgress

PARTS_HELP = "; ".join(f"{part.name}: {part.what}" for part in build_mod.PARTS)


def build(ctx: typer.Context,
          parts: Annotated[list[str] | None, typer.Argument(help=f"what to build, with what it needs (default: all). {PARTS_HELP}",
                                                            show_default=False)] = None) -> None:
    """Build what a machine with no container registry needs (cached: a second run only checks)."""
    lab = Application.of(ctx)
    plan = build_mod.plan(parts or ())  # an unknown part fails here, before anything runs
    progress = RichProgress(lab.console, lab.settings.verbose)
    try:
        for status in build_mod.build(lab.config, lab.runner, plan, on_line=progress.output):
            progress.step(status)
    finally:
        progress.close()
    lab.console.print(f"[bold green]built[/]: {', '.join(part.name for part in plan)} — then "
                      f"`lab up --image-set local --node-image {images_mod.REGISTRY_FREE_NODE_IMAGE}`", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(cls=command_class(CLUSTER, IMAGES))(build)
