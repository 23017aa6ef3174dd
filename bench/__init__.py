"""Benchmarks: Follow-through against the bare Temporal floor, at scale, and against DBOS.

Run with `make bench` or `python -m bench --help`. Never part of `make test`.
"""
