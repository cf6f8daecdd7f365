"""``recstack treatment …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Treatment recommendation: fit, predict, report.",
                  no_args_is_help=True)
