"""What every `lab` command shares (hatch's `Application`): the options declared once, parsed into one
`Application` handed to the command through the typer context, and one way to fail.

A command declares which shared options it takes (`command_class(CLUSTER, IMAGES)`); they are
appended to its own options, taken out before the command runs and kept in `Application`; the
command gets it with `Application.of(ctx)`. `LabCommand.invoke` also turns every `LabError` into one
red line + hint (exit 1) and Ctrl-C into exit 130: no command repeats that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from lab.config import LabConfig
from lab.errors import LabError
from lab.remembered import ResolvedSettings, load_settings
from lab.runner import Runner
from lab.stack import StackNotReady
from lab.stack.desired import user_secrets

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

SHARED_PANEL = "Shared options"


def _shared_options(
    context: Annotated[str | None, typer.Option("--context", rich_help_panel=SHARED_PANEL, help="use this existing cluster's kube context instead of the lab's kind cluster")] = None,
    config: Annotated[Path | None, typer.Option("--config", rich_help_panel=SHARED_PANEL, help="config file (default: ./lab.toml, then ~/.config/rhdemo-lab/config.toml)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", rich_help_panel=SHARED_PANEL, help="show every command the lab runs (secrets masked)")] = False,
    debug: Annotated[bool, typer.Option("--debug", rich_help_panel=SHARED_PANEL, help="show a traceback on unexpected errors")] = False,
    image_set: Annotated[str | None, typer.Option("--image-set", rich_help_panel=SHARED_PANEL, help="public (default) | mirror:<registry prefix> | local")] = None,
    node_image: Annotated[str | None, typer.Option("--node-image", rich_help_panel=SHARED_PANEL, help="kind node image (default: kind's own)")] = None,
    ca_cert: Annotated[Path | None, typer.Option("--ca-cert", rich_help_panel=SHARED_PANEL, help="extra CA certificate (PEM) for image builds behind a TLS-inspecting proxy")] = None,
    values: Annotated[list[Path] | None, typer.Option("--values", "-f", rich_help_panel=SHARED_PANEL, help="extra chart values file (repeatable)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", rich_help_panel=SHARED_PANEL, help="chart value KEY=VALUE (repeatable; never put in helm's argv)")] = None,
) -> None:
    """The shared options, declared once; never run (only its parameters are used)."""


# Groups of shared options, by what a command does with them.
CLUSTER = ("context", "config", "verbose", "debug")  # every command: which cluster, how to talk
IMAGES = ("image_set", "node_image", "ca_cert")       # commands that build, load or report images
RELEASE = ("values", "set_")                          # commands that compute the release's values


def _declared_options() -> dict[str, Any]:
    holder = typer.Typer(add_completion=False)
    holder.command()(_shared_options)
    return {param.name: param for param in typer.main.get_command(holder).params if param.name}


_SHARED = _declared_options()


@dataclass(frozen=True)
class Settings:
    """The shared options as given on the command line (None / empty: not given)."""

    context: str | None = None
    config: Path | None = None
    verbose: bool = False
    debug: bool = False
    image_set: str | None = None
    node_image: str | None = None
    ca_cert: Path | None = None
    values: tuple[Path, ...] = ()
    set_: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Settings:
        def path(value: Any) -> Path | None:
            return None if value is None else Path(value)

        return cls(context=params.get("context"), config=path(params.get("config")),
                   verbose=bool(params.get("verbose")), debug=bool(params.get("debug")),
                   image_set=params.get("image_set"), node_image=params.get("node_image"),
                   ca_cert=path(params.get("ca_cert")), values=tuple(Path(v) for v in params.get("values") or ()),
                   set_=tuple(params.get("set_") or ()))


class Application:
    """One per command run: the settings, the config and the runner built from them once, on first use
    (so that `lab scenario list` and `--help` need no config), the consoles."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.console = console
        self.err_console = err_console
        self._resolved: ResolvedSettings | None = None
        self._runner: Runner | None = None
        logging.basicConfig(level=logging.INFO if settings.verbose else logging.WARNING, format="%(message)s",
                            handlers=[RichHandler(console=err_console, show_time=False, show_path=False,
                                                  show_level=False, markup=False)], force=True)

    @staticmethod
    def of(ctx: typer.Context) -> Application:
        application = ctx.obj
        assert isinstance(application, Application), "a lab command is made with command_class()"
        return application

    @property
    def resolved(self) -> ResolvedSettings:
        """The config with what the last `lab up` was given (remembered) under the flags, and where each
        setting came from."""
        if self._resolved is None:
            s = self.settings
            self._resolved = load_settings({"image_set": s.image_set, "ca_cert": s.ca_cert, "kube_context": s.context,
                                            "values_files": s.values, "set_values": s.set_,
                                            "node_image": s.node_image}, config_file=s.config)
        return self._resolved

    @property
    def config(self) -> LabConfig:
        return self.resolved.config

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            config = self.config
            self._runner = Runner(tool_dirs=config.tool_dirs, default_timeout=config.timeouts.command)
            for secret in user_secrets(config):  # a password given with --set or --values is never printed
                self._runner.register_secret(secret)
        return self._runner

    def fail(self, message: str, hint: str | None = None) -> typer.Exit:
        """Print one red line (+ hint) and return the exit to raise."""
        # escaped: messages quote user input and hints show `mirror:<registry>[/<path>]`, not markup
        self.err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        if hint:
            self.err_console.print(f"[cyan]hint:[/] {escape(hint)}", soft_wrap=True)
        return typer.Exit(1)


class LabCommand(typer.core.TyperCommand):
    """A typer command with some of the shared options, and the lab's error handling."""

    shared: tuple[str, ...] = CLUSTER

    def __init__(self, *args: Any, params: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, params=[*(params or []), *(_SHARED[name] for name in self.shared)], **kwargs)

    def invoke(self, ctx: Any) -> Any:
        application = Application(Settings.from_params({name: ctx.params.pop(name, None) for name in self.shared}))
        ctx.obj = application
        try:
            return super().invoke(ctx)
        except StackNotReady as exc:
            for line in exc.diagnosis:
                err_console.print(f"  {line}", markup=False)
            raise application.fail(exc.message, exc.hint) from None
        except LabError as exc:
            raise application.fail(exc.message, exc.hint) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/] — nothing is left half-done that `lab up` cannot finish; "
                              "run it again to converge.")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug, or an API error we did not map: one line, traceback on --debug
            if application.settings.debug:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise application.fail(f"unexpected error: {type(exc).__name__}: {first}",
                                   "run again with --debug for the traceback, and report it") from None


def command_class(*groups: tuple[str, ...]) -> type[LabCommand]:
    """`app.command(cls=command_class(CLUSTER, IMAGES))`: a command taking these shared options."""
    names = tuple(dict.fromkeys(name for group in groups for name in group))
    return type("LabCommand", (LabCommand,), {"shared": names})
