"""PluginTable: the name → plugin map behind every extension point."""

from __future__ import annotations

import pytest

from recstack.errors import ConfigError, NotFoundError
from recstack.plugins import PluginTable


def test_register_decorates_and_get_returns_the_plugin():
    table: PluginTable[type] = PluginTable("widget", field="widgets.kind")

    @table.register("round")
    class Round:
        pass

    assert table.get("round") is Round and "round" in table and "square" not in table
    assert table.names() == ["round"] and table.as_dict() == {"round": Round}


def test_an_unknown_name_names_the_field_and_lists_the_known_ones():
    table: PluginTable[int] = PluginTable("widget", field="widgets.kind", error=NotFoundError)
    table.add("b", 2)
    table.add("a", 1)
    with pytest.raises(NotFoundError) as caught:
        table.get("c")
    assert caught.value.field == "widgets.kind" and caught.value.fix == "use one of: a, b"
    assert isinstance(PluginTable("x", field="f").error("m", field="f"), ConfigError)


def test_a_name_registered_twice_is_refused():
    table: PluginTable[int] = PluginTable("widget", field="widgets.kind")
    table.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        table.add("a", 2)
