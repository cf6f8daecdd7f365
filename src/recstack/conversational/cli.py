"""``recstack chat …``: build the graph and ask it questions, thin over the library."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from recstack.settings import get_settings

app = typer.Typer(help="Jeju restaurant questions answered from a graph.", no_args_is_help=True)
console = Console()


@app.command()
def build(force: Annotated[bool, typer.Option(help="rebuild even when up to date")] = False
          ) -> None:
    """Load the Jeju merchants and attractions into the graph (idempotent)."""
    from rich.progress import Progress

    from recstack.conversational.build import build_graph

    with Progress(console=console, transient=True) as progress:
        report = build_graph(get_settings(), force=force, progress=progress)
    if not report.changed:
        console.print(f"graph at {report.path} is up to date (inputs {report.fingerprint}); "
                      "nothing changed")
        return
    counts = ", ".join(f"{n:,} {label}" for label, n in report.counts.items())
    console.print(f"built {report.path} in {report.seconds:.1f} s: {counts}")


@app.command()
def ask(question: Annotated[str, typer.Argument(help="a Korean question about Jeju "
                                                     "restaurants")],
        format_: Annotated[str, typer.Option("--format", help="text or json")] = "text") -> None:
    """Answer one question: merchant names best first, the Cypher and the reasons."""
    from recstack.conversational.ask import Asker
    from recstack.conversational.graph import open_graph
    from recstack.conversational.system import SPEC
    from recstack.errors import ConfigError

    if format_ not in ("text", "json"):
        raise ConfigError(f"unknown format {format_!r}", field="--format", fix="text or json")
    settings = get_settings()
    store = open_graph(settings)
    try:
        answer = Asker(store, max_chars=SPEC.settings_of(settings).max_question_chars
                       ).ask(question)
    finally:
        store.close()
    if format_ == "json":
        payload = {k: v for k, v in answer.to_dict().items() if k != "slots"}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not answer.answer:
        console.print("no merchant matches")
    for rank, reason in enumerate(answer.reasons, 1):
        console.print(f"{rank}. {reason}")
    console.print(f"[dim]{answer.cypher}[/dim]", soft_wrap=True)


@app.command()
def ui(port: Annotated[int, typer.Option(help="port to serve the UI on")] = 8501,
       host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1") -> None:
    """Serve the chat UI (Streamlit): result cards, a map and the Cypher of each answer."""
    import importlib.util
    import os
    import sys
    from pathlib import Path

    from recstack.errors import ConfigError

    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError("the chat UI needs streamlit, which is not installed",
                          field="extra 'chat'", fix="pip install -e '.[chat]'")
    script = Path(__file__).with_name("ui.py")
    console.print(f"chat UI on http://{host}:{port} (Ctrl-C stops it)")
    sys.stdout.flush()  # exec discards Python's buffers
    # exec, not a child: stopping this process stops the server, with nothing left behind.
    os.execv(sys.executable, [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
        "--server.address", host, "--server.headless", "true",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal"])
