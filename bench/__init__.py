"""Benchmarks of mailflow against hand-written references; run `python -m bench --help`."""
