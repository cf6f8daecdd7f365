import typer

app = typer.Typer(help="The tiny system.", no_args_is_help=True)


@app.command()
def hello(name: str = "you") -> None:
    """Say hello."""
    typer.echo(f"tiny says hello to {name}")


@app.command()
def version() -> None:
    """A second command, so that the group stays a group."""
    typer.echo("tiny 1")
