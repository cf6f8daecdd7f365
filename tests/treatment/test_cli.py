"""`recstack treatment …` as a user runs it: simulate → fit → predict; errors without tracebacks.

In-process through ``recstack.cli.main`` (the real entry point, which turns a RecstackError into
a message and exit code 2); a subprocess per command would mostly measure import time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recstack.cli import main
from recstack.settings import get_settings


@pytest.fixture()
def recstack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr("sys.argv", ["recstack", "treatment", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out + out.err

    yield run
    get_settings.cache_clear()


def test_simulate_fit_predict_and_clear_errors(recstack, tmp_path: Path):
    train, test, preds = tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "preds.csv"
    assert recstack("simulate", "--out", str(train), "-n", "800")[0] == 0
    assert recstack("simulate", "--out", str(test), "-n", "20", "--seed", "3")[0] == 0
    code, out = recstack("fit", "--data", str(train), "--treatment", "icl_size_mm", "--outcome",
                         "vault_um", "--target", "250:750", "--features",
                         "age,ata_mm,wtw_mm,acd_mm,lens_thickness_mm,clr_um")
    assert code == 0, out
    assert "registered icl-size version 1" in out
    code, out = recstack("predict", "--model", "icl-size@champion", "--data", str(test), "--out",
                         str(preds))
    assert code == 0, out
    frame = pd.read_csv(preds)
    assert len(frame) == 80 and frame["row_id"].iloc[0] == pd.read_csv(test)["patient_id"][0]

    pd.read_csv(test).assign(icl_size_mm=14.5).to_csv(tmp_path / "bad.csv", index=False)
    for args, field in [
        (["fit", "--data", str(train), "--outcome", "vault"], "vault_um"),
        (["fit", "--data", str(train), "--target", "750"], "--target"),
        (["predict", "--model", "icl-size", "--data", str(tmp_path / "bad.csv"), "--out",
          str(preds)], "icl_size_mm"),
        (["predict", "--model", "nope", "--data", str(test), "--out", str(preds)], "model"),
    ]:
        code, out = recstack(*args)
        assert code == 2, out
        assert field in out and "Fix:" in out and "Traceback" not in out


def test_scenario_is_a_treatment_command_that_checks_its_model(recstack):
    code, out = recstack("scenario", "--model", "nope")
    assert code == 2 and "--model" in out and "standin" in out and "Traceback" not in out
