"""NLU re-training on new labelled questions: train → evaluate → promote, per interval.

Labelled questions arrive as JSON-lines files named by day (``<folder>/YYYY-MM-DD.jsonl``,
:func:`recstack.nlu.data.write_examples`'s format). A run for ``[start, end)`` re-trains when a
file dated inside the interval arrived, on the generated template questions plus every labelled
file dated before ``end``; validation stays the template validation split, so every version's
``valid_entity_f1`` is measured on the same questions and promotion compares like with like.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recstack.errors import DataError
from recstack.pipelines.base import Param, Pipeline, Summary, Task, TaskInput

if TYPE_CHECKING:
    from recstack.settings import Settings

PROMOTE_ON = "valid_entity_f1"


def _labelled_files(params: dict[str, Any]) -> dict[pd.Timestamp, Path]:
    """Day → file of the labelled folder (an empty folder setting means none)."""
    if not params["labelled"]:
        return {}
    folder = Path(params["labelled"])
    if not folder.is_dir():
        raise DataError(f"no folder at {folder}", field="--param labelled",
                        fix="give the folder of YYYY-MM-DD.jsonl files of labelled questions")
    files: dict[pd.Timestamp, Path] = {}
    for path in sorted(folder.glob("*.jsonl")):
        try:
            files[pd.Timestamp(path.stem, tz="UTC")] = path
        except ValueError:
            raise DataError(f"{path.name} is not named by its day", field="--param labelled",
                            fix="name each file YYYY-MM-DD.jsonl") from None
    return files


def data_range(settings: Settings, params: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    files = _labelled_files(dict(params))
    if not files:  # only generated questions: every date is inside the data
        return pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    return min(files), max(files)


def train(settings: Settings, run: TaskInput) -> Summary:
    """Fit on the template questions plus the labelled files dated before the interval's end."""
    from recstack.nlu.data import read_examples
    from recstack.nlu.pipeline import NLUTrainConfig, load_splits
    from recstack.nlu.pipeline import train as fit

    files = _labelled_files(run.params)
    new = [day for day in files if run.start_ts <= day < run.end_ts]
    if run.params["only_if_new"] and not new:
        return {"skipped": f"no labelled questions dated in [{run.start}, {run.end})"}
    splits = load_splits(settings, run.params["seed"])
    labelled = [e for day, path in files.items() if day < run.end_ts
                for e in read_examples(path)]
    splits.train = [*splits.train, *labelled]
    result = fit(NLUTrainConfig(model=run.params["model"], seed=run.params["seed"],
                                register_as=run.params["name"]), settings, splits=splits)
    assert result.version is not None
    return {"run_id": result.run_id, "model": result.version.name,
            "version": result.version.version, "n_labelled": len(labelled),
            "n_train": len(splits.train), "valid": result.valid}


def evaluate(settings: Settings, run: TaskInput) -> Summary:
    """Test metrics of the new version (its own MLflow run; they never choose anything)."""
    from recstack.nlu.pipeline import evaluate as score

    trained = run.output("train")
    if "skipped" in trained:
        return {"skipped": "nothing trained"}
    ref = f"{trained['model']}/{trained['version']}"
    return {"model": trained["model"], "version": trained["version"],
            "test": score(ref, settings)}


def promote(settings: Settings, run: TaskInput) -> Summary:
    from recstack.pipelines.steps import promote as promote_best

    trained = run.output("train")
    if "skipped" in trained:
        return {"skipped": "nothing trained"}
    return promote_best(settings, trained["model"], PROMOTE_ON)


PIPELINES = [
    Pipeline(
        name="nlu-retrain",
        summary="Travel NLU: re-train when new labelled questions arrive, test, promote.",
        tasks=(Task("train", train, "templates + labelled files dated before the end"),
               Task("evaluate", evaluate, "test split of the new version"),
               Task("promote", promote, f"champion/challenger by {PROMOTE_ON}")),
        params=(Param("labelled", "", "folder of YYYY-MM-DD.jsonl labelled questions"),
                Param("model", "crf", "NLU model (rules, crf, joint-e5)"),
                Param("name", "travel-nlu", "registered model name"),
                Param("seed", 0, "template generation and split seed"),
                Param("only_if_new", True, "skip when no labelled file is dated in the "
                                           "interval")),
        schedule="daily", data_range=data_range),
]
