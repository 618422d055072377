"""One rank's share of a stream, dealt round-robin: files, Parquet row groups, batches.

Rank r of W (``_util.collective``: rank 0 of 1 in one process, so every helper hands on
everything) takes items r, r + W, r + 2W, ... of a list in a fixed order. For a text
file cut by bytes instead (each rank parses only its range) see ``shard``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from logitkit._util.collective import Collective, current


def shard_paths(paths: Iterable[str | Path], coll: Collective | None = None) -> list[Path]:
    """This rank's files of a list (sorted by name, then dealt round-robin)."""
    coll = coll or current()
    files = sorted(Path(p) for p in paths)
    return files[coll.rank:: coll.world_size]


def shard_parquet(path: str | Path, batch_rows: int = 65536, columns: list[str] | None = None,
                  coll: Collective | None = None) -> Iterator:
    """Record batches of this rank's row groups of one Parquet file (dealt round-robin)."""
    import pyarrow.parquet as pq

    coll = coll or current()
    f = pq.ParquetFile(path)
    groups = list(range(f.num_row_groups))[coll.rank:: coll.world_size]
    if groups:
        yield from f.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns)


def shard_batches(batches: Iterable, coll: Collective | None = None) -> Iterator:
    """Every W-th batch of a stream, starting at this rank's (every rank reads the whole stream)."""
    coll = coll or current()
    r, w = coll.rank, coll.world_size
    for i, b in enumerate(batches):
        if i % w == r:
            yield b
