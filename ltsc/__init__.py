"""Lossless Token Sequence Compression via meta-tokens (Harvill et al., arXiv 2506.00307)."""

from ltsc.codec import (
    DEFAULT_STRATEGY,
    PAPER_MAX_LEN,
    STRATEGIES,
    Codec,
    DictionaryEntry,
    describe_status,
    reserved_token_names,
)
from ltsc.errors import LtscError, LtscFormatError, LtscInputError

__all__ = [
    "Codec",
    "DEFAULT_STRATEGY",
    "DictionaryEntry",
    "LtscError",
    "LtscFormatError",
    "LtscInputError",
    "PAPER_MAX_LEN",
    "STRATEGIES",
    "describe_status",
    "reserved_token_names",
]

__version__ = "0.1.0"
