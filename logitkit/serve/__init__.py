"""serve: ``logitkit serve`` — online scoring of runs over the Open Inference Protocol (KServe V2 REST).

A door above ``pipeline``: it scores through ``pipeline.scorer.Scorer``, the path
``logitkit predict`` uses. Only the CLI imports it.
"""
