"""Typed experiment configs: build a config dataclass from checked ``key=value`` overrides.

Every system's configs are plain dataclasses whose fields all have defaults. Presets are dicts
of overrides; the command line's ``--set key=value`` (parsed by
:func:`recstack.cli_options.parse_overrides`) goes through :func:`build_config`, which rejects
unknown keys (listing the known ones) and converts strings to each field's type. Saved configs
(``dataclasses.asdict``) come back through :func:`config_from_dict`.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from recstack.errors import ConfigError


def build_config(config_cls: type, overrides: dict[str, Any] | None = None) -> Any:
    """Build a config dataclass from ``key=value`` overrides, checking names and types.

    Nested configs take dotted keys (``training.lr``); a plain key that names a field of exactly
    one nested config (``lr``) goes there. Strings (from the command line) are converted to the
    field's type.
    """
    config = config_cls()
    for key, value in (overrides or {}).items():
        config = _set_path(config, _resolve_key(config, key), value)
    return config


def config_from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (possibly nested) config dataclass from ``dataclasses.asdict`` output."""
    hints = typing.get_type_hints(config_cls)
    kwargs = {}
    for f in dataclasses.fields(config_cls):
        if f.name not in data:
            continue  # a field added since the model was saved keeps its default
        value = data[f.name]
        kind = hints.get(f.name)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) and isinstance(value, dict):
            value = config_from_dict(kind, value)
        kwargs[f.name] = value
    return config_cls(**kwargs)


def _resolve_key(config: Any, key: str) -> list[str]:
    names = {f.name for f in dataclasses.fields(config)}
    head, _, rest = key.partition(".")
    if head in names:
        inner = getattr(config, head)
        if rest:
            if not dataclasses.is_dataclass(inner):
                raise ConfigError(f"{head!r} has no sub-parameters", field=key,
                                  fix=f"write {head}=VALUE")
            return [head, *_resolve_key(inner, rest)]
        return [head]
    nested = [n for n in names if dataclasses.is_dataclass(getattr(config, n))
              and key in {f.name for f in dataclasses.fields(getattr(config, n))}]
    if len(nested) == 1:
        return [nested[0], key]
    known = sorted(_all_keys(config))
    if len(nested) > 1:
        raise ConfigError(f"{key!r} is ambiguous", field=key,
                          fix=f"write one of: {', '.join(f'{n}.{key}' for n in nested)}")
    raise ConfigError(f"unknown parameter {key!r} for {type(config).__name__}", field=key,
                      fix=f"use one of: {', '.join(known)}")


def _all_keys(config: Any, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(config):
        inner = getattr(config, f.name)
        if dataclasses.is_dataclass(inner):
            keys += _all_keys(inner, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def _set_path(config: Any, path: list[str], value: Any) -> Any:
    head = path[0]
    current = getattr(config, head)
    if len(path) > 1:
        return dataclasses.replace(config, **{head: _set_path(current, path[1:], value)})
    return dataclasses.replace(config, **{head: _coerce(head, value, type(current))})


def _coerce(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    try:
        if kind is bool:
            text = str(value).lower()
            if text not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return text in {"true", "1", "yes"}
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a valid {kind.__name__}", field=key,
                          fix=f"give {key} a {kind.__name__} value") from None


def settings_section_input(data: Any, *, section: str, renamed: dict[str, str],
                           unions: dict[str, str]) -> Any:
    """Checks a settings section's raw input before validation (a ``mode="before"`` validator).

    Variables of an earlier layout (``renamed``: old key → new variable) are refused, naming
    the new variable, so an old deployment does not silently fall back to a default. A union
    field given without its ``type`` (``unions``: field → default type) gets the default type,
    so that a key of another backend is refused by name ("url: extra inputs are not
    permitted") instead of as a missing tag.
    """
    if not isinstance(data, dict):
        return data
    old = [key for key in data if key in renamed]
    if old:
        raise ValueError("renamed settings: " + "; ".join(
            f"{section}.{key} is now {renamed[key]}" for key in old))
    for field, default in unions.items():
        value = data.get(field)
        if isinstance(value, dict) and "type" not in value:
            data = {**data, field: {"type": default, **value}}
    return data
