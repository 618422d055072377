"""``Table``: what ``loaddata`` hands on — columns, the label and where they came from."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logitkit._util.errors import DataError, did_you_mean


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
                f"{self.name}: no column {name!r}; columns are {self.data.column_names}."
                + did_you_mean(name, self.data.column_names)
            )
        return self.data.column(name).to_numpy(zero_copy_only=False)

    def labels(self) -> np.ndarray:
        if self.label is None:
            raise DataError(f"{self.name}: no label column is set")
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
