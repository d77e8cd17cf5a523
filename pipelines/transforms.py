"""Composable Beam transforms over Arrow record batches.

Every transform here maps a ``PCollection`` of ``pyarrow.RecordBatch`` to another (``ReadShards`` starts one,
``WriteShards`` ends one), so they drop into any Beam pipeline with any IO::

    batches = p | ReadShards(["data/*.parquet"])            # or: your own IO producing RecordBatches
    written = (
        batches
        | TokenizeText(tokenizer="gpt2-dir", text_column="text")
        | CompressTokens(codec)
        | VerifyRoundTrip(codec)
        | WriteShards("out")                                # one UnitResult per batch
    )
    _ = written | FinalizeDataset(FinalizeConfig(output="out", base_id=codec.base_id, pool_size=codec.pool_size))

(``FinalizeDataset`` lives in :mod:`pipelines.finalize`: stats.json, report, dataset card, tokenizer, _SUCCESS.)

Records that cannot be processed are not dropped: each transform marks them in the column ``__ltsc_reject`` (a
reason string such as ``"empty_text: ..."``; null for good records) and later transforms pass them through untouched,
until ``WriteShards`` splits them into ``OUT/rejects/``. The batch's schema metadata carries its provenance
(``ltsc.part``, ``ltsc.shard``, ``ltsc.row_offset``) and the seconds each stage spent on it (``ltsc.time.<stage>``);
batches without it (from your own IO) get a part name derived from their content.

Columns added: ``input_ids`` (``list<int32>``, compressed format v1 after ``CompressTokens``), ``original_length``,
``compressed_length``, ``dictionary_entries`` (int32) and, with a response column, ``response_ids`` and
``response_length``. DoFns load the tokenizer and warm the codec's JIT in ``setup``; transforms pickle only paths
and small configs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics

from ltsc import Codec, describe_status
from ltsc.stats import CompressionStats
from pipelines import io as pio

__all__ = [
    "ReadShards",
    "TokenizeText",
    "CompressTokens",
    "VerifyRoundTrip",
    "WriteShards",
    "UnitResult",
    "REJECT_COLUMN",
    "ORIGINAL_IDS_COLUMN",
    "OUTPUT_COLUMNS",
]

_LOG = logging.getLogger("ltsc.pipeline")

REJECT_COLUMN = "__ltsc_reject"
ORIGINAL_IDS_COLUMN = "__ltsc_original_ids"
INTERNAL_COLUMNS = (REJECT_COLUMN, ORIGINAL_IDS_COLUMN)
IDS_COLUMN = "input_ids"
OUTPUT_COLUMNS = (
    IDS_COLUMN,
    "original_length",
    "compressed_length",
    "dictionary_entries",
    "response_ids",
    "response_length",
)
#: Columns of a rejects file besides the record's passthrough columns.
REJECT_INFO_COLUMNS = ("ltsc_shard", "ltsc_row", "ltsc_reason", "ltsc_detail")

META_PART = "ltsc.part"
META_SHARD = "ltsc.shard"
META_ROW_OFFSET = "ltsc.row_offset"
META_TIME = "ltsc.time."
META_CPU = "ltsc.cpu."
STAGES = ("read", "tokenize", "compress", "verify", "write")

_IDS_TYPE = pa.list_(pa.int32())
#: Below this many tokens a batch compresses in the calling thread (thread hand-off would cost more than it saves).
_PARALLEL_MIN_TOKENS = 50_000


# ---------------------------------------------------------------------------------------------------------------- #
# Batch helpers (pure functions over pyarrow / numpy)
# ---------------------------------------------------------------------------------------------------------------- #
def _meta(batch: pa.RecordBatch) -> dict[str, str]:
    md = batch.schema.metadata or {}
    return {k.decode(): v.decode() for k, v in md.items() if k.startswith(b"ltsc.")}


def _as_record_batch(element: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
    if isinstance(element, pa.RecordBatch):
        return element
    if isinstance(element, pa.Table):
        md = element.schema.metadata
        combined = element.combine_chunks()
        batches = combined.to_batches()
        batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=element.schema)
        return batch.replace_schema_metadata(md)
    raise TypeError(f"expected a pyarrow RecordBatch or Table, got {type(element).__name__}")


def _rebuild(
    batch: pa.RecordBatch,
    *,
    drop: Iterable[str] = (),
    add: dict[str, pa.Array] | None = None,
    meta: dict[str, str] | None = None,
) -> pa.RecordBatch:
    """A batch with columns dropped / added (replacing same-named ones) and ltsc metadata updated."""
    add = add or {}
    gone = set(drop) | set(add)
    names = [n for n in batch.schema.names if n not in gone]
    arrays = [batch.column(n) for n in names] + list(add.values())
    names += list(add)
    md = _meta(batch)
    md.update(meta or {})
    out = pa.RecordBatch.from_arrays(arrays, names=names)
    return out.replace_schema_metadata(md)


def _reasons(batch: pa.RecordBatch) -> list[str | None]:
    if REJECT_COLUMN in batch.schema.names:
        return batch.column(REJECT_COLUMN).to_pylist()
    return [None] * batch.num_rows


class _Clock:
    """Wall and process-CPU seconds since creation (CPU includes the tokenizer's and codec's worker threads)."""

    __slots__ = ("wall", "cpu")

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _add_time(meta: dict[str, str], stage: str, clock: _Clock) -> dict[str, str]:
    wall, cpu = clock.elapsed()
    return {
        META_TIME + stage: repr(float(meta.get(META_TIME + stage, 0.0)) + wall),
        META_CPU + stage: repr(float(meta.get(META_CPU + stage, 0.0)) + cpu),
    }


def _ids_array(values: np.ndarray, offsets: np.ndarray, ok: np.ndarray) -> pa.Array:
    """A ``list<int32>`` column: row i is ``values[offsets[j]:offsets[j+1]]`` for the j-th ok row, null otherwise."""
    n = ok.size
    lengths = np.zeros(n, dtype=np.int64)
    lengths[ok] = np.diff(offsets)
    full = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=full[1:])
    if full[-1] > np.iinfo(np.int32).max:
        raise ValueError("a batch holds more than 2**31 tokens; use smaller work units (--unit-rows)")
    return pa.ListArray.from_arrays(
        pa.array(full.astype(np.int32)),
        pa.array(np.ascontiguousarray(values, dtype=np.int32)),
        type=_IDS_TYPE,
        mask=pa.array(~ok) if not ok.all() else None,
    )


def _int_column(values: np.ndarray, ok: np.ndarray) -> pa.Array:
    full = np.zeros(ok.size, dtype=np.int32)
    full[ok] = values
    return pa.array(full, type=pa.int32(), mask=~ok if not ok.all() else None)


def _flat(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values int64, offsets int64) of a list array without nulls."""
    lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(len(col) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = pc.list_flatten(col)
    values = flat.to_numpy(zero_copy_only=False) if len(flat) else np.zeros(0, dtype=np.int64)
    return values.astype(np.int64, copy=False), offsets


def is_string_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` holds text (plain, large, view or dictionary-encoded strings)."""
    if pa.types.is_dictionary(t):
        return is_string_type(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def is_binary_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` holds variable-length bytes (plain, large, view or dictionary-encoded)."""
    if pa.types.is_dictionary(t):
        return is_binary_type(t.value_type)
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def is_text_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` can be tokenized: strings, or bytes holding UTF-8 (decoded record by record)."""
    return is_string_type(t) or is_binary_type(t)


_AS_BINARY = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary(), pa.string_view(): pa.binary_view()}


def _as_bytes(col: pa.Array) -> pa.Array:
    """A string or binary column as a binary column, zero-copy (string bytes are not validated)."""
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col.view(_AS_BINARY[col.type]) if is_string_type(col.type) else col


def _decode_texts(col: pa.Array) -> tuple[list[str | None], dict[int, str]]:
    """A string or binary column as Python strings, and for each row that is not valid UTF-8, where and why.

    Rows that do not decode are ``None`` in the list. String columns decode in one call; they are re-read as bytes
    only when a writer stored invalid UTF-8 under a string type (Parquet readers do not validate it).
    """
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if is_string_type(col.type):
        try:
            return col.to_pylist(), {}
        except UnicodeDecodeError:
            pass
    texts: list[str | None] = []
    errors: dict[int, str] = {}
    for i, raw in enumerate(_as_bytes(col).to_pylist()):
        try:
            texts.append(None if raw is None else raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            texts.append(None)
            errors[i] = f"byte {e.start} (0x{raw[e.start : e.end].hex()}: {e.reason})"
    return texts, errors


def _labels(col: pa.Array) -> list[str | None]:
    """A column as strings for the per-source breakdown; bytes that are not UTF-8 are replaced, never raised on."""
    if is_text_type(col.type):
        return [None if b is None else b.decode("utf-8", "replace") for b in _as_bytes(col).to_pylist()]
    return col.cast(pa.string()).to_pylist()


def is_int_list_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` holds lists of integers (list, large_list, fixed_size_list, list_view)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t):
        return pa.types.is_integer(t.value_type)
    return False


def _column(batch: pa.RecordBatch, name: str, what: str) -> pa.Array:
    if name not in batch.schema.names:
        shard = _meta(batch).get(META_SHARD, "<batch>")
        raise KeyError(f"{shard}: no {what} column {name!r} (columns: {', '.join(batch.schema.names)})")
    return batch.column(name)


def _part_name(batch: pa.RecordBatch) -> str:
    md = _meta(batch)
    if META_PART in md:
        return md[META_PART]
    # Batches from other IO: name the part after the content, so re-runs give the same name.
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema.remove_metadata()) as w:
        w.write_batch(batch.replace_schema_metadata(None))
    return "h" + hashlib.sha1(sink.getvalue().to_pybytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------------- #
# Reading
# ---------------------------------------------------------------------------------------------------------------- #
class _ReadUnitFn(beam.DoFn):
    def process(self, unit: pio.WorkUnit) -> Iterable[pa.RecordBatch]:
        clock = _Clock()
        meta = {META_PART: unit.name, META_SHARD: unit.path, META_ROW_OFFSET: str(unit.row_offset)}
        try:
            table = pio.read_unit(unit)
        except Exception as e:
            if unit.num_rows < 0:
                raise pio.PipelineInputError(f"{unit.path}: unreadable: {e}") from e
            _LOG.warning("%s: unit %s unreadable, %d records go to rejects: %s", unit.path, unit.name, unit.num_rows, e)
            reason = f"read_error: {type(e).__name__}: {e}"
            batch = pa.RecordBatch.from_arrays([pa.array([reason] * unit.num_rows, pa.string())], [REJECT_COLUMN])
            meta.update(_add_time({}, "read", clock))
            yield batch.replace_schema_metadata(meta)
            return
        if table.num_rows == 0:
            return
        batch = _as_record_batch(table)
        meta.update(_add_time({}, "read", clock))
        # The input's own schema metadata (pandas, huggingface features) would describe the wrong columns later.
        yield batch.replace_schema_metadata(meta)


class ReadShards(beam.PTransform):
    """Reads Parquet / Arrow IPC shards as one ``RecordBatch`` per work unit.

    Planning (listing files, reading footers, checking columns) happens when the transform is applied, so a missing
    file or column fails before any work starts. Units are reshuffled so that workers share them.

    Args:
        inputs: Files, directories or globs (local or any Beam filesystem). Ignored if ``units`` is given.
        units: A precomputed plan (see :func:`pipelines.io.plan_units`).
        required_columns: Columns every file must have.
        unit_rows: Target rows per work unit.
        unit_bytes: Target uncompressed bytes per work unit.
    """

    def __init__(
        self,
        inputs: Sequence[str] | str | None = None,
        *,
        units: Sequence[pio.WorkUnit] | None = None,
        required_columns: Sequence[str] = (),
        unit_rows: int = 10_000,
        unit_bytes: int = 64 << 20,
    ) -> None:
        super().__init__()
        if units is None and inputs is None:
            raise ValueError("ReadShards needs inputs or units")
        self._specs = None if inputs is None else ([inputs] if isinstance(inputs, str) else list(inputs))
        self._required = tuple(required_columns)
        self._unit_rows = unit_rows
        self._unit_bytes = unit_bytes
        self._units = None if units is None else sorted(units)

    @property
    def units(self) -> list[pio.WorkUnit]:
        """The work units, planned from the inputs' footers on first access (on the driver, before any work)."""
        if self._units is None:
            infos = [pio.inspect_file(p) for p in pio.discover_inputs(self._specs)]
            for info in infos:
                missing = [c for c in self._required if c not in info.schema.names]
                if missing:
                    raise pio.PipelineInputError(
                        f"{info.path}: no column {missing[0]!r} (columns: {', '.join(info.schema.names)})"
                    )
            self._units = pio.plan_units(infos, unit_rows=self._unit_rows, unit_bytes=self._unit_bytes)
        return self._units

    def expand(self, pbegin):  # noqa: D102 - Beam's hook, documented on the class
        return (
            pbegin
            | "create_units" >> beam.Create(self.units)
            | "spread_units" >> beam.Reshuffle()
            | "read_unit" >> beam.ParDo(_ReadUnitFn())
        )


# ---------------------------------------------------------------------------------------------------------------- #
# Tokenizing
# ---------------------------------------------------------------------------------------------------------------- #
def _encode_texts(
    tok, texts: list[str], chunk: int, backend: str = "auto"
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Encode texts; a chunk that fails is retried text by text and the failing texts are reported, not raised."""
    from pipelines.tokenizer import encode_batch

    values: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    errors: dict[int, str] = {}
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        try:
            v, o = encode_batch(tok, part, backend=backend)
            values.append(v)
            lengths.append(np.diff(o))
            continue
        except Exception:  # one bad text must not sink its neighbours: find it
            pass
        for j, text in enumerate(part):
            try:
                v, o = encode_batch(tok, [text], backend=backend)
            except Exception as e:
                errors[start + j] = f"{type(e).__name__}: {e}"
                v, o = np.zeros(0, np.int32), np.zeros(2, np.int64)
            values.append(v)
            lengths.append(np.diff(o))
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(all_lengths, out=offsets[1:])
    flat = np.concatenate(values) if values else np.zeros(0, np.int32)
    return flat.astype(np.int32, copy=False), offsets, errors


#: Tokenizers loaded in this process, by (spec, file stamp): Dask's runner calls ``DoFn.setup`` for every bundle
#: (one per work unit), so loading once per worker process saves a tokenizer load (~0.1 s for GPT-2) per unit.
_TOKENIZERS: dict[tuple, object] = {}


def _worker_tokenizer(spec: str | None):
    """The tokenizer for ``spec``, loaded once per worker process (reloaded if its file changed)."""
    from pipelines.tokenizer import TOKENIZER_FILE, load_tokenizer

    stamp: tuple = ()
    if spec is not None:
        path = os.path.join(spec, TOKENIZER_FILE) if os.path.isdir(spec) else spec
        if os.path.isfile(path):
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size)
    key = (spec, stamp)
    tok = _TOKENIZERS.get(key)
    if tok is None:
        clock = _Clock()
        tok = load_tokenizer(spec)
        _TOKENIZERS.clear()  # keep one: a worker runs one pipeline
        _TOKENIZERS[key] = tok
        _LOG.info("worker %d: tokenizer loaded in %.2f s", os.getpid(), clock.elapsed()[0])
    return tok


class _TokenizeFn(beam.DoFn):
    def __init__(
        self,
        *,
        tokenizer: str | None,
        text_column: str,
        output_column: str,
        response_column: str | None,
        keep_text: bool,
        chunk_size: int,
        backend: str = "auto",
    ) -> None:
        self._tokenizer_spec = tokenizer
        self._backend = backend
        self._text_column = text_column
        self._output_column = output_column
        self._response_column = response_column
        self._keep_text = keep_text
        self._chunk = chunk_size
        self._tok = None

    def setup(self) -> None:
        from pipelines.tokenizer import encoding_backend

        self._tok = _worker_tokenizer(self._tokenizer_spec)
        clock = _Clock()
        backend = encoding_backend(self._tok, self._backend)  # proves (or refuses) the tiktoken twin once
        _LOG.info("worker %d: tokenizer encodes with %s (checked in %.2f s)", os.getpid(), backend, clock.elapsed()[0])

    def _tokenize(
        self,
        batch: pa.RecordBatch,
        name: str,
        reasons: list[str | None],
        *,
        null_code: str,
        utf8_code: str,
        err_code: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        col = _column(batch, name, "text")
        if not is_text_type(col.type):
            shard = _meta(batch).get(META_SHARD, "<batch>")
            raise TypeError(f"{shard}: column {name!r} has type {col.type}, expected a string or binary type")
        texts, bad_utf8 = _decode_texts(col)
        ok_idx = []
        for i, text in enumerate(texts):
            if reasons[i] is not None:
                continue
            if i in bad_utf8:
                reasons[i] = f"{utf8_code}: column {name!r} is not valid UTF-8 at {bad_utf8[i]}"
            elif text is None:
                reasons[i] = f"{null_code}: column {name!r} is null"
            elif text == "" and null_code == "null_text":
                reasons[i] = f"empty_text: column {name!r} is empty"
            else:
                ok_idx.append(i)
        values, offsets, errors = _encode_texts(self._tok, [texts[i] for i in ok_idx], self._chunk, self._backend)
        if errors:
            keep = np.ones(len(ok_idx), dtype=bool)
            for j, msg in errors.items():
                reasons[ok_idx[j]] = f"{err_code}: {msg}"
                keep[j] = False
            lengths = np.diff(offsets)
            starts = offsets[:-1]
            values = (
                np.concatenate([values[starts[j] : starts[j] + lengths[j]] for j in np.flatnonzero(keep)])
                if keep.any()
                else np.zeros(0, np.int32)
            )
            offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
            ok_idx = [i for j, i in enumerate(ok_idx) if keep[j]]
        ok = np.zeros(batch.num_rows, dtype=bool)
        ok[ok_idx] = True
        return values, offsets, ok

    def process(self, element: pa.RecordBatch | pa.Table) -> Iterable[pa.RecordBatch]:
        clock = _Clock()
        batch = _as_record_batch(element)
        reasons = _reasons(batch)
        if all(r is not None for r in reasons):  # nothing to tokenize (e.g. an unreadable unit)
            yield batch
            return
        values, offsets, ok = self._tokenize(
            batch,
            self._text_column,
            reasons,
            null_code="null_text",
            utf8_code="invalid_utf8",
            err_code="tokenize_error",
        )
        add = {}
        drop = [] if self._keep_text else [self._text_column]
        if self._response_column is not None:
            rv, ro, rok = self._tokenize(
                batch,
                self._response_column,
                reasons,
                null_code="null_response",
                utf8_code="invalid_utf8_response",
                err_code="tokenize_response_error",
            )
            # Rows rejected only for their response: drop their text tokens from the flat arrays.
            both = ok & rok
            values, offsets = _select(values, offsets, both[ok])
            rv, ro = _select(rv, ro, both[rok])
            ok = both
            add["response_ids"] = _ids_array(rv, ro, ok)
            add["response_length"] = _int_column(np.diff(ro), ok)
            if not self._keep_text:
                drop.append(self._response_column)
        add = {self._output_column: _ids_array(values, offsets, ok), **add}
        add[REJECT_COLUMN] = pa.array(reasons, pa.string())
        meta = _add_time(_meta(batch), "tokenize", clock)
        yield _rebuild(batch, drop=drop, add=add, meta=meta)


def _select(values: np.ndarray, offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the records of a flat batch where ``keep`` is true."""
    if keep.all():
        return values, offsets
    lengths = np.diff(offsets)
    mask = np.repeat(keep, lengths)
    new_offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=new_offsets[1:])
    return values[mask], new_offsets


class TokenizeText(beam.PTransform):
    """Tokenizes a text column into ``input_ids`` (``list<int32>``), batch by batch.

    Null texts are rejected as ``null_text``, empty ones as ``empty_text`` (whitespace-only texts are tokenized:
    whitespace is content), bytes that are not UTF-8 as ``invalid_utf8`` (binary columns, or invalid bytes under a
    string type), texts the tokenizer fails on as ``tokenize_error``; the response column's rejects have their own
    codes (``null_response``, ``invalid_utf8_response``, ``tokenize_response_error``). The text column is dropped
    unless ``keep_text``. See ``docs/rejects.md``.

    Args:
        tokenizer: Anything :func:`pipelines.tokenizer.load_tokenizer` accepts (a path or hub name; ``None`` for the
            bundled default). Loaded once per worker in ``DoFn.setup``.
        text_column: The column to tokenize (a string type, or a binary type holding UTF-8).
        output_column: Where the ids go.
        response_column: Optional second text column tokenized into ``response_ids`` (never compressed).
        keep_text: Keep the text column(s) in the output.
        chunk_size: Texts per tokenizer call.
        backend: Which library encodes (``pipelines.tokenizer.TOKENIZER_BACKENDS``; see
            :func:`pipelines.tokenizer.encode_batch`). The ids are the same under every choice.
    """

    def __init__(
        self,
        tokenizer: str | None = None,
        *,
        text_column: str = "text",
        output_column: str = IDS_COLUMN,
        response_column: str | None = None,
        keep_text: bool = False,
        chunk_size: int = 256,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self._fn = _TokenizeFn(
            tokenizer=None if tokenizer is None else str(tokenizer),
            text_column=text_column,
            output_column=output_column,
            response_column=response_column,
            keep_text=keep_text,
            chunk_size=chunk_size,
            backend=backend,
        )

    def expand(self, pcoll):  # noqa: D102 - Beam's hook, documented on the class
        return pcoll | "tokenize" >> beam.ParDo(self._fn)


# ---------------------------------------------------------------------------------------------------------------- #
# Compressing
# ---------------------------------------------------------------------------------------------------------------- #
#: Seconds after which a worker's warm-up says it is compiling (a load from Numba's cache takes about 1 s).
_COMPILE_NOTICE_S = 5.0


def _warm(codec: Codec) -> None:
    """Compile (or load from cache) the codec's kernels once per worker, outside the timed path."""
    clock = _Clock()
    sample = np.array([5, 6, 7, 5, 6, 7, 5, 6, 7, 1], dtype=np.int32)
    offsets = np.array([0, sample.size], dtype=np.int64)
    cache = _numba_cache()
    # A cold compile takes minutes and prints nothing until it is done: say what is happening.
    notice = threading.Timer(
        _COMPILE_NOTICE_S,
        _LOG.info,
        (
            "worker %d: compiling the codec kernels (once per environment, 1-4 min of one core; later processes "
            "load them from Numba's cache %s)",
            os.getpid(),
            cache,
        ),
    )
    notice.daemon = True
    notice.start()
    try:
        cv, co, _ = codec.compress_batch_with_sizes(sample, offsets)
        codec.verify_status(sample, offsets, cv, co)
        codec.dictionary_sizes(cv, co)
    finally:
        notice.cancel()
    wall = clock.elapsed()[0]
    if wall > 0.01:  # the first call in this process: compiled, or loaded from Numba's on-disk cache
        _LOG.info("worker %d: codec kernels ready in %.2f s (Numba cache %s)", os.getpid(), wall, cache)


def _numba_cache() -> str:
    import numba

    return numba.config.CACHE_DIR or "beside the sources"


class _CompressFn(beam.DoFn):
    def __init__(
        self,
        *,
        codec: Codec | None,
        base_id: int,
        ids_column: str,
        max_tokens: int | None,
        keep_original: bool,
        threads: int | None,
    ) -> None:
        self._codec = codec
        self._base_id = base_id
        self._ids_column = ids_column
        self._max_tokens = max_tokens
        self._keep_original = keep_original
        self._threads = threads
        self._pool = None

    def setup(self) -> None:
        if self._codec is not None:
            from pipelines.tokenizer import available_cpus

            _warm(self._codec)
            n = self._threads or available_cpus()
            self._n_threads = n
            if n > 1:
                # The codec's kernels release the GIL (nogil): record groups compress in parallel threads.
                self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ltsc-compress")

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _compress_all(self, values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_records = offsets.size - 1
        if self._pool is None or values.size < _PARALLEL_MIN_TOKENS or n_records < 2:
            return self._codec.compress_batch_with_sizes(values, offsets)
        # Contiguous record groups of about equal token counts; records are independent, so the output does not
        # depend on the grouping.
        k = min(n_records, 4 * self._n_threads)
        cuts = np.searchsorted(offsets, np.linspace(0, values.size, k + 1)[1:-1], side="left")
        bounds = np.unique(np.concatenate([[0], cuts, [n_records]]))
        groups = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

        def one(ab: tuple[int, int]):
            a, b = ab
            return self._codec.compress_batch_with_sizes(
                values[offsets[a] : offsets[b]], offsets[a : b + 1] - offsets[a]
            )

        parts = list(self._pool.map(one, groups))
        cv = np.concatenate([p[0] for p in parts])
        lengths = np.concatenate([np.diff(p[1]) for p in parts])
        co = np.zeros(n_records + 1, np.int64)
        np.cumsum(lengths, out=co[1:])
        return cv, co, np.concatenate([p[2] for p in parts])

    def _validate(self, col: pa.Array, reasons: list[str | None]) -> np.ndarray:
        """Mark null, null-element, out-of-range and too-long records; return the mask of good ones."""
        n = len(col)
        ok = np.array([r is None for r in reasons], dtype=bool)
        nulls = col.is_null().to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(ok & nulls):
            reasons[i] = f"null_ids: column {self._ids_column!r} is null"
        ok &= ~nulls
        flat = pc.list_flatten(col)
        parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        null_ids = flat.is_null().to_numpy(zero_copy_only=False) if flat.null_count else np.zeros(len(flat), bool)
        for pos in np.flatnonzero(null_ids):
            i = parents[pos]
            if ok[i]:
                reasons[i] = f"invalid_ids: null id at position {int(pos - starts[i])}"
                ok[i] = False
        values = pc.fill_null(flat, 0).to_numpy(zero_copy_only=False) if len(flat) else np.zeros(0, np.int64)
        # Unsigned ids stay unsigned: a uint64 id >= 2**63 must not wrap to a negative (or a valid) int64.
        values = values.astype(np.uint64 if values.dtype.kind == "u" else np.int64, copy=False)
        bad = ~null_ids & ((values < 0) | (values >= self._base_id))
        if bad.any():
            for pos in np.flatnonzero(bad):
                i = parents[pos]
                if ok[i]:
                    reasons[i] = (
                        f"invalid_ids: id {int(values[pos])} at position {int(pos - starts[i])} "
                        f"is outside [0, {self._base_id})"
                    )
                    ok[i] = False
        if self._max_tokens is not None:
            for i in np.flatnonzero(ok & (lengths > self._max_tokens)):
                reasons[i] = f"too_long: {int(lengths[i])} tokens > max_tokens {self._max_tokens}"
                ok[i] = False
        assert ok.size == n
        return ok

    def _compress(
        self, values: np.ndarray, offsets: np.ndarray, reasons: list[str | None], ok_idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Compress good records; returns (values, offsets, entries, keep) where keep marks records that compressed."""
        if self._codec is None:
            return values, offsets, np.zeros(offsets.size - 1, np.int32), np.ones(offsets.size - 1, bool)
        try:
            cv, co, entries = self._compress_all(values, offsets)
            return cv, co, entries, np.ones(offsets.size - 1, bool)
        except Exception:  # isolate the record the codec refused; the others still compress
            pass
        keep = np.ones(offsets.size - 1, bool)
        outs, lens, ents = [], [], []
        for j in range(offsets.size - 1):
            rec = values[offsets[j] : offsets[j + 1]]
            try:
                cv, co, e = self._codec.compress_batch_with_sizes(rec, np.array([0, rec.size], np.int64))
            except Exception as e:
                reasons[ok_idx[j]] = f"compress_error: {type(e).__name__}: {e}"
                keep[j] = False
                continue
            outs.append(cv)
            lens.append(cv.size)
            ents.append(int(e[0]))
        co = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(np.asarray(lens, np.int64), out=co[1:])
        cv = np.concatenate(outs).astype(np.int32) if outs else np.zeros(0, np.int32)
        return cv, co, np.asarray(ents, np.int32), keep

    def process(self, element: pa.RecordBatch | pa.Table) -> Iterable[pa.RecordBatch]:
        clock = _Clock()
        batch = _as_record_batch(element)
        reasons = _reasons(batch)
        if all(r is not None for r in reasons):
            yield batch
            return
        col = _column(batch, self._ids_column, "ids")
        if not is_int_list_type(col.type):
            shard = _meta(batch).get(META_SHARD, "<batch>")
            raise TypeError(f"{shard}: column {self._ids_column!r} has type {col.type}, expected a list of integers")
        ok = self._validate(col, reasons)
        good = col.filter(pa.array(ok))
        values, offsets = _flat(good)
        values = values.astype(np.int32)  # range-checked against base_id above
        ok_idx = np.flatnonzero(ok)
        cv, co, entries, keep = self._compress(values, offsets, reasons, ok_idx)
        if not keep.all():
            values, offsets = _select(values, offsets, keep)
            ok[ok_idx[~keep]] = False
        add = {
            IDS_COLUMN: _ids_array(cv, co, ok),
            "original_length": _int_column(np.diff(offsets), ok),
            "compressed_length": _int_column(np.diff(co), ok),
            "dictionary_entries": _int_column(entries, ok),
        }
        if self._keep_original:
            add[ORIGINAL_IDS_COLUMN] = _ids_array(values, offsets, ok)
        add[REJECT_COLUMN] = pa.array(reasons, pa.string())
        drop = [self._ids_column] if self._ids_column != IDS_COLUMN else []
        meta = _add_time(_meta(batch), "compress", clock)
        yield _rebuild(batch, drop=drop, add=add, meta=meta)


class CompressTokens(beam.PTransform):
    """Compresses a ``list<int>`` id column with an LTSC codec into ``input_ids`` (format v1).

    Adds ``original_length``, ``compressed_length`` and ``dictionary_entries``. Records with null ids
    (``null_ids``), ids outside ``[0, base_id)`` (``invalid_ids``) or more than ``max_tokens`` ids (``too_long``)
    are rejected. With ``codec=None`` the ids are validated and passed through uncompressed (the ``--strategy none``
    baseline). The original ids are kept in a hidden column for :class:`VerifyRoundTrip` unless
    ``keep_original=False``.

    Args:
        codec: The codec (its JIT is warmed in ``DoFn.setup``), or ``None`` for no compression.
        base_id: Upper bound (exclusive) of valid ids; defaults to ``codec.base_id`` (required without a codec).
        ids_column: The column holding the ids (``input_ids`` after :class:`TokenizeText`); replaced by
            ``input_ids``.
        max_tokens: Reject records longer than this.
        keep_original: Keep the original ids for verification.
        threads: Threads compressing one batch (the codec releases the GIL); ``None``: the CPUs available to the
            worker. Output does not depend on it.
    """

    def __init__(
        self,
        codec: Codec | None,
        *,
        base_id: int | None = None,
        ids_column: str = IDS_COLUMN,
        max_tokens: int | None = None,
        keep_original: bool = True,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if base_id is None:
            if codec is None:
                raise ValueError("CompressTokens(None) needs base_id")
            base_id = codec.base_id
        if codec is not None and base_id != codec.base_id:
            raise ValueError(f"base_id {base_id} differs from the codec's {codec.base_id}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self._fn = _CompressFn(
            codec=codec,
            base_id=base_id,
            ids_column=ids_column,
            max_tokens=max_tokens,
            keep_original=keep_original,
            threads=threads,
        )

    def expand(self, pcoll):  # noqa: D102 - Beam's hook, documented on the class
        return pcoll | "compress" >> beam.ParDo(self._fn)


# ---------------------------------------------------------------------------------------------------------------- #
# Verifying
# ---------------------------------------------------------------------------------------------------------------- #
def _equal_records(ov: np.ndarray, oo: np.ndarray, cv: np.ndarray, co: np.ndarray) -> np.ndarray:
    """Per record, whether two flat batches hold equal records (no codec involved)."""
    n = oo.size - 1
    same_len = np.diff(oo) == np.diff(co)
    out = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(same_len):
        out[i] = np.array_equal(ov[oo[i] : oo[i + 1]], cv[co[i] : co[i + 1]])
    return out


class _VerifyFn(beam.DoFn):
    def __init__(self, *, codec: Codec | None) -> None:
        self._codec = codec
        self._mismatches = Metrics.counter("ltsc", "verify_mismatches")

    def setup(self) -> None:
        if self._codec is not None:
            _warm(self._codec)

    def process(self, element: pa.RecordBatch | pa.Table) -> Iterable[pa.RecordBatch]:
        clock = _Clock()
        batch = _as_record_batch(element)
        reasons = _reasons(batch)
        if all(r is not None for r in reasons):
            yield _rebuild(batch, drop=[ORIGINAL_IDS_COLUMN])
            return
        if ORIGINAL_IDS_COLUMN not in batch.schema.names:
            raise KeyError("VerifyRoundTrip needs the original ids: apply CompressTokens(keep_original=True) before it")
        ok = np.array([r is None for r in reasons], dtype=bool)
        okarr = pa.array(ok)
        ov, oo = _flat(batch.column(ORIGINAL_IDS_COLUMN).filter(okarr))
        cv, co = _flat(_column(batch, IDS_COLUMN, "ids").filter(okarr))
        ov, cv = ov.astype(np.int32), cv.astype(np.int32)
        if self._codec is None:
            status = np.where(_equal_records(ov, oo, cv, co), 0, -1)
        else:
            status = self._codec.verify_status(ov, oo, cv, co)
        ok_idx = np.flatnonzero(ok)
        for j in np.flatnonzero(status != 0):
            what = "decodes to other ids" if status[j] == -1 else describe_status(int(status[j]))
            reasons[ok_idx[j]] = f"verify_mismatch: {what}"
            self._mismatches.inc()
            _LOG.error("verification failed for %s row %d: %s", _meta(batch).get(META_SHARD), ok_idx[j], what)
        meta = _add_time(_meta(batch), "verify", clock)
        reject = pa.array(reasons, pa.string())
        yield _rebuild(batch, drop=[ORIGINAL_IDS_COLUMN], add={REJECT_COLUMN: reject}, meta=meta)


class VerifyRoundTrip(beam.PTransform):
    """Decompresses every compressed record and compares it with its original ids.

    A record that does not round-trip is a codec bug: it is rejected as ``verify_mismatch`` (with the decoder's
    reason) and counted in ``stats.json``; the CLI fails the run at the end unless ``--allow-mismatch``. The hidden
    original-ids column is dropped.

    Args:
        codec: The codec used by :class:`CompressTokens` (``None``: records must equal their originals).
    """

    def __init__(self, codec: Codec | None) -> None:
        super().__init__()
        self._fn = _VerifyFn(codec=codec)

    def expand(self, pcoll):  # noqa: D102 - Beam's hook, documented on the class
        return pcoll | "verify" >> beam.ParDo(self._fn)


# ---------------------------------------------------------------------------------------------------------------- #
# Writing
# ---------------------------------------------------------------------------------------------------------------- #
@dataclass(frozen=True, slots=True)
class UnitResult:
    """What :class:`WriteShards` reports for one batch: the input of the finalize step.

    Attributes:
        part: Part-file stem (``"00003-00001"`` for units planned by :class:`ReadShards`).
        shard: Source file, or ``""`` when unknown.
        data_file: Name of the data part file under ``OUT/data``, or ``None`` if no record was written.
        rejects_file: Name of the rejects file under ``OUT/rejects``, or ``None``.
        stats: The batch's statistics.
        timings: Wall seconds per stage.
        schema: The data part's schema serialized as IPC bytes (``None`` without data).
        cpu: Process CPU seconds per stage (approximate when several workers share a process).
    """

    part: str
    shard: str
    data_file: str | None
    rejects_file: str | None
    stats: CompressionStats
    timings: dict[str, float] = field(default_factory=dict)
    schema: bytes | None = None
    cpu: dict[str, float] = field(default_factory=dict)


class _WriteFn(beam.DoFn):
    def __init__(self, *, output: str, fmt: str, source_column: str | None, expected_units: int | None) -> None:
        self._output = output
        self._expected = expected_units
        self._fmt = fmt
        self._source_column = source_column
        self._records = Metrics.counter("ltsc", "records_out")
        self._rejected = Metrics.counter("ltsc", "records_rejected")
        self._tokens_in = Metrics.counter("ltsc", "tokens_in")
        self._tokens_out = Metrics.counter("ltsc", "tokens_out")

    def setup(self) -> None:
        self._data_dir = pio.join(self._output, "data")
        self._rejects_dir = pio.join(self._output, "rejects")
        pio.makedirs(self._data_dir)
        pio.makedirs(self._rejects_dir)
        self._t_start = time.perf_counter()
        self._done = {"units": 0, "records": 0, "tokens": 0}
        self._last_log = 0.0

    def process(self, element: pa.RecordBatch | pa.Table) -> Iterable[UnitResult]:
        clock = _Clock()
        batch = _as_record_batch(element)
        md = _meta(batch)
        part = _part_name(batch)
        shard = md.get(META_SHARD, "")
        row_offset = int(md.get(META_ROW_OFFSET, "0"))
        reasons = _reasons(batch)
        ok = np.array([r is None for r in reasons], dtype=bool)
        plain = batch.drop_columns([c for c in INTERNAL_COLUMNS if c in batch.schema.names])
        plain = plain.replace_schema_metadata(None)
        sources = None
        if self._source_column and self._source_column in plain.schema.names:
            sources = _labels(plain.column(self._source_column))

        data_file = schema_bytes = None
        stats = CompressionStats()
        if ok.any():
            data = pa.Table.from_batches([plain.filter(pa.array(ok))])
            for name in ("original_length", "compressed_length", "dictionary_entries"):
                if name not in data.schema.names:
                    raise KeyError(f"WriteShards needs column {name!r}: apply CompressTokens first")
            data_file = f"part-{part}.{self._fmt}"
            pio.write_atomic(pio.join(self._data_dir, data_file), pio.table_to_bytes(data, self._fmt))
            stats = CompressionStats.from_batch(
                data.column("original_length").to_numpy(),
                data.column("compressed_length").to_numpy(),
                data.column("dictionary_entries").to_numpy(),
                sources=None if sources is None else [s for s, k in zip(sources, ok, strict=True) if k],
            )
            schema_bytes = data.schema.serialize().to_pybytes()
        rejects_file = None
        if not ok.all():
            bad = np.flatnonzero(~ok)
            codes = [reasons[i].split(":", 1)[0] for i in bad]
            details = [reasons[i].split(":", 1)[1].strip() if ":" in reasons[i] else "" for i in bad]
            passthrough = plain.drop_columns([c for c in OUTPUT_COLUMNS if c in plain.schema.names])
            rejects = pa.Table.from_batches([passthrough.take(pa.array(bad))])
            info = [
                pa.array([shard] * len(bad), pa.string()),
                pa.array(bad.astype(np.int64) + row_offset, pa.int64()),
                pa.array(codes, pa.string()),
                pa.array(details, pa.string()),
            ]
            rejects = pa.Table.from_arrays(
                info + rejects.columns, names=list(REJECT_INFO_COLUMNS) + rejects.schema.names
            )
            rejects_file = f"part-{part}.parquet"
            pio.write_atomic(pio.join(self._rejects_dir, rejects_file), pio.table_to_bytes(rejects, "parquet"))
            stats = stats.merge(
                CompressionStats.from_rejects(codes, sources=None if sources is None else [sources[i] for i in bad])
            )
        timings = {s: float(md.get(META_TIME + s, 0.0)) for s in STAGES}
        cpu = {s: float(md.get(META_CPU + s, 0.0)) for s in STAGES}
        wall_write, cpu_write = clock.elapsed()
        timings["write"] += wall_write
        cpu["write"] += cpu_write
        self._report(stats)
        yield UnitResult(part, shard, data_file, rejects_file, stats, timings, schema_bytes, cpu)

    def _report(self, stats: CompressionStats) -> None:
        self._records.inc(stats.records_out)
        self._rejected.inc(stats.records_rejected)
        self._tokens_in.inc(stats.tokens_in)
        self._tokens_out.inc(stats.tokens_out)
        self._done["units"] += 1
        self._done["records"] += stats.records_in
        self._done["tokens"] += stats.tokens_in
        elapsed = max(time.perf_counter() - self._t_start, 1e-9)
        if elapsed - self._last_log >= 5.0 or self._done["units"] == 1:
            self._last_log = elapsed
            _LOG.info(
                "progress (this worker): %d%s units, %d records (%.0f/s), %d tokens (%.0f/s)",
                self._done["units"],
                f" of {self._expected}" if self._expected else "",
                self._done["records"],
                self._done["records"] / elapsed,
                self._done["tokens"],
                self._done["tokens"] / elapsed,
            )


class WriteShards(beam.PTransform):
    """Writes each batch's good records to ``OUT/data/part-<part>.<fmt>`` and its rejects to ``OUT/rejects/``.

    Writing happens in ``DoFn.process`` (to a temporary name, then renamed), so every engine writes the same
    deterministic files and a retried bundle rewrites them identically. Emits one :class:`UnitResult` per batch.

    Args:
        output: The output directory (any Beam filesystem).
        fmt: ``"parquet"`` or ``"arrow"`` (Arrow IPC stream, the format `datasets` memory-maps).
        source_column: Column used for the per-source breakdown in the stats, if present.
        expected_units: Number of batches expected in total, for progress logs.
    """

    def __init__(
        self,
        output: str,
        *,
        fmt: str = "parquet",
        source_column: str | None = "source",
        expected_units: int | None = None,
    ) -> None:
        super().__init__()
        if fmt not in ("parquet", "arrow"):
            raise ValueError(f"fmt must be 'parquet' or 'arrow', got {fmt!r}")
        self._fn = _WriteFn(output=output, fmt=fmt, source_column=source_column, expected_units=expected_units)

    def expand(self, pcoll):  # noqa: D102 - Beam's hook, documented on the class
        return pcoll | "write_part" >> beam.ParDo(self._fn)
