"""``recstack embeddings …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Item embeddings: train, evaluate, serve 'viewed together'.",
                  no_args_is_help=True)
