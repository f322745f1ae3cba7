"""Benchmarks: the hub's code path against a naive baseline, measured in the same run.

Each benchmark prints both rates and their ratio; absolute timings on a 2-core machine are noisy,
ratios are not. The latest figures, and the commands that produced them, are kept in
``docs/benchmarks.md``.
"""
