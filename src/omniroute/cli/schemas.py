"""``omniroute schemas export``: regenerate ``schemas/`` from the models."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from omniroute.cli.app import cli, say
from omniroute.contract.export import render_all, write_all
from omniroute.infra.jars import REPO_ROOT


@cli.group()
def schemas() -> None:
    """The JSON Schemas and AsyncAPI document of the public topics."""


@schemas.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_ROOT / "schemas",
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the files differ instead of writing.")
def export(directory: Path, check: bool) -> None:
    """Write one JSON Schema per public topic and asyncapi.yaml."""
    if check:
        stale = [
            name
            for name, text in render_all().items()
            if not (directory / name).exists()
            or (directory / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            say(f"out of date: {directory / name}")
        sys.exit(1 if stale else 0)
    for path in write_all(directory):
        say(f"wrote {path}")
