"""The root ``omniroute`` command group and the helpers every subcommand shares."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from omniroute import __version__
from omniroute.errors import ConfigurationError, OmnirouteError
from omniroute.observability.logs import configure_logging
from omniroute.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


class LazyGroup(click.Group):
    """A command group that imports a command's module only when that command runs.

    Each process then loads (and exports the metrics of) only its own code:
    ``omniroute worker`` never registers the router's or the monitor's metrics.
    """

    lazy_commands: dict[str, str] = {}
    """command name → module that registers it on :data:`cli` when imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            importlib.import_module(self.lazy_commands[cmd_name])
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="omniroute")
def cli() -> None:
    """omniroute: an omnichannel message router for customer support, on Apache Kafka."""


def settings_from_env() -> Settings:
    """Load settings and configure logging once for this process."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def say(message: str) -> None:
    """Progress for a person at a terminal (stderr, so stdout stays parseable)."""
    click.echo(message, err=True)


def fails_cleanly(command: F) -> F:
    """Turn an OmnirouteError into one line on stderr and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"omniroute: {exc}", err=True)
            sys.exit(2)
        except OmnirouteError as exc:
            click.echo(f"omniroute: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
