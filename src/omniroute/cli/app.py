"""The root ``omniroute`` command group and the helpers every subcommand shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from omniroute import __version__
from omniroute.errors import ConfigurationError, OmnirouteError
from omniroute.observability.logs import configure_logging
from omniroute.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
