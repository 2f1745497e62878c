"""Benchmarks for vip_workflow; run with ``python -m bench`` (see docs/benchmarks.md)."""
