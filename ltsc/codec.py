"""The LTSC codec: lossless compression of token sequences with meta-tokens (format v1).

A record's repeated subsequences are replaced by meta-tokens, and a dictionary
defining them is prepended::

    [B, m_a, t1..tL, m_b, t1..tL', ..., B + 1, body...]

``B`` (the base id, by default the tokenizer's vocabulary size) opens the
dictionary, ``B + 1`` closes it and ``B + 2 + k`` is meta-token ``k``. A record
that would not get strictly shorter is stored unchanged, without delimiters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ltsc.errors import LtscFormatError, LtscInputError
from numba_kernels import codec as _k

__all__ = [
    "Codec",
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "PAPER_MAX_LEN",
    "DictionaryEntry",
    "reserved_token_names",
]

Strategy = Literal["best", "savings", "paper"]
STRATEGIES: tuple[str, ...] = ("best", "savings", "paper")
DEFAULT_STRATEGY: Strategy = "best"
#: The paper's longest candidate length, used by ``strategy="paper"`` when ``max_len`` is not given.
PAPER_MAX_LEN = _k.PAPER_MAX_LEN
#: Upper bound on a decompressed record, so a hostile hierarchical dictionary cannot exhaust memory.
DEFAULT_MAX_OUTPUT = 1 << 28
#: The longest record ``compress`` accepts; the match finder packs lengths and gains into 31 bits.
MAX_RECORD_TOKENS = (1 << 31) - 1

_STRATEGY_CODES = {"paper": _k.STRATEGY_PAPER, "savings": _k.STRATEGY_SAVINGS, "best": _k.STRATEGY_BEST}

_FORMAT_MESSAGES = {
    _k.E_MISSING_CLOSE: "dictionary is never closed: missing </ltsc:dict>",
    _k.E_UNDEFINED_META: "meta-token used in the body but not defined in the dictionary",
    _k.E_REDEFINED_META: "meta-token defined twice in the dictionary",
    _k.E_EMPTY_DEFINITION: "meta-token with an empty definition",
    _k.E_STRAY_OPEN: "stray <ltsc:dict>: only allowed as the first value",
    _k.E_STRAY_CLOSE: "stray </ltsc:dict> outside a dictionary",
    _k.E_META_OUT_OF_POOL: "id beyond the meta-token pool",
    _k.E_NEGATIVE_ID: "negative id",
    _k.E_SELF_REFERENCE: "meta-token definition refers to itself (cycle)",
    _k.E_EMPTY_DICTIONARY: "empty dictionary",
    _k.E_TOO_LARGE: "decompressed length exceeds the limit",
    _k.E_TOKEN_BEFORE_ENTRY: "token in the dictionary before any meta-token",
    _k.E_META_OUTSIDE_DICTIONARY: "meta-token in a record without a dictionary",
}


def reserved_token_names(pool_size: int) -> list[str]:
    """Names of the reserved tokens, in id order from the base id.

    Returns:
        ``["<ltsc:dict>", "</ltsc:dict>", "<ltsc:m0>", ..., f"<ltsc:m{pool_size - 1}>"]``.
    """
    if pool_size < 1:
        raise ValueError(f"pool_size must be >= 1, got {pool_size}")
    return ["<ltsc:dict>", "</ltsc:dict>", *(f"<ltsc:m{k}>" for k in range(pool_size))]


@dataclass(frozen=True, slots=True)
class DictionaryEntry:
    """One dictionary entry of a compressed record.

    Attributes:
        meta_id: The meta-token's id.
        definition: The ids it stands for, as written (may hold earlier meta ids when hierarchical).
        expansion: The base-vocabulary ids it expands to.
        uses: How many times the body uses it.
    """

    meta_id: int
    definition: np.ndarray = field(repr=False)
    expansion: np.ndarray = field(repr=False)
    uses: int

    @property
    def savings(self) -> int:
        """Tokens this entry saves: ``(L - 1) * uses - (L + 1)`` for a definition of length L."""
        length = len(self.definition)
        return (length - 1) * self.uses - (length + 1)


def _as_ids(ids: Sequence[int] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{what} must hold integers, got dtype {arr.dtype}")
    if arr.dtype != np.int32:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < np.iinfo(np.int32).min or hi > np.iinfo(np.int32).max:
            bad = int(np.flatnonzero((arr < np.iinfo(np.int32).min) | (arr > np.iinfo(np.int32).max))[0])
            raise LtscInputError(f"id {int(arr[bad])} does not fit in int32", position=bad)
        arr = arr.astype(np.int32)
    return np.ascontiguousarray(arr)


def _as_batch(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = _as_ids(values, "values")
    offsets = np.ascontiguousarray(np.asarray(offsets, dtype=np.int64))
    if offsets.ndim != 1 or offsets.size < 1:
        raise ValueError("offsets must be 1-D with at least one element")
    if offsets[0] != 0 or offsets[-1] != values.size or np.any(np.diff(offsets) < 0):
        raise ValueError(
            f"offsets must start at 0, be non-decreasing and end at len(values)={values.size}; "
            f"got {offsets[0]}..{offsets[-1]}"
        )
    return values, offsets


@dataclass(frozen=True, slots=True, kw_only=True)
class Codec:
    """Compress and decompress token sequences (format v1).

    Args:
        base_id: First reserved id; every input id must lie in ``[0, base_id)``.
        pool_size: Number of meta-tokens, so at most this many dictionary entries per record.
        strategy: ``"best"`` (default): two parses of the record by the
            savings greedy, in one phase and in two (repeats of 8+ tokens seen
            3+ times first, then all; code-like records, where the one-phase
            run costs most and seldom wins, get the two-phase parse only), and
            a step of local search around the better one (its greedy re-run
            with the region of its largest entry banned; not on code-like
            records), keeping the shortest;
            ``"savings"``: savings-ordered lazy greedy over every repeat the
            suffix array finds, any length, that defers a repeat to its longer
            extensions when those save more together (about 2x faster than
            ``"best"``);
            ``"paper"``: the paper's greedy, longest first, most frequent first.
        max_len: Longest subsequence a meta-token may stand for. ``None``: the
            paper's 8 for ``"paper"``, unlimited otherwise.
        seed: Global seed of the meta-id assignment. Each record's meta ids are
            drawn from the pool in a random order seeded by this and the record's
            content, so output depends on nothing else.
        hierarchical: Let a definition use meta-tokens defined before it (the
            body is re-parsed with its meta-tokens as symbols), and accept such
            definitions when decoding. Flat (the paper's format) by default.
        max_rounds: Suffix-array builds per phase of the savings greedy. More
            rounds find repeats that only become right-maximal after earlier
            replacements; since candidates are also scored at their truncated
            lengths this gains nothing on the benchmark corpora, so 1 by default.
        search: How many entries ``"best"``'s local search tries banning, the
            largest first (code-like records get none): each costs about one
            more run of the savings greedy and can only shorten the output.
            1 by default; 0 skips the search; 3 saves about 0.11 points more
            on the benchmark corpora at about 1.4x the time
            (benchmarks/results/search.md).
    """

    base_id: int
    pool_size: int = 512
    strategy: Strategy = DEFAULT_STRATEGY
    max_len: int | None = None
    seed: int = 0
    hierarchical: bool = False
    max_rounds: int = 1
    search: int = 1

    def __post_init__(self) -> None:
        for name in ("base_id", "pool_size", "seed", "max_rounds", "search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.base_id < 1:
            raise ValueError(f"base_id must be >= 1, got {self.base_id}")
        if self.pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {self.pool_size}")
        if self.base_id + 2 + self.pool_size > np.iinfo(np.int32).max:
            raise ValueError(f"base_id + 2 + pool_size must fit in int32, got {self.base_id + 2 + self.pool_size}")
        if self.strategy not in _STRATEGY_CODES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.max_len is not None:
            if isinstance(self.max_len, bool) or not isinstance(self.max_len, int | np.integer):
                raise TypeError(f"max_len must be an int or None, got {type(self.max_len).__name__}")
            if self.max_len < 2:
                raise ValueError(f"max_len must be >= 2, got {self.max_len}")
        if not 0 <= self.seed < 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {self.seed}")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {self.max_rounds}")
        if self.search < 0:
            raise ValueError(f"search must be >= 0, got {self.search}")
        if not isinstance(self.hierarchical, bool):
            raise TypeError(f"hierarchical must be a bool, got {type(self.hierarchical).__name__}")

    # ------------------------------------------------------------------ ids
    @property
    def open_id(self) -> int:
        """Id of ``<ltsc:dict>``."""
        return self.base_id

    @property
    def close_id(self) -> int:
        """Id of ``</ltsc:dict>``."""
        return self.base_id + 1

    def meta_id(self, k: int) -> int:
        """Id of meta-token ``k``."""
        if not 0 <= k < self.pool_size:
            raise IndexError(f"meta-token {k} outside the pool of {self.pool_size}")
        return self.base_id + 2 + k

    @property
    def reserved_ids(self) -> range:
        """Every id the format reserves."""
        return range(self.base_id, self.base_id + 2 + self.pool_size)

    @property
    def vocab_size(self) -> int:
        """Size of the extended vocabulary: base ids plus reserved ids."""
        return self.base_id + 2 + self.pool_size

    @property
    def _max_len_code(self) -> int:
        if self.max_len is not None:
            return int(self.max_len)
        return PAPER_MAX_LEN if self.strategy == "paper" else 0

    # ------------------------------------------------------------------ single records
    def compress(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Compress one record.

        Args:
            ids: 1-D ids in ``[0, base_id)``.

        Returns:
            The record in format v1 as an int32 array, never longer than ``ids``.

        Raises:
            LtscInputError: An id is negative or ``>= base_id`` (names position and value).
        """
        arr = _as_ids(ids, "ids")
        values, offsets, _ = self._compress(arr, np.array([0, arr.size], np.int64), single=True)
        return values

    def decompress(self, seq: Sequence[int] | np.ndarray) -> np.ndarray:
        """Restore the original ids of one compressed record.

        Raises:
            LtscFormatError: ``seq`` is not valid format v1 (names the position).
        """
        arr = _as_ids(seq, "seq")
        values, _ = self._decompress(arr, np.array([0, arr.size], np.int64), single=True)
        return values

    # ------------------------------------------------------------------ batches
    def compress_batch(self, values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compress many records in one kernel call.

        Args:
            values: Flat int32 ids of all records.
            offsets: int64 record boundaries, ``len(records) + 1`` long, starting at 0.

        Returns:
            ``(values, offsets)`` of the compressed records.

        Raises:
            LtscInputError: Some id is invalid; names the first bad record and position.
        """
        out_values, out_offsets, _ = self.compress_batch_with_sizes(values, offsets)
        return out_values, out_offsets

    def compress_batch_with_sizes(
        self, values: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`compress_batch`, also returning each record's number of dictionary entries."""
        values, offsets = _as_batch(values, offsets)
        return self._compress(values, offsets, single=False)

    def decompress_batch(self, values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decompress many records in one kernel call.

        Raises:
            LtscFormatError: The first malformed record, with its index and position.
        """
        values, offsets = _as_batch(values, offsets)
        return self._decompress(values, offsets, single=False)

    def first_invalid(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Per record, the position of its first id outside ``[0, base_id)``, or -1."""
        values, offsets = _as_batch(values, offsets)
        return _k._first_invalid(values, offsets, self.base_id)

    def verify_batch(
        self,
        orig_values: np.ndarray,
        orig_offsets: np.ndarray,
        values: np.ndarray,
        offsets: np.ndarray,
    ) -> np.ndarray:
        """Per record, whether ``decompress(compressed) == original``. Never raises on malformed data."""
        return self.verify_status(orig_values, orig_offsets, values, offsets) == 0

    def verify_status(
        self,
        orig_values: np.ndarray,
        orig_offsets: np.ndarray,
        values: np.ndarray,
        offsets: np.ndarray,
    ) -> np.ndarray:
        """Per record: 0 if it round-trips, -1 if it decodes to other ids, else a format error code.

        :func:`describe_status` turns a code into a message.
        """
        orig_values, orig_offsets = _as_batch(orig_values, orig_offsets)
        values, offsets = _as_batch(values, offsets)
        if orig_offsets.size != offsets.size:
            raise ValueError(f"batches differ in size: {orig_offsets.size - 1} vs {offsets.size - 1} records")
        return _k._verify_batch(
            orig_values, orig_offsets, values, offsets, self.base_id, self.pool_size, True, DEFAULT_MAX_OUTPUT
        )

    def dictionary_sizes(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Per compressed record, its number of dictionary entries."""
        values, offsets = _as_batch(values, offsets)
        return _k._dictionary_sizes(values, offsets, self.base_id, self.pool_size)

    def dictionary(self, seq: Sequence[int] | np.ndarray) -> list[DictionaryEntry]:
        """The dictionary of one compressed record, in order, with expansions and use counts.

        Raises:
            LtscFormatError: ``seq`` is malformed.
        """
        arr = _as_ids(seq, "seq")
        self.decompress(arr)  # validates
        if arr.size == 0 or arr[0] != self.open_id:
            return []
        close = int(np.flatnonzero(arr == self.close_id)[0])
        body = arr[close + 1 :]
        entries: list[DictionaryEntry] = []
        expansions: dict[int, np.ndarray] = {}
        current: list[int] = []
        meta = -1

        def flush() -> None:
            if meta >= 0:
                definition = np.asarray(current, np.int32)
                expansion = np.concatenate(
                    [expansions[v] if v in expansions else np.array([v], np.int32) for v in current]
                ).astype(np.int32)
                entries.append(DictionaryEntry(meta, definition, expansion, int(np.count_nonzero(body == meta))))
                expansions[meta] = expansion

        for v in arr[1:close].tolist():
            if v >= self.base_id + 2 and (v not in expansions or not self.hierarchical) and v != meta:
                flush()
                meta, current = v, []
            else:
                current.append(v)
        flush()
        return entries

    # ------------------------------------------------------------------ internals
    def _compress(
        self, values: np.ndarray, offsets: np.ndarray, *, single: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if offsets.size > 1:
            lengths = np.diff(offsets)
            r = int(np.argmax(lengths))
            if lengths[r] > MAX_RECORD_TOKENS:
                raise LtscInputError(
                    f"record of {int(lengths[r])} tokens exceeds the {MAX_RECORD_TOKENS} tokens a record may have",
                    position=MAX_RECORD_TOKENS,
                    record=None if single else r,
                )
        bad = _k._first_invalid(values, offsets, self.base_id)
        hits = np.flatnonzero(bad >= 0)
        if hits.size:
            r = int(hits[0])
            pos = int(bad[r])
            value = int(values[offsets[r] + pos])
            reason = "negative id" if value < 0 else f"id collides with the reserved ids (>= base_id {self.base_id})"
            raise LtscInputError(f"{reason}: {value}", position=pos, record=None if single else r)
        return _k._compress_batch(
            values,
            offsets,
            self.base_id,
            self.pool_size,
            _STRATEGY_CODES[self.strategy],
            self._max_len_code,
            self.seed,
            self.max_rounds,
            self.search,
            self.hierarchical,
        )

    def _decompress(self, values: np.ndarray, offsets: np.ndarray, *, single: bool) -> tuple[np.ndarray, np.ndarray]:
        out, out_offsets, bad, err, pos = _k._decompress_batch(
            values, offsets, self.base_id, self.pool_size, self.hierarchical, DEFAULT_MAX_OUTPUT
        )
        if bad >= 0:
            value = int(values[offsets[bad] + pos]) if pos < offsets[bad + 1] - offsets[bad] else None
            detail = f": {value}" if value is not None else ""
            raise LtscFormatError(
                f"{_FORMAT_MESSAGES[err]}{detail}", position=int(pos), record=None if single else int(bad)
            )
        return out, out_offsets


def describe_status(code: int) -> str:
    """Human-readable reason for a :meth:`Codec.verify_status` code."""
    if code == 0:
        return "ok"
    if code == -1:
        return "round trip mismatch: decompressed ids differ from the input"
    return _FORMAT_MESSAGES.get(code, f"unknown error {code}")
