"""loaddata: readers, built-in data sets and synthetic generators; hands on a ``Table``."""
from logitkit.loaddata.batch_cache import BatchExtras
from logitkit.loaddata.criteo import CRITEO_COLUMNS, load_criteo, stream_criteo, write_criteo
from logitkit.loaddata.ctr_stream import CTRStream, TokenTransform
from logitkit.loaddata.data_section import load_from_config, load_input, load_shard
from logitkit.loaddata.datasets import dataset_names, describe_datasets, load_dataset
from logitkit.loaddata.delimited import load_csv, stream_csv, write_csv
from logitkit.loaddata.files import guess_format, load_file, stream_file
from logitkit.loaddata.parquet import load_parquet, stream_parquet, write_parquet
from logitkit.loaddata.roundrobin import shard_batches, shard_parquet, shard_paths
from logitkit.loaddata.svmlight import load_svmlight, read_svmlight_csr, stream_svmlight, write_svmlight
from logitkit.loaddata.synthetic import make_ctr, make_logistic
from logitkit.loaddata.table import Table
from logitkit.loaddata.vw import load_vw, stream_vw, write_vw

__all__ = [
    "Table", "load_dataset", "dataset_names", "describe_datasets", "load_from_config", "load_shard", "load_input",
    "load_file", "stream_file", "guess_format",
    "load_csv", "stream_csv", "write_csv", "load_parquet", "stream_parquet", "write_parquet",
    "load_svmlight", "stream_svmlight", "read_svmlight_csr", "write_svmlight",
    "CRITEO_COLUMNS", "load_criteo", "stream_criteo", "write_criteo",
    "load_vw", "stream_vw", "write_vw", "make_ctr", "make_logistic",
    "CTRStream", "TokenTransform", "BatchExtras", "shard_paths", "shard_parquet", "shard_batches",
]
