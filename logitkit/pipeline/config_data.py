"""The ``data:`` and ``prep:`` sections of a run config (pydantic v2, strict).

These models only describe *what* to read and *how* to prepare it; ``loaddata``
(``load_from_config``) and ``prepdata`` (``split_table``, ``Preprocessor``) do the work.
Every field has a default so that an empty section is valid; unknown keys are an error.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FileFormat = Literal["auto", "csv", "tsv", "parquet", "svmlight", "criteo", "vw"]


class SplitSection(BaseModel):
    """How the loaded table is cut into train and test rows."""

    model_config = ConfigDict(extra="forbid")

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


class DataSection(BaseModel):
    """Where the data comes from: a built-in data set or a file, and which columns to use."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(
        None, description="Built-in data set name (`logitkit datasets` lists them); exclusive with `path`."
    )
    path: str | None = Field(
        None,
        description="Data file or Parquet directory; relative paths resolve against the config file's folder.",
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
    positive_class: str | int | float | None = Field(
        None, description="Which label value counts as 1 for a binary model; None = the larger of the two."
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

    @model_validator(mode="after")
    def _one_source(self) -> "DataSection":
        if self.dataset is not None and self.path is not None:
            raise ValueError("data.dataset and data.path are both set; keep one of them")
        return self


class HashSection(BaseModel):
    """Feature hashing of `field=value` tokens (the CTR path)."""

    model_config = ConfigDict(extra="forbid")

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


class PrepSection(BaseModel):
    """Fitted transforms; each is fitted on the training rows only and saved as JSON with the model."""

    model_config = ConfigDict(extra="forbid")

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

    @model_validator(mode="after")
    def _one_scaler(self) -> "PrepSection":
        if self.standardize and self.minmax:
            raise ValueError("prep.standardize and prep.minmax are both true; choose one scaler")
        return self


__all__ = ["DataSection", "SplitSection", "PrepSection", "HashSection", "FileFormat"]
