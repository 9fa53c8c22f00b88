"""Testing helpers for users of brokerjobs (also a pytest plugin).

Work in progress: the swap-to-memory fixture, ``dispatched()`` and ``drain()`` arrive
with the worker.
"""
