"""``model.options`` of ``model.kind: hashed`` (the streamed CTR run), typed.

The hashed kind's options are of two kinds: parameters of the learner
(``predict.HashedLogisticRegression``) and settings of the streams and the run
(``loaddata.CTRStream``, the holdout file, the ranks' synchronisation). Both are
declared here with their defaults, so that a config is checked when it is loaded,
before anything is read: an unknown option is one ``ConfigError`` line with the closest
valid name (``optimiser`` -> ``optimizer``), and an option that belongs to another
section (``n_bits``, ``learning_rate``, ...) names that section.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logitkit._util.errors import ConfigError, did_you_mean

#: options set elsewhere in the config, and where
_ELSEWHERE = {
    **{k: f"prep.hashing.{k}" for k in ("n_bits", "seed", "fields", "crosses", "numeric")},
    **{k: f"model.{k}" for k in ("learning_rate", "batch_size", "dtype")},
    "device": "run.device", "random_state": "run.seed",
    "checkpoint_dir": "nothing (the run writes its checkpoints to model/ in the run directory)",
}

#: the options that are the learner's parameters (the rest configure the streams and the run)
_LEARNER = ("optimizer", "beta", "l1", "l2", "n_passes", "shuffle", "patience", "tol", "checkpoint_every",
            "sketch_size", "verbose")


class HashedOptions(BaseModel):
    """``model.options`` for ``model.kind: hashed``; every field has the default of a run without it."""

    model_config = ConfigDict(extra="forbid")

    # the learner (HashedLogisticRegression's parameters of the same names)
    optimizer: Literal["ftrl", "adagrad", "sgd"] = Field(
        "ftrl", description="Per-coordinate rule: FTRL-Proximal, Adagrad, or VW-style adaptive normalised SGD.")
    beta: float = Field(1.0, ge=0, description="FTRL's beta: per-coordinate rate alpha / (beta + sqrt(n)).")
    l1: float = Field(0.0, ge=0, description="L1 penalty on the table and dense weights (summed-loss units).")
    l2: float = Field(0.0, ge=0, description="L2 penalty on the table and dense weights (summed-loss units).")
    n_passes: int = Field(1, ge=1, description="Passes over the training file.")
    shuffle: bool = Field(False, description="Visit each batch's rows in a seeded random order (VW: stream order).")
    patience: int = Field(1, ge=1, description="With holdout_path: passes without improvement before stopping.")
    tol: float = Field(1e-4, ge=0, description="With holdout_path: relative improvement that counts.")
    checkpoint_every: int = Field(0, ge=0, description="Stream batches between checkpoints (0: each pass's end).")
    sketch_size: int = Field(100_000, ge=0, description="Tokens kept to name the top weights (0: none).")
    verbose: int = Field(0, ge=0, description="Log each pass's loss.")
    # the streams and the run
    cache: bool = Field(True, description="Write the hashed indices on pass 1; later passes read them.")
    cache_plans: bool = Field(True, description="The cache also keeps each update's distinct rows (faster passes).")
    sketch_every: int = Field(16, ge=0, description="Sketch the tokens of every k-th batch (0: never).")
    dense: list[str] | None = Field(None, description="Count columns also given as dense features log(1 + x).")
    prefetch: Literal["thread", "process", True, False] = Field(
        "thread", description="Parse + hash ahead of the learner: 'thread', 'process' (a worker process, which in "
        "one process's run starts before torch is imported and spools the train and test files' first passes on "
        "disk) or false (inline).")
    holdout_path: str | None = Field(None, description="A Criteo file scored after each pass (early stopping).")
    sync_every: int = Field(64, ge=1, description="Under torchrun: mini-batches between the ranks' synchronisations.")

    def learner_params(self) -> dict:
        """The options that are ``HashedLogisticRegression`` parameters."""
        return {k: getattr(self, k) for k in _LEARNER}


def hashed_options(options: dict, source: str = "config") -> HashedOptions:
    """``model.options`` as ``HashedOptions``; a ``ConfigError`` naming the key otherwise."""
    try:
        return HashedOptions.model_validate(options)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_explain(e) for e in exc.errors())) from None


def _explain(err: dict) -> str:
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] != "extra_forbidden":
        return f"'model.options.{key}': {err['msg']} (got {err.get('input')!r})"
    if key in _ELSEWHERE:
        return f"model.options.{key} is not an option of model.kind 'hashed'; set {_ELSEWHERE[key]} instead"
    valid = list(HashedOptions.model_fields)
    return (f"unknown key 'model.options.{key}' for model.kind 'hashed'." + did_you_mean(key, valid)
            + f" Valid keys here: {', '.join(valid)}")


def check_model_options(cfg, source: str = "config") -> None:
    """Validate ``cfg.model.options`` for the kinds whose options are typed here (hashed)."""
    if cfg.model.kind == "hashed":
        hashed_options(cfg.model.options, source)
