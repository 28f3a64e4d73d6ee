"""Metrics of label propagation.

``corrflow.evaluation.functional`` (numpy maths) and ``davis_io`` (DAVIS folders)
import without torch or mmengine, so that evaluation worker processes start
fast; the metric classes live in ``corrflow.evaluation.metrics``.
"""
