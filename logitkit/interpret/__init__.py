"""interpret: things a person looks at — tables, plots, parameter counts, the
computational graph and the HTML report; see README.md.

The names below are imported on first use (``from logitkit.interpret import ...`` works as
usual), so that importing one module of this stage loads only what that module needs
(a CTR run starts without the readers, SciPy, scikit-learn or matplotlib it does not use).
"""
from importlib import import_module

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


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"logitkit.interpret.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'logitkit.interpret' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_WHERE))
