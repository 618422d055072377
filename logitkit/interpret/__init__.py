"""interpret: things a person looks at — tables, plots, parameter counts, the
computational graph and the HTML report; see README.md."""
from logitkit.interpret.autograd_graph import graph, render_graph
from logitkit.interpret.figures import classifier_plots, prediction_plots
from logitkit.interpret.hashed import collision_stats, top_weights
from logitkit.interpret.params import ParameterCount, parameter_count
from logitkit.interpret.report import write_report
from logitkit.interpret.tables import format_table, grouped_prevalence

__all__ = ["classifier_plots", "prediction_plots", "graph", "render_graph", "parameter_count", "ParameterCount",
           "write_report", "grouped_prevalence", "format_table", "top_weights", "collision_stats"]
