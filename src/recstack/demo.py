"""The main job: every installed system through the lifecycle on synthetic data, then the service.

Each system declares its demo step in its spec (:class:`recstack.system.DemoStep`); this module
only orders and runs them. ``recstack demo`` serves afterwards; ``--no-serve`` stops before
serving, for scripts and tests, and ``--plan`` lists the steps without running them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from rich.console import Console

from recstack.settings import Settings
from recstack.system import DemoOutcome, DemoStep, SystemSpec, resolve

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    outcomes: dict[str, DemoOutcome] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def examples(self) -> list[str]:
        return [line for outcome in self.outcomes.values() for line in outcome.examples]


def demo_plan(specs: list[SystemSpec]) -> list[tuple[str, DemoStep]]:
    """The steps ``recstack demo`` runs, in order: ``(system name, step)``."""
    steps = [(spec.name, spec.demo) for spec in specs if spec.demo is not None]
    return sorted(steps, key=lambda s: s[1].order)


def run_demo(settings: Settings, specs: list[SystemSpec], console: Console | None = None,
             quick: bool = False) -> DemoResult:
    """Run every system's demo step in plan order; each returns what to show the user."""
    console = console or Console()
    result = DemoResult()
    plan = demo_plan(specs)
    for number, (name, step) in enumerate(plan, start=1):
        console.rule(f"[bold]{number}/{len(plan)} {name}[/bold]: {step.title}")
        started = time.perf_counter()
        outcome = resolve(step.run, field=f"{name}: demo step")(settings, console, quick=quick)
        result.outcomes[name] = outcome if isinstance(outcome, DemoOutcome) else DemoOutcome()
        result.seconds[name] = time.perf_counter() - started
        log.debug("demo step %s took %.1f s", name, result.seconds[name])
    return result


def example_requests(settings: Settings, result: DemoResult) -> list[str]:
    base = f"http://{settings.serving.host}:{settings.serving.port}"
    return [f"curl {base}/health", *result.examples, f"curl {base}/v1/models",
            f"open {base}/docs"]
