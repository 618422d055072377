"""The run config's schema: one section per stage plus ``run``, in the order data flows.
Every key, default and check of a config lives here (pydantic v2, strict: an unknown key
is an error).

    run:       seed, device, output folder                  RunSection
    data:      where the data comes from, the split         DataSection, SplitSection
    prep:      fitted transforms, feature hashing           PrepSection, HashSection
    embed:     basis before the head                        EmbedSection
    model:     the estimator and its parameters             ModelSection
    evaluate:  metrics, inference, cross-validation         EvaluateSection, CVSection
    interpret: plots, tables, report                        InterpretSection

The sections only describe *what* to do; each stage does the work (``loaddata.load_input``
reads the data section, ``prepdata`` splits and prepares, ...). Reading a file, ``--set``
overrides and the error messages that name a key are in ``pipeline.config_load``.
"""
from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, field_validator, model_validator

from logitkit.predict.logistic_params import PARAMS as LOGISTIC_PARAMS

FileFormat = Literal["auto", "csv", "tsv", "parquet", "svmlight", "criteo", "vw"]


def _takes_none_not_text(field) -> bool:
    """Whether a field takes None but no free text (``penalty``, ``impute``, ``learning_rate``)."""
    args = typing.get_args(field.annotation) if field is not None else ()
    return type(None) in args and str not in args


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _none_words(cls, data):
        """The words ``none``/``null`` (any case) mean None for a key that takes None and no
        free text, so ``--set model.penalty=none`` turns the penalty off as YAML's null does."""
        if isinstance(data, dict):
            data = {k: None if isinstance(v, str) and v.strip().lower() in ("none", "null")
                    and _takes_none_not_text(cls.model_fields.get(k)) else v for k, v in data.items()}
        return data


class RunSection(_Section):
    seed: int = Field(0, ge=0, description="Seeds Python, NumPy and torch.")
    device: str = Field("auto", description="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    out: str = Field("runs", description="Folder that holds the run directories.")
    deterministic: bool = Field(True, description="Ask torch for deterministic algorithms.")
    threads: int | None = Field(
        None, ge=1, description="torch's intra-op threads; None: one for the hashed model's small per-batch "
        "kernels (unless OMP_NUM_THREADS or MKL_NUM_THREADS is set), torch's default for the other kinds.")


# ---------------------------------------------------------------- data (loaddata, prepdata's split)
class SplitSection(_Section):
    """How the loaded table is cut into train and test rows."""

    method: Literal["random", "stratified", "time", "group", "none"] = Field(
        "stratified",
        description="'random': shuffled rows; 'stratified': same class proportions in train "
        "and test; 'time': the latest rows by `time_column` are the test set; 'group': whole "
        "groups of `group_column` go to one side; 'none': every row is training data.",
    )
    test_size: float = Field(
        0.25, ge=0.0, lt=1.0, description="Fraction of rows (or groups) held out for testing."
    )
    time_column: str | None = Field(None, description="Column ordering the rows in time (method 'time').")
    group_column: str | None = Field(
        None, description="Column whose values must not be split across train and test (method 'group')."
    )

    @model_validator(mode="after")
    def _needs_column(self) -> "SplitSection":
        if self.method == "time" and not self.time_column:
            raise ValueError("split.method 'time' needs split.time_column (the column ordering rows in time)")
        if self.method == "group" and not self.group_column:
            raise ValueError("split.method 'group' needs split.group_column (the column naming each row's group)")
        return self


class DataSection(_Section):
    """Where the data comes from: a built-in data set or a file, and which columns to use."""

    dataset: str | None = Field(
        None, description="Built-in data set name (`logitkit datasets` lists them); exclusive with `path`."
    )
    path: str | None = Field(
        None,
        description="Data file or Parquet directory; a relative path starts at the config file's folder "
        "(given with --set: at the current folder).",
    )
    format: FileFormat = Field(
        "auto",
        description="File format; 'auto' guesses from the extension (.csv, .tsv, .parquet, "
        ".svm/.libsvm/.svmlight, .vw; .gz is looked through).",
    )
    label: str | None = Field(
        None,
        description="Label column; None takes the data set's own label, or the last column of a CSV.",
    )
    positive_class: str | None = Field(
        None, description="Which label value counts as 1 for a binary model, compared as the file's text "
        "(`yes`, `1`, `true` are text here, quoted or not); None = the larger of the two.",
    )
    classes: list[str] | None = Field(
        None, description="The label's values (text), declared: any other value is an error naming its row; "
        "declaring three or more keeps a class with a handful of rows (else taken for a typo).",
    )
    features: list[str] | None = Field(
        None,
        description="Feature columns by name or shell-style pattern ('I*'); None = every non-label column.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Columns (names or patterns) dropped from the features."
    )
    test_path: str | None = Field(
        None, description="Separate test file, read like `path`; when set, `split` is not applied."
    )
    split: SplitSection = Field(default_factory=SplitSection, description="Train/test split.")
    header: bool = Field(True, description="CSV/TSV: the first line holds the column names.")
    column_names: list[str] | None = Field(
        None, description="CSV/TSV without header: the column names (default c0, c1, ...)."
    )
    delimiter: str | None = Field(
        None, description="CSV/TSV field delimiter; None = ',' for CSV and tab for TSV."
    )
    n_features: int | None = Field(
        None, ge=1, description="svmlight: number of feature columns (default: the largest index seen)."
    )
    batch_rows: int = Field(65536, ge=1, description="Rows per batch when a file is streamed.")

    @field_validator("positive_class", mode="before")
    @classmethod
    def _as_text(cls, v):
        if isinstance(v, bool):  # from Python; a YAML file keeps the text as written (config_load)
            return "true" if v else "false"
        return str(v) if isinstance(v, (int, float)) else v

    @field_validator("classes", mode="before")
    @classmethod
    def _texts(cls, v):
        return [("true" if x else "false") if isinstance(x, bool) else str(x) if isinstance(x, (int, float)) else x
                for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _one_source(self) -> "DataSection":
        if self.dataset is not None and self.path is not None:
            raise ValueError("data.dataset and data.path are both set; keep one of them")
        return self


# ---------------------------------------------------------------- prep (prepdata)
class HashSection(_Section):
    """Feature hashing of `field=value` tokens (the CTR path)."""

    n_bits: int = Field(22, ge=1, le=62, description="Tokens are hashed into 2**n_bits buckets.")
    seed: int = Field(0, ge=0, description="Hash seed; the same seed gives the same buckets on every machine.")
    fields: list[str] | None = Field(None, description="Columns hashed, one token each; None = every feature column.")
    crosses: list[tuple[str, str]] = Field(
        default_factory=list, description="Field pairs hashed as one extra token each, e.g. [[C1, C2]]."
    )
    numeric: Literal["log_bucket", "categorical"] = Field(
        "log_bucket",
        description="Numeric fields: 'log_bucket' tokens floor(ln(v)^2) for v > 2 (else v); "
        "'categorical' tokens the value itself.",
    )


class PrepSection(_Section):
    """Fitted transforms; each is fitted on the training rows only and saved as JSON with the model."""

    standardize: bool = Field(False, description="Scale numeric columns to mean 0, standard deviation 1.")
    minmax: bool = Field(False, description="Scale numeric columns to [0, 1] (exclusive with `standardize`).")
    impute: Literal["mean", "median", "constant"] | None = Field(
        None, description="Fill missing numeric values; None = missing values are an error."
    )
    impute_value: float = Field(0.0, description="Fill value for impute: constant.")
    missing_indicators: bool = Field(
        True, description="With impute: add a 0/1 column `<name>_missing` for each column that had missing values."
    )
    one_hot: list[str] | None = Field(
        None,
        description="Columns (names or patterns) one-hot encoded; None = every non-numeric column.",
    )
    unknown: Literal["ignore", "error"] = Field(
        "ignore", description="One-hot: a category unseen in training becomes all zeros ('ignore') or an error."
    )
    log_bucket: list[str] = Field(
        default_factory=list,
        description="Count columns replaced by one-hot log buckets (v <= 2: v; else floor(ln(v)^2)).",
    )
    quantile_bucket: list[str] = Field(
        default_factory=list, description="Columns replaced by one-hot buckets between training quantiles."
    )
    n_quantiles: int = Field(10, ge=2, description="Number of quantile buckets.")
    hashing: HashSection | None = Field(
        None, description="Hash `field=value` tokens into 2**n_bits buckets instead of dense columns (CTR)."
    )
    reference: Literal["first", "none"] | dict[str, str | None] = Field(
        "first",
        description="Treatment coding of one-hot and bucket columns: 'first' leaves out the first level "
        "(sorted) as the reference, {column: level} names it for some columns (null: every level), 'none' "
        "keeps every level (for a penalised model). Columns are named region[T.south] (region[south] when "
        "every level is kept).",
    )

    @model_validator(mode="after")
    def _one_scaler(self) -> "PrepSection":
        if self.standardize and self.minmax:
            raise ValueError("prep.standardize and prep.minmax are both true; choose one scaler")
        return self


# ---------------------------------------------------------------- embed, model, evaluate, interpret
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


#: ``model``: the kind, the estimator's parameters, whose types, bounds, defaults and
#: descriptions come from ``predict.logistic_params.PARAMS`` (declared once; the
#: ``config=False`` ones, such as device and random_state, come from ``run``), then the
#: keys of the other kinds.
ModelSection = create_model(
    "ModelSection", __base__=_Section, __module__=__name__,
    kind=(Literal["logistic", "mlp", "hashed", "firth"], Field(
        "logistic", description="Which estimator: 'firth' is Firth's bias-reduced binary fit, finite under "
                                "separation (model.options: its max_step, profile_ci).")),
    **{k: (p.annotation, Field(p.default, description=p.summary, **p.bounds))
       for k, p in LOGISTIC_PARAMS.items() if p.config},
    formula=(str | None, Field(None, description="logistic: a formula such as 'cd ~ age + C(region)' (formulaic; "
                               "docs/evaluate.md) builds the design from the data's columns instead of prep.")),
    hidden_layer_sizes=(list[int], Field(default_factory=list, description="mlp: hidden layer widths.")),
    options=(dict[str, Any], Field(default_factory=dict, description="Extra keyword arguments for kind "
                                                                     "'mlp'/'hashed'.")),
)


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
    _base_dir: str | None = PrivateAttr(None)  # the folder relative data paths start at (config_load)
    run: RunSection = Field(default_factory=RunSection)
    data: DataSection = Field(default_factory=DataSection)
    prep: PrepSection = Field(default_factory=PrepSection)
    embed: EmbedSection = Field(default_factory=EmbedSection)
    model: ModelSection = Field(default_factory=ModelSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    interpret: InterpretSection = Field(default_factory=InterpretSection)


__all__ = ["Config", "RunSection", "DataSection", "SplitSection", "PrepSection", "HashSection", "EmbedSection",
           "ModelSection", "EvaluateSection", "CVSection", "InterpretSection", "PrevalenceSection",
           "ProfileSection", "FileFormat"]
