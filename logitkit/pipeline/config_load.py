"""Reading a run config: a YAML file (or a dict), ``--set section.key=value`` overrides,
strict validation against ``pipeline.config.Config``, and the resolved config written
into the run directory.

Every mistake is a ``ConfigError`` (or ``InputFileError`` for a missing file) whose
message names the file and the key, says what is wrong and, for an unknown key, the
closest valid one and the valid keys at that place.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from logitkit._util.errors import ConfigError, InputFileError, did_you_mean
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_hashed import check_model_options


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    """Valid keys of the section found by following ``path`` through the schema."""
    for key in path:
        field = model.model_fields.get(str(key)) if isinstance(key, str) else None
        if field is None:
            break
        ann = field.annotation
        sub = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            break
        model = sub
    return list(model.model_fields)


def _explain(exc: ValidationError, source: str) -> ConfigError:
    msgs = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            valid = _fields_at(Config, loc[:-1])
            msgs.append(f"unknown key '{key}'." + did_you_mean(str(loc[-1]), valid)
                        + f" Valid keys here: {', '.join(valid)}")
        else:
            msgs.append(f"'{key}': {err['msg']} (got {err.get('input')!r})")
    return ConfigError(f"{source}: " + "; ".join(msgs))


def parse_set(items: list[str]) -> dict:
    """``["model.alpha=0.1", ...]`` to a nested dict; values are parsed as YAML."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set model.alpha=0.1")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"--set {item!r}: the key must name a section and a key, e.g. model.alpha")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def _merge(base: dict, over: dict) -> dict:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                raw: dict | None = None) -> Config:
    """Read, override and validate a config. Relative input paths follow ``resolve_paths``."""
    source = str(path) if path is not None else "config"
    if raw is None:
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"config file {p} does not exist; check the path")
        try:
            raw = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{p}:{where} is not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections (run, data, prep, ...)")
    over = parse_set(overrides or [])
    if path is not None:  # the path rule: the file's paths from its folder, --set's from here
        resolve_paths(raw, Path(path).resolve().parent)
        resolve_paths(over, Path.cwd())
    raw = _merge(raw, over)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    check_model_options(cfg, source)  # a kind's typed model.options (config_hashed)
    return cfg


#: the keys that name input files: (section, ..., key)
PATH_KEYS = (("data", "path"), ("data", "test_path"), ("model", "options", "holdout_path"))


def resolve_paths(raw: dict, base: Path) -> None:
    """Make the relative input paths of a raw config absolute, from ``base``, in place.

    The path rule, the same for every kind of run: a relative path written in a config
    file starts at that file's folder; one given on the command line (``--set
    data.path=train.tsv``) starts at the current folder, as any other command-line path."""
    for keys in PATH_KEYS:
        node = raw
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        value = node.get(keys[-1]) if isinstance(node, dict) else None
        if isinstance(value, str) and value and (value.startswith("~") or not Path(value).is_absolute()):
            node[keys[-1]] = os.path.abspath(base / Path(value).expanduser())  # (symlinks kept: the names given)


def resolved_dict(cfg: Config) -> dict:
    """The fully resolved config (defaults included) as plain data."""
    return cfg.model_dump(mode="json")
