"""The Ditto-style cross-encoder beside gbm, on Geo-ER sets and the Korean ↔ English set.

For each set, ``ditto`` (:mod:`recstack.matching.ditto`, its defaults unless ``--set`` changes
them) and ``gbm`` are fitted on the set's train pairs, choose their thresholds on its valid
pairs and are scored once on its TEST pairs (precision, recall, F1 of the match class), as in
``benchmarks/matching.py``. Pairs per second: ``predict_proba`` on the test pairs (batched,
features included for gbm) with the thread cap below. The JSON is rewritten after each set, so a
run stopped early keeps the sets it finished.

    PYTHONPATH=src .venv/bin/python benchmarks/matching_ditto.py --threads 2 \\
        --sets osm_fsq/pit ko-en [--set epochs=2]

``ko-en`` is the gazetteer set of :mod:`recstack.matching.korean_pairs` (seed 0, all cities), as
in ``benchmarks/matching.py``. Writes ``benchmarks/results/matching_ditto.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _limit_threads(threads: int) -> None:
    """Caps BLAS/OpenMP threads before numpy, scikit-learn and torch load (read once)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def load_set(name: str, geo_root: Path, shared: Path) -> dict[str, Any]:
    from recstack.matching.data import read_pairs

    if name == "ko-en":
        from recstack.matching.korean_pairs import GAZETTEER, build_korean_english_pairs

        return build_korean_english_pairs(shared / GAZETTEER, seed=0)
    return {part: read_pairs(geo_root / name / f"{part}.txt.gz", require_labels=True)
            for part in ("train", "valid", "test")}


def run_one(model: str, params: dict[str, Any], pairs: dict[str, Any]) -> dict[str, Any]:
    from recstack.matching.matchers import matcher_class
    from recstack.matching.pipeline import scores, typed_params

    cls = matcher_class(model)
    started = time.perf_counter()
    matcher = cls(**typed_params(cls, params)).fit(pairs["train"], pairs["valid"])
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    proba = matcher.predict_proba(pairs["test"])[:, 1]
    seconds = time.perf_counter() - started
    out = {**scores(pairs["test"].require_labels("scoring"), (proba >= 0.5).astype(int)),
           "valid_f1_at_chosen_threshold": getattr(matcher, "valid_f1_", None),
           "chosen": matcher.describe(), "params": params, "fit_seconds": fit_seconds,
           "pairs_per_second": len(pairs["test"]) / seconds, "load_after": os.getloadavg()}
    print(f"  {model}: test F1 {out['f1']:.4f} (P {out['precision']:.3f} R {out['recall']:.3f}),"
          f" fit {fit_seconds:.0f} s, {out['pairs_per_second']:.1f} pairs/s", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["osm_fsq/pit", "ko-en"],
                        help="Geo-ER source/city (e.g. osm_fsq/pit) or ko-en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="params", action="append", default=[],
                        metavar="KEY=VALUE", help="a DittoMatcher parameter (repeatable)")
    parser.add_argument("--no-gbm", dest="gbm", action="store_false",
                        help="skip gbm (its figures are in matching.json)")
    parser.add_argument("--out", type=Path, default=RESULTS / "matching_ditto.json")
    args = parser.parse_args(argv)
    _limit_threads(args.threads)

    from recstack.settings import Settings

    shared = Settings().shared_data_dir
    geo_root = shared / "place-matching" / "geo-er"
    if not shared.is_dir():
        sys.exit(f"no shared data at {shared}: set RECSTACK_DATA__SHARED_DIR")
    params: dict[str, Any] = dict(p.split("=", 1) for p in args.params)
    params.setdefault("threads", str(args.threads))
    result: dict[str, Any] = {
        "protocol": "per set: fit on train, threshold chosen on valid, scored once on test "
                    "(F1 of the match class); pairs/s = predict_proba on the test pairs",
        "command": "benchmarks/matching_ditto.py " + " ".join(argv if argv is not None
                                                             else sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(), "threads": args.threads,
                    "load_average_at_start": os.getloadavg()},
        "rows": []}
    started = time.perf_counter()
    for name in args.sets:
        print(f"{name}:", flush=True)
        loaded = time.perf_counter()
        pairs = load_set(name, geo_root, shared)
        row: dict[str, Any] = {"set": name, "n": {k: len(v) for k, v in pairs.items()},
                               "test_positives": int(pairs["test"].labels.sum()),
                               "load_seconds": time.perf_counter() - loaded}
        row["ditto"] = run_one("ditto", params, pairs)
        if args.gbm:
            row["gbm"] = run_one("gbm", {}, pairs)
        result["rows"].append(row)
        result["wall_seconds"] = time.perf_counter() - started
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"→ {args.out} ({result['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
