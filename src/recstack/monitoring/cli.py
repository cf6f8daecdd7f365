"""``recstack monitoring …`` commands: thin wrappers over the library functions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Monitoring: run a pass, report, alerts.",
                  no_args_is_help=True)
