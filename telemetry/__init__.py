"""What every process measures and traces: metric definitions (metrics.py) and logs and traces
(tracing.py). Imported downward by activities, the API, the worker and the operator tools."""
