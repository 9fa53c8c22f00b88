"""``python -m brokerjobs.cli``: the same as the ``brokerjobs`` command."""

from brokerjobs.cli import main

main(prog_name="brokerjobs")
