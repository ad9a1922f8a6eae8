"""Benchmark suites: latency and throughput of the reference and of every backend."""
