"""Reading a run config: a YAML file (or a dict), ``--set section.key=value`` overrides,
strict validation against ``pipeline.config.Config``, and the resolved config written
into the run directory.

Every mistake is a ``ConfigError`` (or ``InputFileError`` for a missing file) whose
message names the file and the key, says what is wrong and, for an unknown key, the
closest valid one and the valid keys at that place. After the schema, ``config_check``
checks every name the config gives (metrics, options, the data's columns, read from the
file's header) before any work is done.

YAML is read as YAML 1.2 reads booleans: only ``true``/``false`` are booleans, so
``yes``, ``no``, ``on``, ``off`` stay text (a key that takes a boolean still accepts
them). Label values — ``data.positive_class``, ``data.classes``, the levels of
``prep.reference`` — are kept as the text written, quoted or not (``yes``, ``1.0``,
``true``), in the file and in ``--set``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from logitkit._util.errors import ConfigError, InputFileError, did_you_mean
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_check import check_config
from logitkit.pipeline.config_hashed import check_model_options

#: keys whose values are label values or levels: kept as the text written
TEXT_KEYS = {("data", "positive_class"), ("data", "classes"), ("prep", "reference")}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans (true/false only)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")))


def _text(node):
    """A node's value as the text written (a null scalar as None, lists and maps inside)."""
    if isinstance(node, yaml.SequenceNode):
        return [_text(n) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _text(v) for k, v in node.value}
    if node.tag == "tag:yaml.org,2002:null" and not node.style:
        return None
    return node.value


def _keep_text(node, data, path: tuple = ()) -> None:
    """Replace the values at ``TEXT_KEYS`` in ``data`` by the text written in ``node``."""
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        return
    for k, v in node.value:
        key = getattr(k, "value", None)
        if key not in data:
            continue
        if path + (key,) in TEXT_KEYS:
            data[key] = _text(v)
        elif len(path) < 1:
            _keep_text(v, data[key], path + (key,))


def read_yaml(text: str):
    """YAML text as data: YAML 1.2 booleans, ``TEXT_KEYS`` as the text written."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    _keep_text(node, data)
    return data


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
        text = tuple(parts[:2]) in TEXT_KEYS and not raw.strip().startswith(("[", "{"))
        node[parts[-1]] = _unquoted(raw) if text else _text_values(read_yaml(raw), tuple(parts))
    return out


def _unquoted(raw: str) -> str | None:
    """A ``--set`` value at a text key: the text, quotes removed; unquoted null, ~ or
    nothing is None (as in a YAML file)."""
    raw = raw.strip()
    if raw in ("null", "Null", "NULL", "~", ""):
        return None
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" else raw


def _text_values(value, parts: tuple):
    """A ``--set`` value at a text key given as a list or map: its items as text."""
    if tuple(parts[:2]) not in TEXT_KEYS:
        return value
    if isinstance(value, list):
        return [None if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in value]
    if isinstance(value, dict):
        return {str(k): None if v is None else str(v) for k, v in value.items()}
    return value


def _merge(base: dict, over: dict) -> dict:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                raw: dict | None = None, base_dir: str | Path | None = None) -> Config:
    """Read, override and validate a config, then check its names (``config_check``).

    Relative input paths follow ``resolve_paths``: in the file (or a ``raw`` dict) from
    its folder (``base_dir`` for a ``raw`` dict; else the current folder), in ``overrides``
    from the current folder; ``resolved_dict`` writes them relative to the config's
    folder again."""
    source = str(path) if path is not None else "config"
    if raw is None:
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"config file {p} does not exist; check the path")
        try:
            raw = read_yaml(p.read_text()) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{p}:{where} is not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections (run, data, prep, ...)")
    base = Path(path).resolve().parent if path is not None else Path(base_dir or ".").resolve()
    over = parse_set(overrides or [])
    resolve_paths(raw, base)  # the path rule: the file's paths from its folder,
    resolve_paths(over, Path.cwd())  # --set's from the current folder
    raw = _merge(raw, over)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    check_model_options(cfg, source)  # a kind's typed model.options (config_hashed)
    cfg._base_dir = str(base)
    check_config(cfg, source)  # every name, before any work
    return cfg


#: the keys that name input files: (section, ..., key)
PATH_KEYS = (("data", "path"), ("data", "test_path"), ("model", "options", "holdout_path"))


def _at(raw: dict, keys: tuple):
    """(the mapping holding ``keys[-1]``, its value), or (None, None)."""
    node = raw
    for k in keys[:-1]:
        node = node.get(k) if isinstance(node, dict) else None
    return (node, node.get(keys[-1])) if isinstance(node, dict) else (None, None)


def resolve_paths(raw: dict, base: Path) -> None:
    """Make the relative input paths of a raw config absolute, from ``base``, in place.

    The path rule, the same for every kind of run: a relative path written in a config
    file starts at that file's folder; one given on the command line (``--set
    data.path=train.tsv``) starts at the current folder, as any other command-line path.
    (Symbolic links are kept: the names given.)"""
    for keys in PATH_KEYS:
        node, value = _at(raw, keys)
        if isinstance(value, str) and value and (value.startswith("~") or not Path(value).is_absolute()):
            node[keys[-1]] = os.path.abspath(base / Path(value).expanduser())


def resolved_dict(cfg: Config) -> dict:
    """The fully resolved config (defaults included) as plain data, the data paths
    relative to the config's folder (``config_dir``): the same config and data in
    another folder write the same file."""
    out = cfg.model_dump(mode="json")
    base = config_dir(cfg)
    if base is not None:
        for keys in PATH_KEYS:
            node, value = _at(out, keys)
            if isinstance(value, str) and Path(value).is_absolute():
                node[keys[-1]] = Path(os.path.relpath(value, base)).as_posix()
    return out


def config_dir(cfg: Config) -> str | None:
    """The folder the config's relative data paths start at (None: not read by ``load_config``)."""
    return getattr(cfg, "_base_dir", None)
