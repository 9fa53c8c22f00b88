"""What :func:`brokerjobs.dispatch` returns: the message id, and whether it was a duplicate."""

from __future__ import annotations


class DispatchResult(str):
    """The message id a dispatch returns, a ``str`` as before, that also says whether it
    was a duplicate.

    ``duplicate`` is True when the job is unique (``unique_for``) and an equal one was
    already queued: nothing was sent, and the id is that job's.
    """

    duplicate: bool

    def __new__(cls, message_id: str, *, duplicate: bool = False) -> DispatchResult:
        result = super().__new__(cls, message_id)
        result.duplicate = duplicate
        return result

    @property
    def message_id(self) -> str:
        """The id as a plain ``str``."""
        return str(self)
