"""``Scorer``: a run directory loaded for scoring — one scoring path, two doors.

``logitkit predict`` (files) and ``logitkit serve`` (requests) both score through it::

    scorer = Scorer.load("runs/3db082f8bef9")
    table = scorer.table({"age": np.array([30.0, 50.0])})   # named raw columns -> the reader's types
    proba = scorer.proba(table)                              # (n, K) float64, columns follow classes
    labels = scorer.labels(proba)

A dense run applies its saved prep (imputation, scaling, one-hot with unknown handling,
buckets) and embedding, then its model; a hashed (CTR) run hashes the raw Criteo fields
with the run's own hasher and scores the hashed model. The arithmetic runs inside
``logitkit._util.rowstable.row_stable``, on the CPU, so a row gets the same bits whatever
rows are scored with it: a file of a million rows, a micro-batch of requests or a row alone.

``inputs`` names the raw columns the model reads, each with the protocol datatype it
is declared as (``FP64`` numbers, ``INT64`` Criteo counts, ``BYTES`` text); ``table``
also takes a column as text (``BYTES``) read as a file's field would be, the empty text
being a missing value.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import DataError, InputFileError, UserError, did_you_mean
from logitkit._util.rowstable import row_stable


@dataclass(frozen=True)
class Input:
    """One raw column a model reads: its name, declared protocol datatype and kind.

    kind: ``number`` (a dense run's numeric column, float64), ``text`` (categorical:
    one-hot or hashed as a string), ``count`` (a Criteo integer field, int64)."""

    name: str
    datatype: str
    kind: str


class InputError(DataError):
    """A request's or file's columns do not fit the model (names the column)."""


_DATATYPE_OF_KIND = {"number": "FP64", "count": "INT64", "text": "BYTES"}


def _datatype_of(values: np.ndarray) -> str:
    kind = values.dtype.kind
    return {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}.get(kind, "BYTES")


class Scorer:
    """A loaded run: ``table`` (raw columns in), ``proba`` (probabilities out), ``labels``."""

    def __init__(self, run_dir: Path, run_id: str, kind: str, model, inputs: list[Input], *, prep=None,
                 embed=None, hasher=None, dense: list[str] | None = None, batch_rows: int = 65536,
                 label_names: list[str] | None = None) -> None:
        self.run_dir, self.run_id, self.kind, self.model = run_dir, run_id, kind, model
        self.inputs = inputs
        self.prep, self.embed, self.hasher = prep, embed, hasher
        self.dense = list(dense or [])
        self.batch_rows = int(batch_rows)
        # the classes as the label's values (a label coded 0/1 by data.positive_class: its text)
        codes = np.asarray(model.classes_)
        self.classes = np.asarray(label_names, dtype=object) if label_names is not None else codes
        self._by_name = {i.name: i for i in inputs}

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: str | Path) -> "Scorer":
        """The run in ``run_dir`` (a dense run's ``model/`` files, or a hashed run's checkpoint,
        hasher and config). A missing or incomplete run is an ``InputFileError``."""
        from logitkit.pipeline.integrity import RunFiles

        files = RunFiles(run_dir)  # a complete run: its record, checked (everything read is checked too)
        run_dir, record = files.run_dir, files.record
        run_id = str(record.get("run_id") or run_dir.name)
        if files.has("model/checkpoint.json"):
            return cls._load_hashed(files, run_id, record)
        return cls._load_dense(files, run_id)

    @classmethod
    def _load_dense(cls, files, run_id: str) -> "Scorer":
        from logitkit.pipeline.modelio import label_names, load_model
        from logitkit.prepdata import Preprocessor

        run_dir = files.run_dir
        files.read("config.yaml")
        read = lambda name: files.read(f"model/{name}")  # noqa: E731
        model, prep_state, embed_state = load_model(run_dir / "model", read=read)
        names = label_names(run_dir / "model", read=read)
        if "device" in model.get_params():  # scored on the CPU, where row_stable applies
            model.set_params(device="cpu")
        if prep_state is None:
            raise InputFileError(f"{run_dir / 'model' / 'prep.json'} is missing; is {run_dir} a complete run directory?")
        with _state_of(run_dir / "model" / "prep.json"):
            if prep_state.get("kind") == "formula":  # model.formula's design
                from logitkit.formula import FormulaDesign

                prep = FormulaDesign.from_json(prep_state)
                inputs = [Input(c, _DATATYPE_OF_KIND["text" if cat else "number"], "text" if cat else "number")
                          for c, cat in prep.input_columns()]
                return cls(run_dir, run_id, "dense", model, inputs, prep=prep, label_names=names)
            prep = Preprocessor.from_json(prep_state)
        embed = None
        if embed_state is not None:
            from logitkit.embed.basis import basis_from_json

            with _state_of(run_dir / "model" / "embed.json"):
                embed = basis_from_json(embed_state)
        inputs = [Input(c, _DATATYPE_OF_KIND["text" if r == "one_hot" else "number"], "text" if r == "one_hot" else "number")
                  for c, r in prep.roles_.items()]
        return cls(run_dir, run_id, "dense", model, inputs, prep=prep, embed=embed, label_names=names)

    @classmethod
    def _load_hashed(cls, files, run_id: str, record: dict) -> "Scorer":
        import yaml

        from logitkit.loaddata import CRITEO_COLUMNS
        from logitkit.predict.online import load_hashed
        from logitkit.prepdata.hashing import FeatureHasher

        run_dir = files.run_dir
        state = (record.get("ctr") or {}).get("hasher")
        if state is None:
            raise InputFileError(f"{run_dir / 'record.json'}: no 'ctr.hasher' entry; is {run_dir} a complete hashed run?")
        with _state_of(run_dir / "record.json", "ctr.hasher"):
            hasher = FeatureHasher.from_json(state)
        cfg_path = run_dir / "config.yaml"
        raw = files.read("config.yaml")
        try:
            cfg = yaml.safe_load(raw) if raw is not None else {}
        except yaml.YAMLError as exc:
            raise InputFileError(f"{cfg_path}: not valid YAML ({' '.join(str(exc).split())})") from None
        if not isinstance(cfg, dict):
            raise InputFileError(f"{cfg_path}: holds no YAML mapping of config sections; restore it, or run the "
                                 "config again (logitkit run CONFIG --force)")
        data, options = cfg.get("data") or {}, (cfg.get("model") or {}).get("options") or {}
        label = data.get("label") or hasher.label or "label"
        dense = list(options.get("dense") or [])
        counts = set(CRITEO_COLUMNS[1:14])
        names = list(hasher.fields or [c for c in CRITEO_COLUMNS if c != label])
        for a, b in hasher.crosses:
            names += [f for f in (a, b) if f not in names]
        names += [f for f in dense if f not in names]
        inputs = [Input(c, "INT64", "count") if c in counts else Input(c, "BYTES", "text") for c in names]
        files.read("model/checkpoint.json")  # the manifest as the record lists it; it names its parts' sha256
        model = load_hashed(str(run_dir / "model"), device="cpu")  # linear or with interactions
        return cls(run_dir, run_id, "hashed", model, inputs, hasher=hasher, dense=dense,
                   batch_rows=int(data.get("batch_rows") or 65536))

    # -- inputs -------------------------------------------------------------------------
    def table(self, columns: Mapping[str, object], where: str = "the request") -> pa.Table:
        """Named raw columns (NumPy arrays, lists of numbers, or lists of ``bytes``/``str``
        for text) as a table of the types the run's reader gives. Every input the model
        reads must be there, nothing else, all with the same number of rows."""
        self.check_names(columns, where)
        arrays = _float_count_block([i for i in self.inputs if i.kind == "count"], columns, where)
        arrays.update({i.name: coerce(i, columns[i.name], where) for i in self.inputs if i.name not in arrays})
        arrays = {i.name: arrays[i.name] for i in self.inputs}
        n = {len(a) for a in arrays.values()}
        if len(n) > 1:
            first = self.inputs[0].name
            other = next(k for k, a in arrays.items() if len(a) != len(arrays[first]))
            raise InputError(f"{where}: input {other!r} has {len(arrays[other])} rows but {first!r} has "
                             f"{len(arrays[first])}; every input needs one value per row")
        return pa.table(arrays)

    def check_names(self, names, where: str = "the request") -> None:
        """Every input given, and nothing else (an ``InputError`` naming the first that is not)."""
        unknown = [c for c in names if c not in self._by_name]
        if unknown:
            raise InputError(f"{where}: {unknown[0]!r} is not an input of run {self.run_id}; its inputs are "
                             f"{[i.name for i in self.inputs]}." + did_you_mean(unknown[0], self._by_name))
        if len(names) < len(self.inputs):
            missing = [i.name for i in self.inputs if i.name not in names]
            raise InputError(f"{where}: input {missing[0]!r} is missing; run {self.run_id} reads "
                             f"{[i.name for i in self.inputs]} (send every one, one value per row)")

    # -- scoring ------------------------------------------------------------------------
    def proba(self, data: pa.Table | pa.RecordBatch, name: str = "the request", first_line: int | None = None) -> np.ndarray:
        """Class probabilities (n, K) float64 of ``data``'s rows; columns follow ``classes``."""
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if self.kind == "hashed":
            return self._proba_hashed(data, name)
        from logitkit.loaddata import Table

        table = Table(data, label=None, name=name, first_line=first_line)
        try:
            X = self.prep.transform(table)
        except DataError as exc:  # a formula's errors name a row, not the file's line
            if getattr(self.prep, "formula", None) is None or first_line is None:
                raise
            raise DataError(f"{name}: {exc} (row 0 is line {first_line})") from None
        names = list(self.prep.feature_names_)
        with row_stable():
            if self.embed is not None:
                X, names = self.embed.transform(X), [str(n) for n in self.embed.get_feature_names_out(names)]
            return self.model.predict_proba(pa.table({n: pa.array(np.ascontiguousarray(X[:, j]))
                                                      for j, n in enumerate(names)}))

    def _proba_hashed(self, data: pa.Table, name: str) -> np.ndarray:
        have = set(data.column_names)
        missing = [i.name for i in self.inputs if i.name not in have]
        if missing:
            raise InputError(f"{name}: column {missing[0]!r} is missing; the hashed run reads {[i.name for i in self.inputs]}")
        idx = self.hasher.transform(data, dtype=np.int32 if self.hasher.n_bits <= 31 else np.int64)
        dense = None
        if self.dense:  # as the run's stream gives them: log(1 + max(x, 0)), missing -> 0
            cols = [data.column(c).cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False) for c in self.dense]
            dense = np.log1p(np.maximum(np.stack(cols, 1), 0)).astype(np.float32)
        with row_stable():
            return self.model.predict_proba(idx, dense)

    def labels(self, proba: np.ndarray) -> np.ndarray:
        """The class of largest probability per row (``predict``'s ``prediction`` column)."""
        return self.classes[np.argmax(proba, axis=1)]

    # -- description --------------------------------------------------------------------
    @property
    def outputs(self) -> list[tuple[str, str]]:
        """(name, protocol datatype): ``p_<class>`` per class (FP64), then ``prediction``."""
        return [(f"p_{c}", "FP64") for c in self.classes] + [("prediction", _datatype_of(self.classes))]

    def output_index(self, name: str) -> int:
        """The column of ``proba`` that output ``p_<class>`` is."""
        return [f"p_{c}" for c in self.classes].index(name)


def coerce(spec: Input, values, where: str = "the request") -> pa.Array:
    """One column's values as the reader's type for ``spec`` (an ``InputError`` naming it otherwise).

    Numbers: float64 (``number``) or int64 (``count``: whole numbers only; NaN is missing).
    Text (a list of ``bytes``/``str``, or an object array): ``""`` is missing; a ``number``
    or ``count`` column given as text is read as a file's field would be."""
    if isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, np.ndarray) and values.dtype.kind == "f" and spec.kind == "count":
        return _float_counts([spec], values.reshape(1, -1), where)[0]  # (the common case: no arrow round trip)
    elif isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        arr = pa.array(values.reshape(-1))
    else:
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        try:
            arr = pa.array([x.decode() if isinstance(x, bytes) else x for x in items])
        except (UnicodeDecodeError, pa.ArrowException) as exc:
            raise InputError(f"{where}: input {spec.name!r} holds a value that is not UTF-8 text or a number, or "
                             f"mixes text and numbers ({exc})") from None
        if pa.types.is_null(arr.type):
            arr = arr.cast(pa.string())
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        if spec.kind == "text":  # "" is missing: the one-hot encoder and the hasher read it as a null
            return arr
        return _parse_text(spec, pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr), where)
    if spec.kind == "text":
        return arr.cast(pa.string())
    if spec.kind == "number":
        return arr.cast(pa.float64())
    return _as_counts(spec, arr, where)


def _parse_text(spec: Input, arr: pa.Array, where: str) -> pa.Array:
    target = pa.float64() if spec.kind == "number" else pa.int64()
    text = pc.utf8_trim_whitespace(arr)
    try:
        return pc.cast(text, target)
    except pa.ArrowInvalid:
        pass
    for i, v in enumerate(text.to_pylist()):  # name the first value that is not a number
        try:
            pc.cast(pa.array([v], pa.string()), target)
        except pa.ArrowInvalid:
            need = "a number" if spec.kind == "number" else "a whole number (a Criteo count)"
            raise InputError(f"{where}: input {spec.name!r} row {i + 1}: {v!r} is not {need}; "
                             "send the value, or an empty text for a missing one") from None
    raise InputError(f"{where}: input {spec.name!r} could not be read as {target}")  # pragma: no cover


def _as_counts(spec: Input, arr: pa.Array, where: str) -> pa.Array:
    if pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
        return arr.cast(pa.int64())
    return _float_counts([spec], arr.cast(pa.float64()).to_numpy(zero_copy_only=False)[None, :], where)[0]


def _float_count_block(specs: list[Input], columns: Mapping[str, object], where: str) -> dict:
    """The count inputs sent as float arrays of one length (a CTR request's 13), checked
    and made int64 together (``_float_counts`` on their stack): {name: array}. Any that
    does not fit is left to ``coerce``."""
    given = [i for i in specs if isinstance(columns[i.name], np.ndarray) and columns[i.name].dtype.kind == "f"]
    if len(given) < 2 or len({columns[i.name].size for i in given}) != 1:
        return {}
    V = np.stack([columns[i.name].reshape(-1) for i in given])
    return dict(zip([i.name for i in given], _float_counts(given, V, where)))


def _float_counts(specs: list[Input], V: np.ndarray, where: str) -> list[pa.Array]:
    """Floats (k, n), NaN missing, as k int64 count arrays: whole numbers only (an
    ``InputError`` naming the first input and row that is not)."""
    V = V.astype(np.float64, copy=False)
    missing = np.isnan(V)
    bad = ~missing & ((V != np.floor(V)) | (np.abs(V) > 2.0 ** 62))
    if bad.any():
        k, i = (int(x[0]) for x in np.nonzero(bad))
        raise InputError(f"{where}: input {specs[k].name!r} row {i + 1}: {float(V[k, i])!r} is not a whole number; the "
                         "run reads this Criteo field as an integer count (send NaN or an empty text for a missing one)")
    whole = np.where(missing, 0, V).astype(np.int64)
    return [pa.array(w) if not m.any() else pa.array(w, pa.int64(), mask=m) for w, m in zip(whole, missing)]


def criteo_has_label(path: Path) -> bool:
    """Whether a Criteo-layout file's lines have the label (40 fields) or not (39)."""
    with pa.input_stream(str(path), compression="detect") as f:
        head = f.read(1 << 20)
    first = head.split(b"\n", 1)[0]
    if not first.strip():
        raise InputFileError(f"{path}: line 1 is empty; give a Criteo-layout TSV (label, I1..I13, C1..C26)")
    n = first.rstrip(b"\r\n").count(b"\t") + 1
    if n not in (39, 40):
        raise InputFileError(f"{path}: line 1 has {n} tab-separated fields; a hashed run scores Criteo-layout "
                             "files: 40 fields (label, I1..I13, C1..C26) or 39 (without the label)")
    return n == 40


def score_criteo_file(scorer: Scorer, path: Path, output: Path, progress=None) -> Path:
    """Stream a Criteo-layout file through a hashed run into ``output`` (CSV): ``label``
    (when the file has it), ``p_0``, ``p_1``, ``prediction``, one line per input line.

    Memory is one batch of the run's ``data.batch_rows`` rows, the batches the run's own
    test scoring used. ``progress(rows_done)`` is called after each batch, and the
    progress reporter (``_util.progress``) is told the rows, the share of the file read
    and the rows/s. The CSV is written under a temporary name and renamed when complete."""
    import os

    import pyarrow.csv as pacsv

    from logitkit._util import progress as report
    from logitkit.loaddata.criteo import stream_criteo
    from logitkit.loaddata.readmeter import ReadMeter

    has_label = criteo_has_label(path)
    tmp = output.with_name(f".{output.name}.partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    done, writer = 0, None
    meter = ReadMeter(path, digest=False)  # (progress only)
    task = report.current().task("predict", total_bytes=meter.size, source=path.name)
    try:
        for batch in stream_criteo(path, scorer.batch_rows, chunk_bytes=2 << 20, has_label=has_label, meter=meter):
            proba = scorer.proba(batch, name=str(path))
            cols = {"label": batch.column("label")} if has_label else {}
            for j, c in enumerate(scorer.classes):
                cols[f"p_{c}"] = pa.array(proba[:, j])
            cols["prediction"] = pa.array(scorer.labels(proba))
            out = pa.record_batch(cols)
            if writer is None:
                writer = pacsv.CSVWriter(str(tmp), out.schema)
            writer.write_batch(out)
            done += batch.num_rows
            task.update(rows=done, bytes=meter.bytes_read)
            if progress is not None:
                progress(done)
        writer.close()
        writer = None
        os.replace(tmp, output)
    finally:
        task.close()
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return output


@contextmanager
def _state_of(path: Path, key: str | None = None):
    """Inside: a saved state that cannot be built is an ``InputFileError`` naming its file."""
    where = f"{path} ({key})" if key else str(path)
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, UserError):
            raise InputFileError(f"{where}: {exc}") from None
        what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise InputFileError(f"{where}: not a state this logitkit can load ({what}); restore it, or run the "
                             "config again (logitkit run CONFIG --force)") from None


__all__ = ["Scorer", "Input", "InputError", "coerce", "score_criteo_file"]
