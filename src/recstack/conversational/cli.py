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
def build(force: Annotated[bool, typer.Option(help="rebuild even when up to date")] = False,
          vectors: Annotated[bool, typer.Option(
              help="also embed the merchants with e5 for open recommendations (minutes on "
                   "2 cores, once)")] = True) -> None:
    """Load the Jeju merchants and attractions into the graph (idempotent), then embed the
    merchants for open recommendations (idempotent too)."""
    from rich.progress import Progress

    from recstack.conversational.build import build_graph

    settings = get_settings()
    with Progress(console=console, transient=True) as progress:
        report = build_graph(settings, force=force, progress=progress)
    if not report.changed:
        console.print(f"graph at {report.path} is up to date (inputs {report.fingerprint}); "
                      "nothing changed")
    else:
        counts = ", ".join(f"{n:,} {label}" for label, n in report.counts.items())
        console.print(f"built {report.path} in {report.seconds:.1f} s: {counts}")
    if not vectors:
        return
    from recstack.conversational.graph import open_graph
    from recstack.conversational.vectors import build_vectors

    store = open_graph(settings)
    try:
        with Progress(console=console, transient=True) as progress:
            made = build_vectors(settings, store, fingerprint=report.fingerprint,
                                 progress=progress)
    finally:
        store.close()
    if made.changed:
        console.print(f"embedded {made.merchants:,} merchants into {made.path} in "
                      f"{made.seconds:.0f} s")
    else:
        console.print(f"vectors at {made.path} are up to date; nothing changed")


@app.command()
def ask(question: Annotated[str, typer.Argument(help="a Korean question about Jeju "
                                                     "restaurants")],
        thread: Annotated[str | None, typer.Option(
            help="continue this conversation (the id a previous answer printed); "
                 "default: a new one")] = None,
        format_: Annotated[str, typer.Option("--format", help="text or json")] = "text") -> None:
    """Answer one turn of a conversation: merchant names best first, the Cypher, the reasons
    and the thread id to continue with."""
    import uuid

    from recstack.conversational.ask import Asker
    from recstack.conversational.graph import open_graph, threads_path
    from recstack.conversational.system import SPEC
    from recstack.errors import ConfigError

    if format_ not in ("text", "json"):
        raise ConfigError(f"unknown format {format_!r}", field="--format", fix="text or json")
    settings = get_settings()
    store = open_graph(settings)
    from recstack.conversational.recommend import open_recommender
    from recstack.llm import open_chat_client

    asker = Asker(store, max_chars=SPEC.settings_of(settings).max_question_chars,
                  threads_path=threads_path(settings),
                  recommender=lambda: open_recommender(settings, store),
                  llm=open_chat_client(settings))
    try:
        answer = asker.ask(question, thread=thread or uuid.uuid4().hex[:12])
    finally:
        asker.close()
        store.close()
    if format_ == "json":
        payload = {k: v for k, v in answer.to_dict().items() if k not in ("slots", "ids")}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if answer.kind != "answer":
        console.print(answer.message)
    elif not answer.answer:
        console.print("no merchant matches")
    for rank, reason in enumerate(answer.reasons, 1):
        console.print(f"{rank}. {reason}")
    if answer.cypher:
        console.print(f"[dim]{answer.cypher}[/dim]", soft_wrap=True)
    console.print(f"[dim]thread {answer.thread} (continue with --thread {answer.thread})[/dim]")


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
