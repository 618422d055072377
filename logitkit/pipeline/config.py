"""The run config: one section per stage plus ``run``. Every default lives here.

    run:       seed, device, output folder
    data:      where the data comes from            (``config_data.DataSection``)
    prep:      fitted transforms                    (``config_data.PrepSection``)
    embed:     basis / encoder before the head
    model:     the estimator and its parameters
    evaluate:  metrics, inference, cross-validation
    interpret: plots, tables, report

``load_config`` reads YAML, applies ``--set section.key=value`` overrides and validates
strictly: an unknown key or a wrong type is a ``ConfigError`` naming the key (and the
closest valid key).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logitkit._util.errors import ConfigError, InputFileError, did_you_mean
from logitkit.pipeline.config_data import DataSection, PrepSection
from logitkit.pipeline.config_hashed import check_model_options


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunSection(_Section):
    seed: int = Field(0, ge=0, description="Seeds Python, NumPy and torch.")
    device: str = Field("auto", description="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    out: str = Field("runs", description="Folder that holds the run directories.")
    deterministic: bool = Field(True, description="Ask torch for deterministic algorithms.")


class EmbedSection(_Section):
    kind: Literal["identity", "polynomial", "rbf", "random_fourier"] = Field(
        "identity", description="Basis phi(x) applied to the prepared features before the head.")
    degree: int = Field(2, ge=1, description="polynomial: degree.")
    interaction_only: bool = Field(False, description="polynomial: products of distinct features only.")
    n_centres: int = Field(10, ge=1, description="rbf: number of centres.")
    centres: Literal["kmeans++", "quantile"] = Field("kmeans++", description="rbf: how centres are placed.")
    width: float | Literal["nearest"] = Field("nearest", description="rbf: Gaussian width, or the nearest-centre rule.")
    n_components: int = Field(100, ge=1, description="random_fourier: number of features.")
    gamma: float = Field(1.0, gt=0, description="random_fourier: RBF-kernel parameter exp(-gamma |x - x'|^2).")

    def basis_params(self, seed: int) -> dict:
        """Keyword arguments of ``logitkit.embed.make_basis`` for this kind."""
        return {
            "identity": {},
            "polynomial": {"degree": self.degree, "interaction_only": self.interaction_only},
            "rbf": {"n_centres": self.n_centres, "centres": self.centres, "width": self.width, "random_state": seed},
            "random_fourier": {"n_components": self.n_components, "gamma": self.gamma, "random_state": seed},
        }[self.kind]


class ModelSection(_Section):
    kind: Literal["logistic", "mlp", "hashed"] = Field("logistic", description="Which estimator.")
    penalty: Literal["l2", "l1", "elasticnet"] | None = Field("l2", description="None for the MLE.")
    alpha: float = Field(1e-4, ge=0, description="Penalty strength (sklearn's C is 1/(alpha*n)).")
    l1_ratio: float = Field(0.5, ge=0, le=1, description="elasticnet: share of L1.")
    multiclass: Literal["softmax", "ovr"] = Field("softmax", description="Several classes: softmax or one-vs-rest.")
    solver: Literal["auto", "newton", "lbfgs", "sgd", "adam", "adagrad"] = "auto"
    fit_intercept: bool = True
    class_weight: Literal["balanced"] | dict[str, float] | None = None
    max_iter: int = Field(100, ge=1)
    tol: float = Field(1e-6, gt=0)
    batch_size: int = Field(256, ge=1)
    learning_rate: float | None = Field(None, gt=0)
    dtype: Literal["float32", "float64"] = "float64"
    formula: str | None = Field(None, description="logistic: a formula such as 'cd ~ age + C(region)' (formulaic; "
                                "docs/evaluate.md) builds the design from the data's columns instead of prep.")
    hidden_layer_sizes: list[int] = Field(default_factory=list, description="mlp: hidden layer widths.")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra keyword arguments for kind 'mlp'/'hashed'.")


class CVSection(_Section):
    folds: int = Field(0, ge=0, description="0 = no cross-validation; else k for k-fold.")
    method: Literal["stratified", "group", "time"] = "stratified"
    group_column: str | None = None
    tune_alphas: list[float] = Field(default_factory=list, description="Tune model.alpha over these values.")
    tune_l1_ratios: list[float] = Field(default_factory=list, description="And model.l1_ratio over these.")
    scoring: str = Field("log_loss", description="Metric that picks the best setting.")


class EvaluateSection(_Section):
    metrics: list[str] = Field(
        default_factory=lambda: ["accuracy", "log_loss", "roc_auc", "brier"],
        description="Metrics per split (see logitkit.evaluate.metrics).")
    inference: bool = Field(True, description="Coefficient table with standard errors (penalty None or l2).")
    cov_type: Literal["nonrobust", "HC0", "HC1", "cluster"] = "nonrobust"
    cluster_column: str | None = Field(None, description="cov_type 'cluster': column naming the clusters.")
    level: float = Field(0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    hosmer_lemeshow_groups: int = Field(10, ge=3)
    marginal_effects: bool = Field(False, description="Write average marginal effects (dydx; 0/1 columns as the "
                                   "change 0 -> 1; delta-method SEs) to marginal_effects.csv and the report; needs "
                                   "inference.")
    cv: CVSection = Field(default_factory=CVSection)


class PrevalenceSection(_Section):
    feature: str = Field(..., description="Numeric feature to group by.")
    edges: list[float] = Field(..., min_length=2, description="Group boundaries [e0, e1), [e1, e2), ...")


class ProfileSection(_Section):
    feature: str
    values: list[float] = Field(..., min_length=1)


class InterpretSection(_Section):
    plots: bool = Field(True, description="Write plots/*.png.")
    report: bool = Field(True, description="Write report.html.")
    graph: bool = Field(True, description="Draw the computational graph of the loss.")
    prevalence: PrevalenceSection | None = Field(None, description="Grouped prevalence table and plot.")
    profile: ProfileSection | None = Field(None, description="Fitted P(y=1) at these values of one feature.")


class Config(_Section):
    run: RunSection = Field(default_factory=RunSection)
    data: DataSection = Field(default_factory=DataSection)
    prep: PrepSection = Field(default_factory=PrepSection)
    embed: EmbedSection = Field(default_factory=EmbedSection)
    model: ModelSection = Field(default_factory=ModelSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    interpret: InterpretSection = Field(default_factory=InterpretSection)


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
    """Read, override and validate a config. Relative data paths resolve against the file's folder."""
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
    raw = _merge(raw, parse_set(overrides or []))
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    check_model_options(cfg, source)  # a kind's typed model.options (config_hashed)
    if path is not None:
        base = Path(path).resolve().parent
        for key in ("path", "test_path"):
            value = getattr(cfg.data, key)
            if value is not None and not Path(value).is_absolute():
                setattr(cfg.data, key, str((base / value).resolve()))
    return cfg


def resolved_dict(cfg: Config) -> dict:
    """The fully resolved config (defaults included) as plain data."""
    return cfg.model_dump(mode="json")
