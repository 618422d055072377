"""interpret: things a person looks at — tables, plots, parameter counts, the
computational graph and the HTML report; see README.md.

The names below are imported on first use (``_util.lazy``).
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "graph": "autograd_graph", "render_graph": "autograd_graph", "classifier_plots": "figures",
    "prediction_plots": "figures", "collision_stats": "hashed", "top_weights": "hashed",
    "ParameterCount": "params", "parameter_count": "params", "write_report": "report",
    "format_table": "tables", "grouped_prevalence": "tables",
}
__all__ = [
    "classifier_plots", "prediction_plots", "graph", "render_graph", "parameter_count", "ParameterCount",
    "write_report", "grouped_prevalence", "format_table", "top_weights", "collision_stats",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
