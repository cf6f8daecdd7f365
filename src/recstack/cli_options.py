"""Option parsing shared by the command groups of every system."""

from __future__ import annotations

from recstack.errors import ConfigError


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["window=5", "lr=0.01"]`` → ``{"window": "5", "lr": "0.01"}`` (``--set`` options)."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{pair!r} is not key=value", field="--set",
                              fix="write --set window=5")
        params[key.strip()] = value.strip()
    return params
