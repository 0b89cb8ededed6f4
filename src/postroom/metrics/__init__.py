"""Metrics adapters. Prometheus is used where prometheus-client is installed."""
