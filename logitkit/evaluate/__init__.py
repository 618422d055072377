"""evaluate: inference statistics, metrics (whole-array and streaming), cross-validation and tuning.

The names below are imported on first use (``_util.lazy``).
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "Summary": "inference", "covariance": "inference", "hosmer_lemeshow": "inference", "lr_test": "inference",
    "model_stats": "inference", "summary": "inference", "METRICS": "metrics", "accuracy": "metrics",
    "average_precision": "metrics", "balanced_accuracy": "metrics", "brier_score": "metrics",
    "calibration_ratio": "metrics", "compute_metrics": "metrics", "confusion_matrix": "metrics",
    "expected_calibration_error": "metrics", "f1": "metrics", "get_metric": "metrics", "log_loss": "metrics",
    "normalized_entropy": "metrics", "precision": "metrics", "recall": "metrics", "roc_auc": "metrics",
    "CVResult": "selection", "LogisticRegressionCV": "selection", "cross_validate": "selection",
    "make_splits": "selection", "AUC": "streaming", "CalibrationRatio": "streaming", "LogLoss": "streaming",
    "NormalizedEntropy": "streaming", "StreamingMetrics": "streaming", "evaluate_stream": "streaming",
    "reduce_metrics": "streaming",
}
__all__ = [
    "Summary", "summary", "covariance", "model_stats", "hosmer_lemeshow", "lr_test", "METRICS",
    "compute_metrics", "get_metric", "accuracy", "balanced_accuracy", "precision", "recall", "f1",
    "confusion_matrix", "log_loss", "roc_auc", "average_precision", "brier_score",
    "expected_calibration_error", "calibration_ratio", "normalized_entropy", "CVResult", "cross_validate",
    "make_splits", "LogisticRegressionCV", "StreamingMetrics", "LogLoss", "NormalizedEntropy",
    "CalibrationRatio", "AUC", "evaluate_stream", "reduce_metrics",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
