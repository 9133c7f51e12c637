"""Throughput and memory benchmarks (``python benchmarks/run.py``, ``python -m pytest benchmarks``)."""
