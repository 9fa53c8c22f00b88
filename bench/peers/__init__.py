"""Benchmarks of brokerjobs against raw clients and peers (``python -m bench.peers``).

Standard library only at import time: modules of this package run in both the project's
venv and the peers' venv.
"""
