"""``omniroute kb import|export|search``: the knowledge base from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import click

from omniroute.cli.app import cli, fails_cleanly, say
from omniroute.cli.db import with_database
from omniroute.knowledge import store
from omniroute.knowledge.files import read_directory, snapshot, store_all, write_directory


@cli.group()
def kb() -> None:
    """The knowledge base: Markdown articles in PostgreSQL (see docs/knowledge.md)."""


@kb.command("import")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--workspace", default="default", show_default=True)
@fails_cleanly
def import_(directory: Path, workspace: str) -> None:
    """Store every article (DIR/**/*.md) and DIR/categories.toml.

    Unchanged articles keep their version; a bad file fails the whole import.
    """
    categories, drafts = read_directory(directory)
    report = with_database(lambda conn: store_all(conn, workspace, categories, drafts))
    say(f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {report.categories} categories")
    for name in report.created + report.updated:
        click.echo(name)


@kb.command("export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--workspace", default="default", show_default=True)
@fails_cleanly
def export(directory: Path, workspace: str) -> None:
    """Write the current version of every article to DIR/<language>/<id>.md."""
    categories, drafts = with_database(lambda conn: snapshot(conn, workspace))
    count = write_directory(directory, categories, drafts)
    say(f"{count} articles written to {directory}")


@kb.command("search")
@click.argument("query")
@click.option("--language", default=None, help="Only this language (ko, en, ...).")
@click.option("--workspace", default="default", show_default=True)
@click.option("--limit", default=5, show_default=True)
@fails_cleanly
def search(query: str, language: str | None, workspace: str, limit: int) -> None:
    """Search published articles; prints one JSON result per line, best first."""
    hits = with_database(lambda conn: store.search(conn, workspace, query, language, limit))
    for hit in hits:
        click.echo(json.dumps(hit.as_json(), ensure_ascii=False))
