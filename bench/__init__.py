"""Benchmarks: each prints its rates as ratios against a baseline measured in the same run."""
