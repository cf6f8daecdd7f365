"""Nightly place matching: link the records that were added or changed in the interval to a
reference table with the champion matcher, as a resumable link job.

The records table may carry an ``updated_at`` column (any time pandas reads); a run for
``[start, end)`` links the rows updated inside it (every row when the column is absent). Matches
(the 1:N pick per record that the 1:1 check keeps at score >= threshold) go to ``matches.csv``
in the run's folder. The linking is a ``recstack match link`` job named after its inputs, so a
run killed half-way resumes where it stopped when started again.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recstack.errors import ConfigError, DataError
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


def nightly_job_id(records: Path, reference: Path, model_ref: str, threshold: float,
                   out: Path) -> str:
    """The link job of one nightly run: the same inputs give the same id, so a run killed and
    started again resumes its job; other inputs (records edited since) start a new one."""
    digest = hashlib.sha256(f"{model_ref}|{threshold}|{out.resolve()}".encode())
    for path in (records, reference):
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    label = re.sub(r"[^A-Za-z0-9_.@=-]+", "-", out.parent.name)[:60]
    return f"nightly-{label}-{digest.hexdigest()[:12]}"


def link_records(settings: Settings, records: Path, reference: Path, model_ref: str, out: Path,
                 *, threshold: float = 0.5, chunk_size: int = 500) -> Summary:
    """Link ``records`` to ``reference`` as a resumable link job (blocking, 1:N selection, 1:1
    verification at ``threshold``) and write the verified matches to ``out`` (CSV:
    ``record_id``, ``reference_id``, ``score``).

    The job (:class:`recstack.matching.jobs.MatchJobs`, listed by ``recstack match jobs list``)
    is named after the inputs: a nightly run killed mid-way and started again resumes it, with
    its done chunks kept, instead of linking everything again.
    """
    from recstack.matching.jobs import LinkConfig, MatchJobs

    job_id = nightly_job_id(records, reference, model_ref, threshold, out)
    config = LinkConfig(left=records, right=reference, model=model_ref, chunk_size=chunk_size,
                        link_key=job_id, select_min=min(0.2, threshold), verify_min=threshold)
    job = MatchJobs(settings).link(config, job_id)
    if job.status != "completed":
        raise ConfigError(f"link job {job_id} stopped {job.status}: {job.message}",
                          field="job", fix=f"see `recstack match jobs status {job_id}`, then run "
                                           "the pipeline for this date again")
    rows, candidates = [], 0
    with open(job.output_path, encoding="utf-8") as lines:
        for line in lines:
            response = json.loads(line)["response"]
            candidates += response["candidates"]
            if response["match"] is not None:
                rows.append((response["left_id"], response["match"], response["score"]))
    matches = pd.DataFrame(rows, columns=["record_id", "reference_id", "score"])
    out.parent.mkdir(parents=True, exist_ok=True)
    matches.sort_values("record_id").to_csv(out, index=False)
    name, _, version = (job.model or "").rpartition("/")
    return {"model": name, "version": version, "job": job_id, "records": job.total,
            "failed": job.failed, "candidates": candidates, "matches": len(matches),
            "out": str(out)}


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
                        folder / "matches.csv", threshold=run.params["threshold"],
                        chunk_size=run.params["chunk_size"])


PIPELINES = [
    Pipeline(
        name="matching-nightly",
        summary="Place matching: link new or changed records to the reference table.",
        tasks=(Task("link", link, "block, score with the champion, best match per record"),),
        params=(Param("records", "", "CSV of records (id, name, …, optional updated_at)"),
                Param("reference", "", "CSV of the reference records to link against"),
                Param("model", "place-matcher@champion", "matcher (NAME@ALIAS)"),
                Param("threshold", 0.5, "lowest match probability kept"),
                Param("chunk_size", 500, "requests per chunk of the link job (redone whole "
                                         "when a killed run resumes)")),
        schedule="daily", data_range=data_range),
]
