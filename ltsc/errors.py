"""Exceptions raised by the codec. Both subclass :class:`ValueError`."""

from __future__ import annotations

__all__ = ["LtscError", "LtscInputError", "LtscFormatError"]


class LtscError(ValueError):
    """Base class: a value the codec cannot accept.

    Attributes:
        position: Index of the offending value within its record.
        record: Index of the record within a batch, or ``None`` for single-record calls.
    """

    def __init__(self, message: str, *, position: int, record: int | None = None) -> None:
        where = f"record {record}, position {position}" if record is not None else f"position {position}"
        super().__init__(f"{message} (at {where})")
        self.position = position
        self.record = record


class LtscInputError(LtscError):
    """An input that cannot be compressed: a negative id, an id among the reserved ids, or a record too long."""


class LtscFormatError(LtscError):
    """A sequence that is not valid format v1 and cannot be decompressed."""
