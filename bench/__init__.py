"""Benchmarks: the project's figure beside the raw tool underneath, run in one process.

``make bench`` (``python -m bench``) starts its own stack on free ports and prints ratios;
benchmarks report, tests assert.
"""
