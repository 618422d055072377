"""loaddata.spool: a worker process's items handed over through files, in order, with
the streams' own digests; errors raised in the consumer; nothing left behind."""
import hashlib

import numpy as np
import pytest

from logitkit.loaddata.ctr_stream import CTRStream
from logitkit.loaddata.spool import Spool
from logitkit.prepdata.hashing import FeatureHasher


def stream(path, **kw):
    return CTRStream(path, FeatureHasher(n_bits=18), batch_rows=1000, prefetch=False, **kw)


def test_two_files_through_one_spool_equal_their_direct_passes(ctr_files, tmp_path):
    files = ctr_files(5_000, 2_500, seed=5)
    train, test = stream(files.train, sketch_every=2), stream(files.test, sketch_every=0)
    spool = Spool([train.spool_producer(), test.spool_producer()], tmp_path / "spool", ahead=1 << 16, segment=1 << 15)
    train.spooled_pass(spool.items(0))
    test.spooled_pass(spool.items(1))
    for s, path, sketch in ((train, files.train, 2), (test, files.test, 0)):
        got, want = list(s), list(stream(path, sketch_every=sketch))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
            assert (a[3] is None) == (b[3] is None)
            if a[3] is not None:
                assert list(a[3][0]) == list(b[3][0]) and np.array_equal(a[3][2], b[3][2])
        assert s.fingerprint() == hashlib.sha256(path.read_bytes()).hexdigest()  # from the worker's pass
        assert s.meter.bytes_read == path.stat().st_size
    assert len(list((tmp_path / "spool").glob("*.spool"))) == 1  # each segment read is removed; the last stays
    spool.close()
    assert not (tmp_path / "spool").exists()


def test_a_worker_error_is_raised_in_the_consumer(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\t2\n")  # not Criteo-layout
    s = stream(bad)
    spool = Spool([s.spool_producer()], tmp_path / "spool")
    s.spooled_pass(spool.items(0))
    with pytest.raises(Exception, match="bad.tsv"):
        list(s)
    spool.close()
    assert not (tmp_path / "spool").exists()


def test_producers_are_read_in_order_and_close_stops_the_worker(ctr_files, tmp_path):
    files = ctr_files(5_000, 2_500, seed=5)
    a, b = stream(files.train), stream(files.test)
    spool = Spool([a.spool_producer(), b.spool_producer()], tmp_path / "spool", ahead=1 << 14)
    with pytest.raises(RuntimeError, match="producer 1 asked for while 0 is next"):
        next(spool.items(1))
    first = next(iter(spool.items(0)))
    assert first[0][0].shape == (1000, 39)
    spool.close()  # mid-way: the worker (waiting, ahead) is stopped and the files go
    assert not spool._worker.is_alive() and not (tmp_path / "spool").exists()
