"""RecBole's SASRec (CE loss) on ML-1M-T2, for ``sequential_ml1m.py --recbole``.

Runs inside ``benchmarks/.venv-recbole`` (RecBole 1.2.1 needs numpy < 2). It writes the ML-1M-T2
sequences as RecBole atomic files (the position in the sequence is the timestamp), uses RecBole's
leave-one-out split (``LS: valid_and_test``) with full ranking, and prints one ``RESULT {json}``
line. RecBole's ``quick_start`` imports ray, which breaks with numpy 2-era packages, so the
lower-level API is used. Protocol gap: RecBole excludes seen items the same way (full sort with
history masked) but breaks score ties arbitrarily, not pessimistically.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-1m" / "sasrec"


def ml1m_t2_sequences() -> list[list[str]]:
    train = [line.split() for line in (SHARED / "train_input.txt").read_text().splitlines()]
    val = [line.split() for line in (SHARED / "val_input.txt").read_text().splitlines()]
    by_prefix: dict[tuple[str, ...], list[list[str]]] = {}
    for line in val:
        by_prefix.setdefault(tuple(line[:-1]), []).append(line)
    return [c[0] if len(c := by_prefix.get(tuple(t), [])) == 1 else t for t in train]


def main() -> None:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        torch.set_num_threads(int(sys.argv[2]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ml1mt2"
        folder.mkdir()
        with open(folder / "ml1mt2.inter", "w") as out:
            out.write("user_id:token\titem_id:token\ttimestamp:float\n")
            for user, seq in enumerate(ml1m_t2_sequences(), start=1):
                out.writelines(f"{user}\t{item}\t{t}\n" for t, item in enumerate(seq))
        config = Config(model="SASRec", dataset="ml1mt2", config_dict={
            "data_path": tmp, "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
            "MAX_ITEM_LIST_LENGTH": 200, "train_neg_sample_args": None, "loss_type": "CE",
            "epochs": epochs, "train_batch_size": 128, "learning_rate": 0.001,
            "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full",
                          "group_by": "user"},
            "metrics": ["Hit", "NDCG"], "topk": [10], "valid_metric": "NDCG@10",
            "hidden_size": 64, "n_layers": 2, "n_heads": 1, "inner_size": 256,
            "hidden_dropout_prob": 0.2, "attn_dropout_prob": 0.2, "stopping_step": 10,
            "device": "cpu", "use_gpu": False, "show_progress": False,
            "checkpoint_dir": str(Path(tmp) / "saved"), "seed": 0, "reproducibility": True})
        init_seed(config["seed"], config["reproducibility"])
        train, valid, test = data_preparation(config, create_dataset(config))
        model = SASRec(config, train.dataset).to(config["device"])
        trainer = Trainer(config, model)
        started = time.perf_counter()
        # argv[3] == "progress": tqdm on stderr, to time RecBole's steps when a run is too long
        trainer.fit(train, valid, saved=True, show_progress=sys.argv[3:4] == ["progress"])
        result = trainer.evaluate(test, load_best_model=True, show_progress=False)
        print("RESULT " + json.dumps({
            "hr_at_10": float(result["hit@10"]), "ndcg_at_10": float(result["ndcg@10"]),
            "train_seconds": round(time.perf_counter() - started, 1),
            "epochs": epochs,
            "seconds_per_epoch": round((time.perf_counter() - started) / epochs, 1),
            "best_epoch": None, "device": "cpu",
            "n_training_samples": len(train.dataset)}))


if __name__ == "__main__":
    main()
