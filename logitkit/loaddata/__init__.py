"""loaddata: readers, built-in data sets and synthetic generators; hands on a ``Table``.

The names below are imported on first use (``_util.lazy``).
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "BatchExtras": "batch_cache", "CRITEO_COLUMNS": "criteo", "load_criteo": "criteo",
    "stream_criteo": "criteo", "write_criteo": "criteo", "CTRStream": "ctr_stream",
    "TokenTransform": "ctr_stream", "load_from_config": "data_section", "load_input": "data_section",
    "load_shard": "data_section", "dataset_names": "datasets", "describe_datasets": "datasets",
    "load_dataset": "datasets", "load_csv": "delimited", "stream_csv": "delimited", "write_csv": "delimited",
    "guess_format": "files", "load_file": "files", "stream_file": "files", "load_parquet": "parquet",
    "stream_parquet": "parquet", "write_parquet": "parquet", "shard_batches": "roundrobin",
    "shard_parquet": "roundrobin", "shard_paths": "roundrobin", "load_svmlight": "svmlight",
    "read_svmlight_csr": "svmlight", "stream_svmlight": "svmlight", "write_svmlight": "svmlight",
    "make_ctr": "synthetic", "make_logistic": "synthetic", "Table": "table", "load_vw": "vw",
    "stream_vw": "vw", "write_vw": "vw",
}
__all__ = [
    "Table", "load_dataset", "dataset_names", "describe_datasets", "load_from_config", "load_shard",
    "load_input", "load_file", "stream_file", "guess_format", "load_csv", "stream_csv", "write_csv",
    "load_parquet", "stream_parquet", "write_parquet", "load_svmlight", "stream_svmlight",
    "read_svmlight_csr", "write_svmlight", "CRITEO_COLUMNS", "load_criteo", "stream_criteo", "write_criteo",
    "load_vw", "stream_vw", "write_vw", "make_ctr", "make_logistic", "CTRStream", "TokenTransform",
    "BatchExtras", "shard_paths", "shard_parquet", "shard_batches",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
