"""Mergeable compression statistics.

A :class:`CompressionStats` summarizes any number of records: counts, token totals, sums of squared lengths (for the
attention-cost estimate), dictionary entries, fixed-bin histograms and a per-source breakdown. Stats of disjoint record
sets merge exactly (integers only), and :meth:`CompressionStats.merge` is associative and commutative, so a pipeline
can compute one object per work unit and combine them in any order on any engine.

This module is pure Python + numpy: it imports no Beam, pyarrow or tokenizer code (layer rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "REDUCTION_BINS",
    "LENGTH_BINS",
    "CompressionStats",
    "reduction_bin_edges",
    "length_bin_edges",
]

#: Number of equal-width bins of per-record token reduction ``1 - compressed/original`` over ``[0, 1]``.
REDUCTION_BINS = 20
#: Number of log2 bins of lengths: bin 0 holds length 0, bin ``k >= 1`` holds ``[2**(k-1), 2**k)``.
LENGTH_BINS = 32

_SOURCE_FIELDS = (
    "records_out",
    "records_rejected",
    "tokens_in",
    "tokens_out",
    "squares_in",
    "squares_out",
    "dictionary_entries",
)


def reduction_bin_edges() -> list[float]:
    """Edges of the per-record reduction histogram (``REDUCTION_BINS + 1`` values from 0 to 1)."""
    return [i / REDUCTION_BINS for i in range(REDUCTION_BINS + 1)]


def length_bin_edges() -> list[int]:
    """Lower edges of the length histogram bins: ``[0, 1, 2, 4, ..., 2**(LENGTH_BINS-2)]``."""
    return [0] + [2 ** (k - 1) for k in range(1, LENGTH_BINS)]


def _as_lengths(x: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    return arr


def _length_hist(lengths: np.ndarray) -> tuple[int, ...]:
    # frexp gives the exponent e with L = m * 2**e, m in [0.5, 1): e is L's bit length, exact for int32-range values.
    bins = np.frexp(lengths.astype(np.float64))[1]
    bins = np.minimum(bins, LENGTH_BINS - 1)
    return tuple(int(c) for c in np.bincount(bins, minlength=LENGTH_BINS))


def _reduction_hist(orig: np.ndarray, comp: np.ndarray) -> tuple[int, ...]:
    keep = orig > 0
    o, c = orig[keep], comp[keep]
    # Integer arithmetic so the bin of a record never depends on float rounding.
    bins = np.clip(((o - c) * REDUCTION_BINS) // np.maximum(o, 1), 0, REDUCTION_BINS - 1)
    return tuple(int(c) for c in np.bincount(bins, minlength=REDUCTION_BINS))


def _add_tuples(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _add_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _add_sources(a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    out = {k: dict(v) for k, v in a.items()}
    for k, v in b.items():
        out[k] = _add_counts(out.get(k, {}), v) if k in out else dict(v)
    return {k: {f: out[k].get(f, 0) for f in _SOURCE_FIELDS} for k in sorted(out)}


def _ratio(saved_of: int, total: int) -> float:
    return 1.0 - saved_of / total if total else 0.0


@dataclass(frozen=True, slots=True)
class CompressionStats:
    """Exact, mergeable statistics of a set of records.

    ``records_in == records_out + records_rejected`` holds by construction. Lengths of written records count in
    ``tokens_in``/``tokens_out`` (original and compressed, dictionary and delimiters included); rejected records count
    only in ``records_rejected`` and ``reject_reasons``.

    Attributes:
        records_out: Records written.
        records_rejected: Records sent to rejects.
        tokens_in: Sum of original lengths of written records.
        tokens_out: Sum of compressed lengths of written records.
        squares_in: Sum of squared original lengths (attention cost before).
        squares_out: Sum of squared compressed lengths (attention cost after).
        dictionary_entries: Sum of dictionary entries over written records.
        records_compressed: Written records that got at least one dictionary entry.
        max_length_in: Longest original length.
        max_length_out: Longest compressed length.
        reduction_hist: ``REDUCTION_BINS`` counts of per-record reduction (records of length 0 excluded).
        length_in_hist: ``LENGTH_BINS`` log2-bin counts of original lengths.
        length_out_hist: ``LENGTH_BINS`` log2-bin counts of compressed lengths.
        per_source: Source name -> counts (the fields of ``_SOURCE_FIELDS``).
        reject_reasons: Reject reason code -> count.
    """

    records_out: int = 0
    records_rejected: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    squares_in: int = 0
    squares_out: int = 0
    dictionary_entries: int = 0
    records_compressed: int = 0
    max_length_in: int = 0
    max_length_out: int = 0
    reduction_hist: tuple[int, ...] = field(default=(0,) * REDUCTION_BINS)
    length_in_hist: tuple[int, ...] = field(default=(0,) * LENGTH_BINS)
    length_out_hist: tuple[int, ...] = field(default=(0,) * LENGTH_BINS)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The per-source counters are totals of the same name; the other three exist only as totals.
        for name in (*_SOURCE_FIELDS, "records_compressed", "max_length_in", "max_length_out"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        for name, n in (
            ("reduction_hist", REDUCTION_BINS),
            ("length_in_hist", LENGTH_BINS),
            ("length_out_hist", LENGTH_BINS),
        ):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have {n} bins, got {len(getattr(self, name))}")
        if sum(self.reject_reasons.values()) != self.records_rejected:
            total = sum(self.reject_reasons.values())
            raise ValueError(f"reject_reasons sum to {total}, records_rejected is {self.records_rejected}")
        if self.records_compressed > self.records_out:
            raise ValueError("records_compressed cannot exceed records_out")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_batch(
        cls,
        orig_lengths: Sequence[int] | np.ndarray,
        comp_lengths: Sequence[int] | np.ndarray,
        n_entries: Sequence[int] | np.ndarray,
        sources: Sequence[str | None] | None = None,
    ) -> CompressionStats:
        """Stats of written records.

        Args:
            orig_lengths: Original token count per record.
            comp_lengths: Compressed token count per record (dictionary included).
            n_entries: Dictionary entries per record.
            sources: Optional source name per record (``None`` entries are grouped under ``""``).

        Returns:
            The stats of these records.

        Raises:
            ValueError: On arrays of different lengths or negative values.
        """
        o = _as_lengths(orig_lengths, "orig_lengths")
        c = _as_lengths(comp_lengths, "comp_lengths")
        e = _as_lengths(n_entries, "n_entries")
        if not (len(o) == len(c) == len(e)):
            raise ValueError(f"length mismatch: {len(o)} original, {len(c)} compressed, {len(e)} entry counts")
        per_source: dict[str, dict[str, int]] = {}
        if sources is not None:
            if len(sources) != len(o):
                raise ValueError(f"sources has {len(sources)} entries for {len(o)} records")
            keys = ["" if s is None else str(s) for s in sources]
            for name in sorted(set(keys)):
                m = np.fromiter((k == name for k in keys), dtype=bool, count=len(keys))
                per_source[name] = {
                    "records_out": int(m.sum()),
                    "records_rejected": 0,
                    "tokens_in": int(o[m].sum()),
                    "tokens_out": int(c[m].sum()),
                    "squares_in": int((o[m] * o[m]).sum()),
                    "squares_out": int((c[m] * c[m]).sum()),
                    "dictionary_entries": int(e[m].sum()),
                }
        return cls(
            records_out=len(o),
            tokens_in=int(o.sum()),
            tokens_out=int(c.sum()),
            squares_in=int((o * o).sum()),
            squares_out=int((c * c).sum()),
            dictionary_entries=int(e.sum()),
            records_compressed=int((e > 0).sum()),
            max_length_in=int(o.max()) if len(o) else 0,
            max_length_out=int(c.max()) if len(c) else 0,
            reduction_hist=_reduction_hist(o, c),
            length_in_hist=_length_hist(o),
            length_out_hist=_length_hist(c),
            per_source=per_source,
        )

    @classmethod
    def from_rejects(cls, reasons: Iterable[str], sources: Sequence[str | None] | None = None) -> CompressionStats:
        """Stats of rejected records.

        Args:
            reasons: One reason code per rejected record.
            sources: Optional source name per rejected record.

        Returns:
            The stats of these rejects.
        """
        reasons = [str(r) for r in reasons]
        counts: dict[str, int] = {}
        for r in reasons:
            counts[r] = counts.get(r, 0) + 1
        per_source: dict[str, dict[str, int]] = {}
        if sources is not None:
            if len(sources) != len(reasons):
                raise ValueError(f"sources has {len(sources)} entries for {len(reasons)} rejects")
            for s in sources:
                key = "" if s is None else str(s)
                entry = per_source.setdefault(key, dict.fromkeys(_SOURCE_FIELDS, 0))
                entry["records_rejected"] += 1
        return cls(
            records_rejected=len(reasons),
            reject_reasons=dict(sorted(counts.items())),
            per_source={k: per_source[k] for k in sorted(per_source)},
        )

    # ------------------------------------------------------------------ algebra
    def merge(self, other: CompressionStats) -> CompressionStats:
        """The stats of the union of two disjoint record sets (associative and commutative)."""
        return CompressionStats(
            records_out=self.records_out + other.records_out,
            records_rejected=self.records_rejected + other.records_rejected,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_out=self.tokens_out + other.tokens_out,
            squares_in=self.squares_in + other.squares_in,
            squares_out=self.squares_out + other.squares_out,
            dictionary_entries=self.dictionary_entries + other.dictionary_entries,
            records_compressed=self.records_compressed + other.records_compressed,
            max_length_in=max(self.max_length_in, other.max_length_in),
            max_length_out=max(self.max_length_out, other.max_length_out),
            reduction_hist=_add_tuples(self.reduction_hist, other.reduction_hist),
            length_in_hist=_add_tuples(self.length_in_hist, other.length_in_hist),
            length_out_hist=_add_tuples(self.length_out_hist, other.length_out_hist),
            per_source=_add_sources(self.per_source, other.per_source),
            reject_reasons=_add_counts(self.reject_reasons, other.reject_reasons),
        )

    @classmethod
    def merge_all(cls, items: Iterable[CompressionStats]) -> CompressionStats:
        """Merge any number of stats (the empty merge is the zero stats)."""
        total = cls()
        for item in items:
            total = total.merge(item)
        return total

    # ------------------------------------------------------------------ derived figures
    @property
    def records_in(self) -> int:
        """Records seen: written plus rejected."""
        return self.records_out + self.records_rejected

    @property
    def token_reduction(self) -> float:
        """``1 - tokens_out / tokens_in`` (0 when there are no tokens)."""
        return _ratio(self.tokens_out, self.tokens_in)

    @property
    def attention_reduction(self) -> float:
        """``1 - Σc² / Σo²``: the share of quadratic attention cost saved (0 when there are no tokens)."""
        return _ratio(self.squares_out, self.squares_in)

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: every field plus the derived figures (``records_in``, reductions, bin edges)."""
        per_source = {}
        for name, s in self.per_source.items():
            entry: dict[str, Any] = dict(s)
            entry["records_in"] = s["records_out"] + s["records_rejected"]
            entry["token_reduction"] = _ratio(s["tokens_out"], s["tokens_in"])
            entry["attention_reduction"] = _ratio(s["squares_out"], s["squares_in"])
            per_source[name] = entry
        return {
            "records_in": self.records_in,
            "records_out": self.records_out,
            "records_rejected": self.records_rejected,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "token_reduction": self.token_reduction,
            "squares_in": self.squares_in,
            "squares_out": self.squares_out,
            "attention_reduction": self.attention_reduction,
            "dictionary_entries": self.dictionary_entries,
            "records_compressed": self.records_compressed,
            "mean_dictionary_entries": self.dictionary_entries / self.records_out if self.records_out else 0.0,
            "max_length_in": self.max_length_in,
            "max_length_out": self.max_length_out,
            "reduction_histogram": {"edges": reduction_bin_edges(), "counts": list(self.reduction_hist)},
            "length_in_histogram": {"lower_edges": length_bin_edges(), "counts": list(self.length_in_hist)},
            "length_out_histogram": {"lower_edges": length_bin_edges(), "counts": list(self.length_out_hist)},
            "per_source": per_source,
            "reject_reasons": dict(self.reject_reasons),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompressionStats:
        """Inverse of :meth:`to_dict` (derived figures are ignored and recomputed)."""
        return cls(
            records_out=int(d["records_out"]),
            records_rejected=int(d["records_rejected"]),
            tokens_in=int(d["tokens_in"]),
            tokens_out=int(d["tokens_out"]),
            squares_in=int(d["squares_in"]),
            squares_out=int(d["squares_out"]),
            dictionary_entries=int(d["dictionary_entries"]),
            records_compressed=int(d["records_compressed"]),
            max_length_in=int(d["max_length_in"]),
            max_length_out=int(d["max_length_out"]),
            reduction_hist=tuple(int(x) for x in d["reduction_histogram"]["counts"]),
            length_in_hist=tuple(int(x) for x in d["length_in_histogram"]["counts"]),
            length_out_hist=tuple(int(x) for x in d["length_out_histogram"]["counts"]),
            per_source={
                str(k): {f: int(v[f]) for f in _SOURCE_FIELDS} for k, v in sorted(d.get("per_source", {}).items())
            },
            reject_reasons={str(k): int(v) for k, v in sorted(d.get("reject_reasons", {}).items())},
        )
