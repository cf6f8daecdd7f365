"""``recstack features …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Feature store: apply, list, diff, materialize.",
                  no_args_is_help=True)
