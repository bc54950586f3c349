"""`lab`: the thin typer layer — parse flags, build the config once, call one library function, render.

One module per command group, each importing only downwards (`application`, then the library):

- `application`: the shared options (declared once), `Application` handed to every command, error handling
- `up`: `lab up`, `lab down` (and `progress`: how `up` renders the steps' states)
- `inspect`: `lab status`, `lab values`, `lab logs`, `lab psql`
- `doctor`: `lab doctor`
- `build`: `lab build` (the registry-free node image and image set)
- `scenario`: `lab scenario`
"""

from __future__ import annotations

import typer

from lab.cli import build, doctor, inspect, scenario, up

app = typer.Typer(name="lab", help="rhdemo-lab: the rhDemo stack on a local kind cluster, and its redeploy failures.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

for group in (doctor, build, up, inspect, scenario):
    group.register(app)


def main() -> None:
    app()
