"""``Table``: what ``loaddata`` hands on — columns, the label and where they came from."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import DataError, did_you_mean, shown, shown_list


#: longest text a class label may be
MAX_LABEL_CHARS = 1000


@dataclass
class Table:
    """A loaded data set.

    ``data`` holds every column (features and label) as a ``pyarrow.Table``;
    ``label`` names the label column (None for unlabelled data, e.g. at predict
    time); ``fingerprint`` says where the data came from (file sha256, or data set
    name and version) and goes into the run record.
    """

    data: pa.Table
    label: str | None
    name: str = "table"
    fingerprint: dict = field(default_factory=dict)
    #: line of the file that holds row 0 (2 for a CSV with header); None when not from a text file
    first_line: int | None = None
    #: for a subset (``take``): each row's index in the table as loaded; None = identity
    source_rows: np.ndarray | None = field(default=None, repr=False)
    #: columns carried along that are not features (group and cluster columns)
    extra: tuple[str, ...] = ()
    #: the label's values as text by code, where the label is coded 0/1 (``data.positive_class``)
    label_names: tuple[str, ...] | None = None

    @property
    def n_rows(self) -> int:
        return self.data.num_rows

    @property
    def feature_names(self) -> list[str]:
        return [c for c in self.data.column_names if c != self.label and c not in self.extra]

    def column(self, name: str) -> np.ndarray:
        """One column as a NumPy array; a clear error when it does not exist."""
        if name not in self.data.column_names:
            raise DataError(
                f"{self.name}: no column {shown(name)}; columns are {shown_list(self.data.column_names)}."
                + did_you_mean(name, self.data.column_names)
            )
        return self.data.column(name).to_numpy(zero_copy_only=False)

    def check_label_values(self) -> None:
        """Every label present is a class: text of at most ``MAX_LABEL_CHARS`` characters,
        or a whole number below 2^53 in size (not a fraction, not infinite, not NaN: a
        float beyond 2^53 stops being a whole number exactly). An error names the first
        row that is not; missing labels are left to the caller. Text is checked on the
        Arrow column, before NumPy makes a fixed-width copy of every label that wide."""
        col = self.data.column(self.label)
        text = col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
        if pa.types.is_string(text.type) or pa.types.is_large_string(text.type):
            long = pc.greater(pc.utf8_length(text), MAX_LABEL_CHARS).fill_null(False).to_numpy(zero_copy_only=False)
            if long.any():
                i = int(np.flatnonzero(long)[0])
                raise DataError(
                    f"{self.name}: label column {shown(self.label)} holds a value of {len(text[i].as_py()):,} "
                    f"characters at {self.where(i)}, which is not a class label (at most {MAX_LABEL_CHARS:,}); fix "
                    "the value, or choose the label column with data.label"
                )
        elif pa.types.is_floating(text.type):
            y = text.to_numpy(zero_copy_only=False).astype(np.float64)
            bad = ~np.isfinite(y) | (y != np.round(y)) | (np.abs(y) > 2.0**53)
            if text.null_count:
                bad &= text.is_valid().to_numpy(zero_copy_only=False)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{self.name}: label column {shown(self.label)} holds {float(y[i])!r} at {self.where(i)}, which is "
                    "not a class label; labels are whole numbers (below 2^53) or text: fix the value, or choose the "
                    "label column with data.label"
                )

    def labels(self) -> np.ndarray:
        """The label column as class labels (n,): a missing label, or a value that is not a
        class (``check_label_values``) is an error naming the row."""
        if self.label is None:
            raise DataError(f"{self.name}: no label column is set")
        col = self.data.column(self.label)
        if col.null_count:
            i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError(f"{self.name}: label column {shown(self.label)} is missing at {self.where(i)}; every row "
                            "needs a label")
        self.check_label_values()
        return self.column(self.label)

    def take(self, rows: np.ndarray) -> "Table":
        """The rows at the given indices, as a new Table with the same label and source."""
        rows = np.asarray(rows, dtype=np.int64)
        src = rows if self.source_rows is None else self.source_rows[rows]
        return Table(
            self.data.take(pa.array(rows)), self.label, self.name, dict(self.fingerprint), self.first_line, src,
            self.extra, self.label_names,
        )

    def where(self, i: int) -> str:
        """Where row ``i`` of this table came from, for error messages: 'row 7 (line 8 of x.csv)'.

        Rows are counted from 1 in the table as loaded (before any split).
        """
        r = int(i if self.source_rows is None else self.source_rows[i])
        s = f"row {r + 1}"
        if self.first_line is not None:
            s += f" (line {r + self.first_line} of {self.name})"
        return s

    def with_data(self, data: pa.Table) -> "Table":
        """The same rows with other columns (e.g. a column selection)."""
        extra = tuple(c for c in self.extra if c in data.column_names)
        return Table(data, self.label, self.name, dict(self.fingerprint), self.first_line, self.source_rows, extra,
                     self.label_names)
