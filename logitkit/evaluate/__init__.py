"""evaluate: inference statistics, metrics, cross-validation and tuning."""
from logitkit.evaluate.inference import Summary, covariance, hosmer_lemeshow, lr_test, model_stats, summary

__all__ = ["Summary", "summary", "covariance", "model_stats", "hosmer_lemeshow", "lr_test"]
