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

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

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
#: the interaction model's parameters (``predict.online.HashedInteractionModel``) and the kinds that use each
_INTERACTION = {"embedding_dim": ("fm", "ffm", "deep"), "embedding_optimizer": ("fm", "ffm", "deep"),
                "embedding_learning_rate": ("fm", "ffm", "deep"), "embedding_l2": ("fm", "ffm", "deep"),
                "init_scale": ("fm", "ffm", "deep"), "ffm_fields": ("ffm",), "hidden": ("deep",),
                "dense_optimizer": ("deep",), "dense_learning_rate": ("deep",)}


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
    # the interaction part (HashedInteractionModel's parameters; see docs/ctr.md)
    interactions: Literal["none", "fm", "ffm", "deep"] = Field(
        "none", description="Pairs of tokens through k-vectors: none (the linear model), fm (factorisation machine), "
        "ffm (field-aware FM over ffm_fields), deep (DeepFM: fm + an MLP over the vectors).")
    embedding_dim: int = Field(8, ge=1, description="k, the length of a token's vector (fm, ffm, deep).")
    embedding_optimizer: Literal["adagrad", "ftrl"] = Field(
        "adagrad", description="Per-coordinate rule of the vectors, on the touched rows only.")
    embedding_learning_rate: float = Field(0.05, gt=0, description="The vectors' rate (FTRL: alpha).")
    embedding_l2: float = Field(0.0, ge=0, description="L2 penalty on the vectors (summed-loss units).")
    init_scale: float = Field(0.01, gt=0, description="Std of the initial vectors, drawn from run.seed.")
    ffm_fields: list[str] | None = Field(
        None, description="ffm: the token columns (fields, or crosses as 'C1^C2') with a vector per other field; "
        "null: all (few fields only: a row holds one k-vector per field).")
    hidden: list[PositiveInt] = Field([64, 32], description="deep: the MLP's hidden layer sizes (ReLU).")
    dense_optimizer: Literal["adam", "adagrad"] = Field("adam", description="deep: the MLP's optimiser.")
    dense_learning_rate: float = Field(1e-3, gt=0, description="deep: the MLP's rate.")

    def learner_params(self) -> dict:
        """The options that are ``HashedLogisticRegression`` parameters."""
        return {k: getattr(self, k) for k in _LEARNER}

    def interaction_params(self, token_names: list[str]) -> dict:
        """The options that are ``HashedInteractionModel`` parameters, ``ffm_fields`` as the
        token columns of ``token_names`` (the hasher's order); a ``ConfigError`` for a name
        that is not one of them."""
        out = {"interactions": self.interactions, **{k: getattr(self, k) for k in _INTERACTION}}
        if self.ffm_fields is not None:
            for name in self.ffm_fields:
                if name not in token_names:
                    raise ConfigError(f"model.options.ffm_fields: {name!r} is not a token column of the hasher."
                                      + did_you_mean(name, token_names) + f" Its columns: {', '.join(token_names)}")
            out["ffm_fields"] = [token_names.index(name) for name in self.ffm_fields]
        return out

    def ignored(self) -> list[str]:
        """Interaction options set in the config that ``interactions`` does not use."""
        return [k for k, kinds in _INTERACTION.items() if k in self.model_fields_set and self.interactions not in kinds]


def hashed_options(options: dict, source: str = "config") -> HashedOptions:
    """``model.options`` as ``HashedOptions``; a ``ConfigError`` naming the key otherwise."""
    try:
        opts = HashedOptions.model_validate(options)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_explain(e) for e in exc.errors())) from None
    if opts.interactions != "none" and opts.optimizer == "sgd":
        raise ConfigError(f"{source}: model.options.optimizer 'sgd' (VW's normalised update) is the linear model's; "
                          f"with interactions: {opts.interactions} use ftrl or adagrad")
    return opts


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
        opts = hashed_options(cfg.model.options, source)
        if opts.ffm_fields is not None and cfg.prep.hashing is not None:
            try:
                opts.interaction_params(token_names(cfg))
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}") from None


def token_names(cfg) -> list[str]:
    """The token columns of a hashed run's hasher (``prepdata.FeatureHasher.token_names``):
    ``prep.hashing.fields`` (by default the Criteo columns but the label), then the crosses as 'a^b'."""
    from logitkit.loaddata.criteo import CRITEO_COLUMNS  # (pyarrow: only for a config that names FFM fields)

    h, label = cfg.prep.hashing, cfg.data.label or "label"
    fields = list(h.fields) if h.fields is not None else [c for c in CRITEO_COLUMNS if c != label]
    return fields + [f"{a}^{b}" for a, b in h.crosses]
