"""evaluate: inference statistics, metrics (whole-array and streaming), cross-validation and tuning."""
from logitkit.evaluate.inference import Summary, covariance, hosmer_lemeshow, lr_test, model_stats, summary
from logitkit.evaluate.metrics import (
    METRICS,
    accuracy,
    average_precision,
    balanced_accuracy,
    brier_score,
    calibration_ratio,
    compute_metrics,
    confusion_matrix,
    expected_calibration_error,
    f1,
    get_metric,
    log_loss,
    normalized_entropy,
    precision,
    recall,
    roc_auc,
)
from logitkit.evaluate.selection import CVResult, LogisticRegressionCV, cross_validate, make_splits
from logitkit.evaluate.streaming import (
    AUC, CalibrationRatio, LogLoss, NormalizedEntropy, StreamingMetrics, evaluate_stream, reduce_metrics,
)

__all__ = [
    "Summary", "summary", "covariance", "model_stats", "hosmer_lemeshow", "lr_test",
    "METRICS", "compute_metrics", "get_metric", "accuracy", "balanced_accuracy", "precision", "recall", "f1",
    "confusion_matrix", "log_loss", "roc_auc", "average_precision", "brier_score",
    "expected_calibration_error", "calibration_ratio", "normalized_entropy",
    "CVResult", "cross_validate", "make_splits", "LogisticRegressionCV",
    "StreamingMetrics", "LogLoss", "NormalizedEntropy", "CalibrationRatio", "AUC", "evaluate_stream", "reduce_metrics",
]
