"""Operating the service: metrics, traces, structured logs, reconciliation and the operator CLI
(`python -m ops --help`). Alert rules and the Grafana dashboard live beside the code that makes
the metrics they name (ops/prometheus/, ops/grafana/)."""
