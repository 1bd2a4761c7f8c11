"""The benchmark suite: `python bench/run.py [--quick]` (see bench/RESULTS.md)."""
