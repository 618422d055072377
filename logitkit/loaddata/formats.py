"""The file formats logitkit reads and ``guess_format`` (by name or extension).

Apart from the readers (``files``), so that a path is checked without importing them:
a CTR run checks its files' format at start-up and reads them with its own reader.
"""
from __future__ import annotations

from pathlib import Path

from logitkit._util.errors import ConfigError

FORMATS = ["csv", "tsv", "parquet", "svmlight", "criteo", "vw"]
_BY_SUFFIX = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".svm": "svmlight", ".libsvm": "svmlight", ".svmlight": "svmlight", ".vw": "vw",
}


def guess_format(path: str | Path, fmt: str = "auto") -> str:
    """The format named, or the one the extension says (``.gz`` is looked through; a directory is Parquet)."""
    if fmt != "auto":
        if fmt not in FORMATS:
            raise ConfigError(f"data.format {fmt!r} is unknown; use auto or one of {FORMATS}")
        return fmt
    p = Path(path)
    if p.is_dir():
        return "parquet"
    suffixes = [s.lower() for s in p.suffixes if s.lower() not in (".gz", ".bz2", ".zst", ".lz4")]
    if suffixes and suffixes[-1] in _BY_SUFFIX:
        return _BY_SUFFIX[suffixes[-1]]
    raise ConfigError(
        f"{p}: cannot tell the format from the extension {''.join(p.suffixes)!r}; set data.format to one of {FORMATS}"
    )
