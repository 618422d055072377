"""Turn what users pass (NumPy, pandas, pyarrow, torch, SciPy sparse) into checked arrays.

Errors are ``DataError`` (a ``ValueError``) whose message names the row and column at
fault and says what to do.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

import warnings

from sklearn.exceptions import DataConversionWarning

from logitkit._util.errors import DataError


class NonNumericTypeError(DataError, TypeError):
    """X holds values that are not numbers at all (e.g. dicts)."""


def feature_names_of(X) -> np.ndarray | None:
    """Column names of a pandas DataFrame or pyarrow Table, else None."""
    cols = X.column_names if hasattr(X, "column_names") else getattr(X, "columns", None)
    if cols is None:
        return None
    names = [str(c) for c in cols]
    if not all(isinstance(c, str) for c in cols):
        return None
    return np.asarray(names, dtype=object)


def as_matrix(X, name: str = "X"):
    """A 2-D float NumPy array, SciPy CSR matrix or torch tensor; checked for NaN/inf."""
    if isinstance(X, torch.Tensor):
        M = X.detach()
        if M.dtype not in (torch.float32, torch.float64):
            M = M.to(torch.float64)
    elif sp.issparse(X):
        M = sp.csr_matrix(X)
        if M.dtype not in (np.float32, np.float64):
            M = M.astype(np.float64)
    else:
        if hasattr(X, "column_names") and hasattr(X, "to_pandas"):  # pyarrow Table
            X = np.column_stack([c.to_numpy(zero_copy_only=False) for c in X.columns]) if X.num_columns else np.empty((X.num_rows, 0))
        try:
            M = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} could not be read as a numeric matrix: {exc}") from exc
        if M.dtype.kind == "c":
            raise DataError(f"Complex data not supported: {name} has complex values; pass real numbers")
        if M.dtype == object or M.dtype.kind in "USb":
            try:
                M = M.astype(np.float64)
            except (TypeError, ValueError) as exc:
                cls = NonNumericTypeError if isinstance(exc, TypeError) else DataError
                raise cls(
                    f"{name} has non-numeric values ({exc}); encode categorical columns "
                    "first (prep.one_hot or prep.hash)"
                ) from exc
        if M.dtype not in (np.float32, np.float64):
            M = M.astype(np.float64)
    if M.ndim == 1 if not sp.issparse(M) else False:
        raise DataError(
            f"{name} is 1-D with {M.shape[0]} values. Reshape your data to 2-D: X.reshape(-1, 1) "
            "for one feature, X.reshape(1, -1) for one sample"
        )
    if len(M.shape) != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(M.shape)}")
    if M.shape[0] == 0:
        raise DataError(f"{name} has 0 samples; at least one is required")
    if M.shape[1] == 0:
        raise DataError(f"{name} has 0 feature(s) (shape={tuple(M.shape)}) while a minimum of 1 is required; pass at least one column")
    _check_finite(M, name)
    return M


def _check_finite(M, name: str) -> None:
    data = M.data if sp.issparse(M) else M
    if isinstance(data, torch.Tensor):
        bad = ~torch.isfinite(data)
        if bool(bad.any()):
            i, j = (int(v) for v in torch.nonzero(bad)[0])
            raise DataError(_nonfinite_message(name, i, j, float(data[i, j])))
        return
    if data.dtype.kind == "f":
        # one read of X and no temporary (torch's sum uses every intra-op thread); a NaN
        # or inf anywhere makes the sum non-finite
        total = float(torch.from_numpy(data).sum()) if data.size >= 1 << 20 and all(
            st >= 0 for st in data.strides) else float(np.add.reduce(data, axis=None))
        if np.isfinite(total):
            return
    if np.isfinite(data).all():
        return  # the sum overflowed on large finite values
    if sp.issparse(M):
        coo = M.tocoo()
        k = int(np.flatnonzero(~np.isfinite(coo.data))[0])
        i, j, v = int(coo.row[k]), int(coo.col[k]), float(coo.data[k])
    else:
        i, j = (int(v) for v in np.argwhere(~np.isfinite(M))[0])
        v = float(M[i, j])
    raise DataError(_nonfinite_message(name, i, j, v))


def _nonfinite_message(name: str, i: int, j: int, v: float) -> str:
    kind = "NaN" if np.isnan(v) else "infinity"
    return (
        f"Input {name} contains {kind} at row {i}, column {j}; impute missing values "
        "(prep.impute in a pipeline) or drop those rows before fitting"
    )


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, y_index) like ``np.unique(y, return_inverse=True)``; small non-negative
    integer labels take a counting path that avoids sorting."""
    if y.dtype.kind in "iu" and y.size and y.min() >= 0 and y.max() < 2 * y.size + 1024:
        counts = np.bincount(y)
        present = counts > 0
        classes = np.flatnonzero(present).astype(y.dtype)
        index = (np.cumsum(present) - 1)[y]
        return classes, index
    if y.dtype.kind in "biuf":
        # numeric labels: the set of classes without sorting all rows (hash-based
        # unique), then each row's class by binary search among the few classes
        classes = np.unique(y)
        if classes.size <= 4096:
            return classes, np.searchsorted(classes, y)
    return np.unique(y, return_inverse=True)


def as_labels(y, n_rows: int) -> np.ndarray:
    """A 1-D label array of length n_rows."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    if y is None:
        raise DataError("this estimator requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; pass shape (n,), e.g. y.ravel()",
                      DataConversionWarning, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y must be 1-D (one label per row), got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise DataError(
            f"X has {n_rows} rows but y has {y.shape[0]} labels; they must have the same length"
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"Input y contains NaN or infinity at row {i}; drop or fix those labels")
    return y


def sample_weights(sample_weight, n: int) -> np.ndarray:
    """``sample_weight`` as n finite weights >= 0 (float64); all 1 when it is None."""
    if sample_weight is None:
        return np.ones(n)
    sw = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if sw.shape[0] != n:
        raise DataError(f"sample_weight has {sw.shape[0]} values but X has {n} rows; pass one weight per row")
    if not np.isfinite(sw).all():
        raise DataError("sample_weight contains NaN or infinity; pass finite weights")
    if (sw < 0).any():
        i = int(np.flatnonzero(sw < 0)[0])
        raise DataError(f"sample_weight has a negative value at row {i} ({sw[i]}); weights must be >= 0")
    return sw
