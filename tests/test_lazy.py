"""The lazy-export helper, and that importing a system package stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from recstack._lazy import lazy_exports


def _package(name: str, exports: dict[str, list[str]]) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__getattr__, module.__dir__, module.__all__ = lazy_exports(name, exports)
    sys.modules[name] = module
    return module


@pytest.fixture
def fake_package():
    module = _package("recstack_lazy_probe", {"json": ["dumps", "loads"], "decimal": ["Decimal"]})
    # Submodules relative to the package: point them at real standard-library modules.
    sys.modules["recstack_lazy_probe.json"] = __import__("json")
    sys.modules["recstack_lazy_probe.decimal"] = __import__("decimal")
    yield module
    for name in ("recstack_lazy_probe", "recstack_lazy_probe.json", "recstack_lazy_probe.decimal"):
        sys.modules.pop(name, None)


def test_a_name_resolves_to_the_object_of_its_submodule(fake_package):
    import decimal
    import json

    assert fake_package.dumps is json.dumps and fake_package.Decimal is decimal.Decimal
    assert fake_package.__all__ == ["Decimal", "dumps", "loads"]


def test_an_unknown_name_is_an_attribute_error(fake_package):
    with pytest.raises(AttributeError, match=r"recstack_lazy_probe.*'dump'"):
        _ = fake_package.dump
    assert not hasattr(fake_package, "Fraction")


def test_dir_lists_the_exports_and_what_the_module_holds(fake_package):
    listed = dir(fake_package)
    assert {"Decimal", "dumps", "loads", "__name__"} <= set(listed)
    assert listed == sorted(listed)


def test_a_name_exported_twice_is_refused():
    with pytest.raises(ValueError, match="'x' exported by both"):
        lazy_exports("p", {"a": ["x"], "b": ["x"]})


@pytest.mark.parametrize("package", ["recstack.features", "recstack.monitoring",
                                     "recstack.treatment", "recstack.embeddings",
                                     "recstack.sequential"])
def test_every_export_of_a_real_package_resolves(package):
    module = __import__(package, fromlist=["_"])
    assert module.__all__ and set(module.__all__) <= set(dir(module))
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", ["recstack.embeddings", "recstack.sequential",
                                     "recstack.treatment", "recstack.settings"])
def test_importing_a_package_imports_neither_torch_nor_gensim(package):
    code = (f"import sys, {package}\n"
            "heavy = [m for m in ('torch', 'gensim') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == ""
