"""The job the wrong-endpoint CLI tests dispatch (``--app``; imports nothing heavy)."""

from __future__ import annotations

from brokerjobs import Job, JobContext


class Probe(Job, name="wrongendpoint.Probe", queue="wrong-endpoint"):
    def run(self, ctx: JobContext) -> None:
        pass
