"""Benchmarks. Each prints what it measured beside its baseline and the ratio."""
