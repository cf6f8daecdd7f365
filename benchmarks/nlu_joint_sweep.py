"""Sweep of joint-e5 recipes on a GPU lent for minutes: pack on the CPU machine, run on the GPU.

A GPU machine here takes at most 64 MiB from the working tree, and the converted e5 (250k-row
vocabulary) is 470 MB, so ``pack`` pre-encodes the splits (several epochs of slot swaps) and keeps
only the ~2,200 vocabulary rows those questions use (fp16), ~45 MB in all. ``run`` trains each
recipe of a JSON plan with the project's own ``_JointModule`` and ``Trainer``, selects by
validation (mean of intent accuracy and entity F1), reports test beside it, and saves the
best recipe's weights (without the frozen word embeddings) in files under 16 MB, which
``assemble`` turns back into a ``JointEncoderNLU`` folder with the full vocabulary::

    PYTHONPATH=src python benchmarks/nlu_joint_sweep.py pack .devpack
    # on the GPU machine (carry .devpack and src):
    SAVE_BEST=1 OUT=out python benchmarks/nlu_joint_sweep.py run .devpack \
        '[{"name": "B"}, {"name": "C", "variant": "swap1.0"}, {"name": "E", "lr": 0.0002}]'
    PYTHONPATH=src python benchmarks/nlu_joint_sweep.py assemble out model-folder

Measured 2026-11-30 on one H200 (docs/nlu.md, "joint-e5 recipe"). Not a test; not run by CI.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import itertools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

SHARES = (0.5, 1.0)  # slot-swap shares packed besides 0 (no swap)
EPOCH_PACKS = 8  # distinct swapped epochs per share; later epochs reuse them in turn


def pack(out: Path) -> None:
    """Pre-encoded splits and a vocabulary-pruned fp16 e5 in ``out``."""
    from safetensors.torch import load_file
    from transformers import PreTrainedTokenizerFast

    from recstack.encoders import ensure_e5
    from recstack.nlu.data import make_splits
    from recstack.nlu.pipeline import NLUTrainConfig, gazetteer_for, swap_names_for
    from recstack.nlu.tagging import PLACE_TYPES, JointCodec, swap_places
    from recstack.settings import get_settings

    settings = get_settings()
    folder = ensure_e5(settings)
    splits = make_splits(seed=0, sizes=(6000, 1000, 1500), shared_dir=settings.shared_data_dir)
    gazetteer = gazetteer_for(NLUTrainConfig(gazetteer="full"), splits, settings)
    names = {t: v for t, v in swap_names_for(gazetteer, splits).items()
             if t in PLACE_TYPES and v}
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    codec = JointCodec(tokenizer, gazetteer)
    train = splits.train
    packs = {"swap0": [codec.encode([e.text for e in train], train)]}
    for share in SHARES:
        packs[f"swap{share}"] = []
        for epoch in range(EPOCH_PACKS):
            rng = np.random.default_rng(100 + epoch)
            swapped = [swap_places(e, names, rng, share) for e in train]
            packs[f"swap{share}"].append(codec.encode([e.text for e in swapped], swapped))
    valid = codec.encode([e.text for e in splits.valid], splits.valid)
    test = codec.encode([e.text for e in splits.test], splits.test)
    used = sorted({i for p in packs.values() for ep in p for it in ep for i in it["input_ids"]}
                  | {i for it in valid + test for i in it["input_ids"]} | {0, 1, 2})
    remap = {old: new for new, old in enumerate(used)}

    def flat(items: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        return {"lens": np.array([len(it["input_ids"]) for it in items], np.int32),
                "ids": np.concatenate([np.array([remap[i] for i in it["input_ids"]], np.int16)
                                       for it in items]),
                "hints": np.concatenate([np.array(it["hints"], np.int8) for it in items]),
                "labels": np.concatenate([np.array(it["labels"], np.int8) for it in items]),
                "intent": np.array([it["intent"] for it in items], np.int8)}

    arrays = {f"{key}/{epoch}/{name}": arr for key, epochs in packs.items()
              for epoch, items in enumerate(epochs) for name, arr in flat(items).items()}
    arrays.update({f"{part}/{name}": arr for part, items in (("valid", valid), ("test", test))
                   for name, arr in flat(items).items()})
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "data.npz", **arrays)
    side = {"valid": [(it["content"], sorted(it["matched"]), [s.__dict__ for s in it["places"]])
                      for it in valid],
            "test": [(it["content"], sorted(it["matched"]), [s.__dict__ for s in it["places"]])
                     for it in test],
            "valid_ex": [e.to_dict() for e in splits.valid],
            "test_ex": [e.to_dict() for e in splits.test],
            "lists": codec.lists, "pad": remap[1], "packs": {k: len(v) for k, v in packs.items()}}
    with gzip.open(out / "side.json.gz", "wt", encoding="utf-8") as f:
        json.dump(side, f, ensure_ascii=False)
    weights = load_file(str(folder / "model.safetensors"))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    state = {k: v.half() for k, v in weights.items() if k != key}
    state[key] = weights[key][torch.tensor(used)].half()
    torch.save({"state": state, "vocab": len(used)}, out / "weights.pt")
    shutil.copy(folder / "config.json", out / "config.json")
    print(f"packed {len(used)} vocabulary rows into {out}")


def run(pack_dir: Path, plan: list[dict[str, Any]], out: Path, limit: int = 0) -> None:
    """Trains each recipe of ``plan`` on ``pack_dir``; results to ``out/sweep.jsonl``."""
    from transformers import BertConfig, BertModel

    from recstack.nlu.evaluation import score_parses
    from recstack.nlu.joint import JointConfig, _JointModule
    from recstack.nlu.schema import Example, Span
    from recstack.nlu.tagging import JointCodec
    from recstack.training import Trainer

    torch.backends.cuda.matmul.allow_tf32 = True
    npz = np.load(pack_dir / "data.npz")
    arrays = {k: npz[k] for k in npz.files}  # an NpzFile decompresses on every access
    with gzip.open(pack_dir / "side.json.gz", "rt", encoding="utf-8") as f:
        side = json.load(f)
    weights = torch.load(pack_dir / "weights.pt", weights_only=False)
    config = json.loads((pack_dir / "config.json").read_text())
    config.pop("architectures", None)
    bert_config = BertConfig(**{**config, "vocab_size": weights["vocab"]})
    codec = JointCodec(None, side["lists"], gazetteer_spans=True)  # decodes; no tokenizer here

    def split(prefix: str) -> list[dict[str, Any]]:
        lens = arrays[f"{prefix}/lens"]
        cuts = np.concatenate([[0], np.cumsum(lens[:limit] if limit else lens)])
        return [{"input_ids": arrays[f"{prefix}/ids"][a:b].astype(np.int64),
                 "hints": arrays[f"{prefix}/hints"][a:b].astype(np.int64),
                 "labels": arrays[f"{prefix}/labels"][a:b].astype(np.int64),
                 "intent": int(arrays[f"{prefix}/intent"][i])}
                for i, (a, b) in enumerate(itertools.pairwise(cuts))]

    def collate(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(i["input_ids"]) for i in items)
        batch = {}
        for key, value in (("input_ids", side["pad"]), ("hints", 0), ("labels", -100)):
            rows = np.full((len(items), width), value, np.int64)
            for r, it in enumerate(items):
                rows[r, :len(it[key])] = it[key]
            batch[key] = torch.from_numpy(rows)
        batch["hints"] = batch["hints"].clamp(min=0)  # special tokens' -100
        batch["attention_mask"] = (torch.arange(width)[None, :] < torch.tensor(
            [len(i["input_ids"]) for i in items])[:, None]).long()
        batch["intent"] = torch.tensor([i["intent"] for i in items])
        return batch

    evals = {}
    for part in ("valid", "test"):
        items = split(part)
        for it, (content, matched, places) in zip(items, side[part][:len(items)], strict=True):
            it.update(content=[tuple(c) for c in content], matched=set(matched),
                      places=[Span(**p) for p in places])
        evals[part] = (items, [Example.from_dict(d) for d in side[f"{part}_ex"][:len(items)]])

    def predict(module: torch.nn.Module, part: str) -> dict[str, Any]:
        items, examples = evals[part]
        device = next(module.parameters()).device
        parses = []
        module.eval()
        with torch.inference_mode():
            for lo in range(0, len(items), 256):
                chunk = items[lo:lo + 256]
                batch = {k: v.to(device) for k, v in collate(chunk).items()
                         if k in ("input_ids", "attention_mask", "hints")}
                logits = module(**batch)
                parses.extend(codec.parses([e.text for e in examples[lo:lo + 256]], chunk,
                                           logits["intent_logits"].float().cpu().numpy(),
                                           logits["token_logits"].float().cpu().numpy()))
        scores = score_parses(examples, parses)
        acc, f1 = scores["intent"]["accuracy"], scores["entities"]["f1"]
        return {"intent_accuracy": acc, "entity_f1": f1, "score": (acc + f1) / 2,
                "per_type": {k: round(v["f1"], 3)
                             for k, v in scores["entities"]["per_type"].items()}}

    best = -1.0
    out.mkdir(parents=True, exist_ok=True)
    for spec in plan:
        spec = dict(spec)
        name, variant = spec.pop("name"), spec.pop("variant", "swap0.5")
        cfg = JointConfig(**{"epochs": 8, "device": os.environ.get("DEVICE", "cuda"),
                             "amp": False, "patience": 0, "max_minutes": 0, **spec})
        torch.manual_seed(cfg.seed)
        encoder = BertModel(bert_config, add_pooling_layer=False)
        encoder.load_state_dict({k.removeprefix("bert."): v.float()
                                 for k, v in weights["state"].items()})
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        module = _JointModule(encoder, cfg)
        packs = [split(f"{variant}/{e}") for e in range(side["packs"][variant])]

        def batches(epoch: int, rng: np.random.Generator, packs: list = packs,
                    cfg: JointConfig = cfg) -> Any:
            items = packs[(epoch - 1) % len(packs)]
            order = rng.permutation(len(items))
            for lo in range(0, len(items), cfg.batch_size):
                yield collate([items[i] for i in order[lo:lo + cfg.batch_size]])

        started = time.time()
        history = Trainer(cfg).fit(
            module, batches, progress=False,
            validate=lambda m: {k: v for k, v in predict(m, "valid").items() if k != "per_type"},
            steps_per_epoch=-(-len(packs[0]) // cfg.batch_size))
        module.to(cfg.device)
        result = {"name": name, "variant": variant, "overrides": spec,
                  "seconds": round(time.time() - started, 1), "best_epoch": history.best_epoch,
                  "curve": [(e.epoch, round(e.loss, 4), round(e.valid["intent_accuracy"], 4),
                             round(e.valid["entity_f1"], 4)) for e in history.epochs],
                  "valid": predict(module, "valid"), "test": predict(module, "test")}
        print(json.dumps(result), flush=True)
        with open(out / "sweep.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")
        if result["valid"]["score"] > best and os.environ.get("SAVE_BEST"):
            best = result["valid"]["score"]
            state = {k: v.half() for k, v in module.cpu().state_dict().items()
                     if not k.endswith("word_embeddings.weight")}  # frozen: the original's
            chunks: list[dict[str, torch.Tensor]] = [{}]
            for k in sorted(state):
                if sum(v.numel() * 2 for v in chunks[-1].values()) > 14e6:
                    chunks.append({})
                chunks[-1][k] = state[k]
            for i, chunk in enumerate(chunks):
                torch.save(chunk, out / f"best_{i}.pt")
            (out / "best.json").write_text(json.dumps(result))
        del module
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def assemble(results: Path, folder: Path) -> None:
    """A ``JointEncoderNLU`` folder from the best recipe's weights and the full e5."""
    from transformers import BertModel, PreTrainedTokenizerFast

    from recstack.encoders import ensure_e5
    from recstack.nlu.data import make_splits
    from recstack.nlu.joint import JointConfig, JointEncoderNLU, _JointModule
    from recstack.nlu.pipeline import NLUTrainConfig, gazetteer_for
    from recstack.settings import get_settings
    from recstack.training import EpochRecord, TrainingHistory

    settings = get_settings()
    e5 = ensure_e5(settings)
    splits = make_splits(seed=0, sizes=(6000, 1000, 1500), shared_dir=settings.shared_data_dir)
    best = json.loads((results / "best.json").read_text())
    config = JointConfig(**{"epochs": 8, "amp": False, "patience": 0, "max_minutes": 0,
                            "slot_swap": float(best["variant"].removeprefix("swap")),
                            **best["overrides"]})
    model = JointEncoderNLU(gazetteer=gazetteer_for(NLUTrainConfig(gazetteer="full"), splits,
                                                    settings), config=config)
    model._make_codec(PreTrainedTokenizerFast.from_pretrained(e5, local_files_only=True))
    model.module_ = _JointModule(BertModel.from_pretrained(e5, add_pooling_layer=False,
                                                           local_files_only=True), config)
    state: dict[str, torch.Tensor] = {}
    for path in sorted(glob.glob(str(results / "best_*.pt"))):
        state.update({k: v.float() for k, v in torch.load(path, weights_only=True).items()})
    missing = model.module_.load_state_dict(state, strict=False).missing_keys
    assert missing == ["encoder.embeddings.word_embeddings.weight"], missing
    model.module_.eval()
    seconds = best["seconds"] / len(best["curve"])
    model.history_ = TrainingHistory(
        epochs=[EpochRecord(epoch=e, loss=loss, seconds=seconds, lr=float("nan"),
                            valid={"intent_accuracy": acc, "entity_f1": f1})
                for e, loss, acc, f1 in best["curve"]],
        monitor="score", best_epoch=best["best_epoch"], device="cuda (one H200)")
    model.save(folder)
    print(f"saved {best['name']} to {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pack").add_argument("out", type=Path)
    runner = sub.add_parser("run")
    runner.add_argument("pack_dir", type=Path)
    runner.add_argument("plan", help="JSON list of {name, variant?, JointConfig fields}")
    runner.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")))
    runner.add_argument("--limit", type=int, default=0, help="first N questions (a smoke run)")
    joiner = sub.add_parser("assemble")
    joiner.add_argument("results", type=Path)
    joiner.add_argument("folder", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.out)
    elif args.command == "run":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        run(args.pack_dir, json.loads(args.plan), args.out, args.limit)
    else:
        assemble(args.results, args.folder)


if __name__ == "__main__":
    main()
