"""Nightly place matching: link the records that were added or changed in the interval to a
reference table with the champion matcher.

The records table may carry an ``updated_at`` column (any time pandas reads); a run for
``[start, end)`` links the rows updated inside it (every row when the column is absent). Matches
(best candidate per record, score >= threshold) go to ``matches.csv`` in the run's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recstack.errors import DataError
from recstack.pipelines.base import Param, Pipeline, Summary, Task, TaskInput

if TYPE_CHECKING:
    from recstack.settings import Settings

UPDATED = "updated_at"


def _table(params: dict[str, Any], name: str) -> pd.DataFrame:
    path = Path(params[name])
    if not params[name] or not path.is_file():
        raise DataError(f"no {name} table at {path}", field=f"--param {name}",
                        fix=f"give the CSV of {name} (one column per attribute, an id column)")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def data_range(settings: Settings, params: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    records = _table(dict(params), "records")
    if UPDATED not in records:  # no update times: every date links every record
        return pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    times = pd.to_datetime(records[UPDATED], utc=True)
    return times.min(), times.max()


def link_records(settings: Settings, records: Path, reference: Path, model_ref: str, out: Path,
                 *, threshold: float = 0.5) -> Summary:
    """Block, score and keep the best candidate per record; writes ``out`` (CSV).

    The seam for the resumable link job being built in recstack.matching: when it lands, this
    body becomes that job (same arguments), so that a killed nightly run resumes.
    """
    from recstack.matching.blocking import block
    from recstack.matching.data import PairSet, read_records
    from recstack.matching.pipeline import load_bundle

    bundle, info = load_bundle(model_ref, settings)
    left_ids, left = read_records(records)
    right_ids, right = read_records(reference)
    candidates = block(left, right)
    pairs_left = np.repeat(np.arange(len(left)), [len(c) for c in candidates])
    pairs_right = np.concatenate(candidates) if candidates else np.empty(0, dtype=int)
    scores = (bundle.score(PairSet([left[i] for i in pairs_left], [right[j] for j in pairs_right]))
              if len(pairs_left) else np.empty(0))
    frame = pd.DataFrame({"record_id": [left_ids[i] for i in pairs_left],
                          "reference_id": [right_ids[j] for j in pairs_right], "score": scores})
    matches = (frame[frame["score"] >= threshold].sort_values("score", ascending=False)
               .drop_duplicates("record_id").sort_values("record_id"))
    out.parent.mkdir(parents=True, exist_ok=True)
    matches.to_csv(out, index=False)
    return {"model": info.name, "version": info.version, "records": len(left),
            "candidates": len(frame), "matches": len(matches), "out": str(out)}


def link(settings: Settings, run: TaskInput) -> Summary:
    """Link the records updated in the interval."""
    records = _table(run.params, "records")
    _table(run.params, "reference")
    if UPDATED in records:
        times = pd.to_datetime(records[UPDATED], utc=True)
        records = records[(times >= run.start_ts) & (times < run.end_ts)].drop(columns=UPDATED)
    if records.empty:
        return {"skipped": f"no record updated in [{run.start}, {run.end})", "matches": 0}
    folder = run.workdir(settings)
    changed = folder / "records.csv"
    records.to_csv(changed, index=False)
    return link_records(settings, changed, Path(run.params["reference"]), run.params["model"],
                        folder / "matches.csv", threshold=run.params["threshold"])


PIPELINES = [
    Pipeline(
        name="matching-nightly",
        summary="Place matching: link new or changed records to the reference table.",
        tasks=(Task("link", link, "block, score with the champion, best match per record"),),
        params=(Param("records", "", "CSV of records (id, name, …, optional updated_at)"),
                Param("reference", "", "CSV of the reference records to link against"),
                Param("model", "place-matcher@champion", "matcher (NAME@ALIAS)"),
                Param("threshold", 0.5, "lowest match probability kept")),
        schedule="daily", data_range=data_range),
]
