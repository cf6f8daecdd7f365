"""``recstack features …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from recstack.features.catalog import ViewChange
    from recstack.features.store import FeatureStore

app = typer.Typer(help="Feature store: apply, list, diff, materialize.",
                  no_args_is_help=True)
console = Console()
DefinitionsFile = Annotated[Path, typer.Argument(help="a .yaml, .json or .py definitions file")]


def _store() -> FeatureStore:
    from recstack.features.store import FeatureStore
    from recstack.settings import get_settings

    return FeatureStore(get_settings())


def _changes_table(title: str, changes: list[ViewChange]) -> Table:
    table = Table(title=title)
    for column in ("view", "status", "old version", "new version", "changed"):
        table.add_column(column)
    for c in changes:
        table.add_row(c.name, c.status, c.old_version or "", c.new_version or "",
                      ", ".join(c.changed_fields))
    return table


@app.command()
def apply(definitions: DefinitionsFile) -> None:
    """Validate DEFINITIONS against their sources and register new view versions."""
    changes = _store().apply(definitions)
    console.print(_changes_table(f"applied {definitions}", changes))


@app.command()
def diff(definitions: DefinitionsFile) -> None:
    """Show what ``apply`` would change, without changing anything."""
    console.print(_changes_table(f"{definitions} vs the catalog", _store().diff(definitions)))


@app.command("list")
def list_views(all_versions: Annotated[bool, typer.Option(
        "--all", help="every version, not only the active ones")] = False) -> None:
    """Registered feature views."""
    table = Table(title="feature views")
    for column in ("view", "version", "active", "entities", "ttl s", "features"):
        table.add_column(column)
    for r in _store().list_views(all_versions=all_versions):
        table.add_row(r.name, r.version, "yes" if r.active else "", ", ".join(r.join_keys),
                      str(r.view.ttl_seconds or ""),
                      ", ".join(f"{f.name}:{f.dtype}" for f in r.view.features))
    console.print(table)


@app.command()
def materialize(
        end: Annotated[str | None, typer.Option(
            help="materialise events up to this time (ISO); default: now")] = None,
        start: Annotated[str | None, typer.Option(
            help="from this time; default: where the last run ended")] = None,
        view: Annotated[list[str] | None, typer.Option(help="only these views")] = None,
) -> None:
    """Copy the newest values per entity into the online store."""
    written = _store().materialize(start, end, views=view, progress=True)
    for table, n in written.items():
        console.print(f"{table}: {n} entities written")


@app.command()
def get(features: Annotated[list[str], typer.Option("--feature", "-f",
                                                    help="view:feature, repeatable")],
        entity: Annotated[list[str], typer.Option(
            "--entity", "-e", help='JSON object of join keys, repeatable: {"patient_id": "P1"}')],
        ) -> None:
    """Read online features for entities."""
    from recstack.errors import DataError

    rows = []
    for text in entity:
        try:
            rows.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DataError(f"{text!r} is not JSON: {exc}", field="--entity",
                            fix='write --entity \'{"patient_id": "P00001"}\'') from exc
    result = _store().get_online_features(rows, features)
    console.print_json(json.dumps({"features": result.features, "rows": result.rows},
                                  default=str))
