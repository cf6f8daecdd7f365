"""Wall time and peak memory of a large ``recstack match link`` job, and its quality.

The right table is every distinct real record of the eight Geo-ER sets (OSM, Foursquare and
Yelp places in four cities) plus the gazetteer's cities (English names, coordinates); the left
table holds ``--records`` noisy copies of right records drawn at random (abbreviations, a
dropped word, a typo, case, coordinates moved by ~30 m or dropped), so every left record's true
place is known. A gradient-boosted matcher is fitted on Geo-ER OSM–Foursquare Pittsburgh and
registered; then the real CLI runs as a subprocess (``python -m recstack match link``), whose
wall time and peak resident memory (``RUSAGE_CHILDREN``) are what is reported, with the time of
its phases (planning = reading, blocking and hashing; sending = the chunks) and precision and
recall after the 1:N selection and after the 1:1 verification.

    PYTHONPATH=src .venv/bin/python benchmarks/matching_link.py [--records 100000]

Writes ``benchmarks/results/matching_link.json`` (``matching_link_<N>.json`` for other sizes).
"""

from __future__ import annotations

import argparse
import csv
import glob
import gzip
import json
import os
import platform
import random
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ABBREVIATIONS = {"street": "st", "avenue": "ave", "road": "rd", "saint": "st.", "and": "&",
                 "restaurant": "rest.", "center": "ctr", "centre": "ctr", "the": ""}


def real_records(shared: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Every distinct record of the Geo-ER files (both sides) and the gazetteer's cities, and
    each record's place (records a Geo-ER label 1 joins are one place: union-find)."""
    from recstack.matching.data import parse_record

    seen: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for path in sorted(glob.glob(str(shared / "place-matching/geo-er/*/*/*.txt.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                index = []
                for text in fields[:2]:
                    if text not in seen:
                        seen[text] = len(out)
                        parent.append(len(out))
                        r = parse_record(text)
                        out.append({"name": r.name, "lat": r.lat, "lon": r.lon,
                                    "address": r.address})
                    index.append(seen[text])
                if len(fields) > 2 and fields[2].strip() == "1":
                    parent[find(index[0])] = find(index[1])
    with open(shared / "gazetteer/cities_ko_en_geonames.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            parent.append(len(out))
            out.append({"name": row["name_en"], "lat": float(row["latitude"]),
                        "lon": float(row["longitude"]), "address": ""})
    return out, [find(i) for i in range(len(out))]


def noisy(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy as another database might hold it."""
    words = record["name"].split()
    words = [ABBREVIATIONS.get(w.lower(), w) if rng.random() < 0.5 else w for w in words]
    words = [w for w in words if w] or record["name"].split()
    if len(words) > 2 and rng.random() < 0.2:
        words.pop(rng.randrange(len(words)))
    name = " ".join(words)
    if len(name) > 4 and rng.random() < 0.2:
        i = rng.randrange(len(name) - 1)
        name = name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if rng.random() < 0.2:
        name = name.lower()
    lat, lon = record["lat"], record["lon"]
    if lat is not None and rng.random() < 0.1:
        lat = lon = None
    elif lat is not None:
        lat = min(max(lat + rng.gauss(0, 0.0003), -90), 90)
        lon = min(max(lon + rng.gauss(0, 0.0003), -180), 180)
    return {"name": name, "lat": lat, "lon": lon,
            "address": record["address"] if rng.random() < 0.5 else ""}


def write(path: Path, prefix: str, records: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "lat", "lon", "address"])
        for i, r in enumerate(records):
            writer.writerow([f"{prefix}{i}", r["name"], "" if r["lat"] is None else r["lat"],
                             "" if r["lon"] is None else r["lon"], r["address"]])


def stage_scores(output: Path, truth: dict[str, int], place: list[int]) -> dict[str, Any]:
    """Precision and recall after each stage, and the share of wrong selections removed (a
    right record is correct when it is the same place as the left record's source)."""
    selected = right_sel = verified = right_ver = 0
    for line in output.read_text().splitlines():
        x = json.loads(line)
        response = x["response"]
        if response["selected"]:
            selected += 1
            right_sel += place[int(response["selected"][1:])] == truth[x["custom_id"]]
        if response["match"]:
            verified += 1
            right_ver += place[int(response["match"][1:])] == truth[x["custom_id"]]
    wrong_sel, wrong_ver = selected - right_sel, verified - right_ver
    return {"stage1_precision": right_sel / max(selected, 1),
            "stage1_recall": right_sel / len(truth),
            "stage2_precision": right_ver / max(verified, 1),
            "stage2_recall": right_ver / len(truth),
            "wrong_selections": wrong_sel, "wrong_after_verification": wrong_ver,
            "wrong_removed_by_stage2": (wrong_sel - wrong_ver) / max(wrong_sel, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get(
        "RECSTACK_DATA__SHARED_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")))
    args = parser.parse_args()

    from recstack.matching.pipeline import MatchTrainConfig, train
    from recstack.settings import Settings

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="matching-link-"))
    started = time.perf_counter()
    right, place = real_records(args.shared)
    sources = [rng.randrange(len(right)) for _ in range(args.records)]
    left = [noisy(right[j], rng) for j in sources]
    write(work / "left.csv", "L", left)
    write(work / "right.csv", "R", right)
    truth = {f"L{i}": place[j] for i, j in enumerate(sources)}
    built_s = time.perf_counter() - started

    pit = args.shared / "place-matching/geo-er/osm_fsq/pit"
    settings = Settings(home=work / "home")
    train(MatchTrainConfig(pit / "train.txt.gz", pit / "valid.txt.gz", model="gbm"), settings)

    env = {**os.environ, "RECSTACK_HOME": str(settings.home), "MLFLOW_DISABLE_TELEMETRY": "true",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    command = [sys.executable, "-m", "recstack", "match", "link", "--left",
               str(work / "left.csv"), "--right", str(work / "right.csv"), "--model",
               "place-matcher/1", "--job", "bench", "--chunk-size", str(args.chunk_size)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        sys.exit(f"link failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    folder = settings.home / "match-jobs" / "bench"
    with sqlite3.connect(folder / "job.db") as conn:
        sending_s = conn.execute("SELECT SUM(seconds) FROM chunks").fetchone()[0]
    with sqlite3.connect(settings.home / "match-jobs" / "jobs.db") as conn:
        total, completed, failed = conn.execute(
            "SELECT total, completed, failed FROM match_jobs WHERE job_id = 'bench'").fetchone()
    plans = (folder / "requests.jsonl").read_text().splitlines()
    pairs = sum(len(json.loads(line)["candidates"]) for line in plans)
    result = {
        "benchmark": "matching_link", "records_left": len(left), "records_right": len(right),
        "requests": total, "completed": completed, "failed": failed, "pairs_scored": pairs,
        "pairs_per_record": pairs / max(total, 1), "chunk_size": args.chunk_size,
        "wall_s": round(wall_s, 1), "peak_rss_mib": round(peak_kib / 1024, 1),
        "peak_rss_note": "max resident memory of the link subprocess (RUSAGE_CHILDREN)",
        "sending_s": round(sending_s, 1), "planning_and_startup_s": round(wall_s - sending_s, 1),
        "requests_per_s": round(total / wall_s, 1), "build_tables_s": round(built_s, 1),
        **{k: round(v, 4) if isinstance(v, float) else v
           for k, v in stage_scores(folder / "output.jsonl", truth, place).items()},
        "matcher": "gbm fitted on Geo-ER osm_fsq/pit (train; thresholds on valid)",
        "blocking": "name top-10 (token_sort_ratio) ∪ geographic 10 nearest",
        "machine": {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
        "command": " ".join(re.sub(r"/tmp/matching-link-[^/]+", "TMP", c) for c in command[1:]),
        "stdout_tail": done.stdout[-400:],
    }
    RESULTS.mkdir(exist_ok=True)
    name = "matching_link.json" if args.records == 100_000 else \
        f"matching_link_{args.records}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
