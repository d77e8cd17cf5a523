"""Each public transform under TestPipeline + assert_that, with specific expected values."""

from __future__ import annotations

import os
import time

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from ltsc import Codec
from pipelines import transforms as T
from pipelines.transforms import (
    ORIGINAL_IDS_COLUMN,
    REJECT_COLUMN,
    CompressTokens,
    ReadShards,
    TokenizeText,
    VerifyRoundTrip,
    WriteShards,
)

GPT2_BASE = 50257
REPEAT = [5, 6, 7, 5, 6, 7, 5, 6, 7, 5, 6, 7]


def _pipeline() -> test_pipeline.TestPipeline:
    return test_pipeline.TestPipeline(runner="FnApiRunner")


def _rows(batch: pa.RecordBatch, *columns: str) -> list[tuple]:
    d = batch.to_pydict()
    return list(zip(*(d[c] for c in columns), strict=True))


def _flat_rows(columns):
    def fn(batch):
        return _rows(batch, *columns)

    return beam.FlatMap(fn)


def test_read_shards_units_rows_and_provenance(tmp_path):
    table = pa.table({"id": [f"r{i}" for i in range(7)], "text": [f"t{i}" for i in range(7)]})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=2)  # row groups of 2, 2, 2, 1
    pq.write_table(table.slice(0, 3), tmp_path / "b.parquet", row_group_size=3)
    read = ReadShards([str(tmp_path)], required_columns=["text"], unit_rows=4)
    # a.parquet: units of row groups [0, 2) and [2, 4); b.parquet: one unit.
    assert [(u.name, u.start, u.stop, u.row_offset, u.num_rows) for u in read.units] == [
        ("00000-00000", 0, 2, 0, 4),
        ("00000-00001", 2, 4, 4, 3),
        ("00001-00000", 0, 1, 0, 3),
    ]
    with _pipeline() as p:
        batches = p | read
        meta = batches | "meta" >> beam.Map(
            lambda b: (
                T._meta(b)[T.META_PART],
                int(T._meta(b)[T.META_ROW_OFFSET]),
                b.num_rows,
                b.column("id")[0].as_py(),
            )
        )
        assert_that(
            meta,
            equal_to([("00000-00000", 0, 4, "r0"), ("00000-00001", 4, 3, "r4"), ("00001-00000", 0, 3, "r0")]),
        )


def test_read_shards_missing_column_fails_before_work(tmp_path):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "a.parquet")
    read = ReadShards([str(tmp_path / "a.parquet")], required_columns=["text"])
    with pytest.raises(ValueError, match=r"a\.parquet: no column 'text'"):
        _ = _pipeline() | read  # planning runs when the transform is applied, before any work


def test_tokenize_text_ids_rejects_and_columns(tokenizer_path):
    batch = pa.RecordBatch.from_pydict(
        {"id": ["a", "b", "c", "d"], "text": ["hello world", None, "", "x"], "n": [1, 2, 3, 4]}
    )
    with _pipeline() as p:
        out = p | beam.Create([batch]) | TokenizeText(tokenizer_path)
        assert_that(
            out | _flat_rows(["id", "input_ids", REJECT_COLUMN, "n"]),
            equal_to(
                [
                    ("a", [31373, 995], None, 1),
                    ("b", None, "null_text: column 'text' is null", 2),
                    ("c", None, "empty_text: column 'text' is empty", 3),
                    ("d", [87], None, 4),
                ]
            ),
        )
        assert_that(
            out | "names" >> beam.Map(lambda b: sorted(b.schema.names)),
            equal_to([sorted(["id", "n", "input_ids", REJECT_COLUMN])]),
            label="text_dropped",
        )


def test_tokenize_text_response_and_keep_text(tokenizer_path):
    batch = pa.RecordBatch.from_pydict({"prompt": ["hello world", "x", "x"], "answer": ["x", None, ""]})
    with _pipeline() as p:
        out = (
            p
            | beam.Create([batch])
            | TokenizeText(tokenizer_path, text_column="prompt", response_column="answer", keep_text=True)
        )
        assert_that(
            out | _flat_rows(["prompt", "input_ids", "response_ids", "response_length", REJECT_COLUMN]),
            equal_to(
                [
                    ("hello world", [31373, 995], [87], 1, None),
                    ("x", None, None, None, "null_response: column 'answer' is null"),
                    ("x", [87], [], 0, None),
                ]
            ),
        )


def test_compress_tokens_values_and_rejects():
    codec = Codec(base_id=GPT2_BASE)
    expected = codec.compress(np.array(REPEAT, np.int32)).tolist()
    assert len(expected) < len(REPEAT)
    batch = pa.RecordBatch.from_pydict(
        {
            "k": [0, 1, 2, 3, 4],
            "toks": pa.array([REPEAT, [1, 60000, 2], None, [1, 2, 3], list(range(20))], pa.list_(pa.int64())),
        }
    )
    with _pipeline() as p:
        out = (
            p
            | beam.Create([batch])
            | CompressTokens(codec, ids_column="toks", max_tokens=12)
            | _flat_rows(
                ["k", "input_ids", "original_length", "compressed_length", "dictionary_entries", REJECT_COLUMN]
            )
        )
        assert_that(
            out,
            equal_to(
                [
                    (0, expected, 12, len(expected), 1, None),
                    (1, None, None, None, None, "invalid_ids: id 60000 at position 1 is outside [0, 50257)"),
                    (2, None, None, None, None, "null_ids: column 'toks' is null"),
                    (3, [1, 2, 3], 3, 3, 0, None),
                    (4, None, None, None, None, "too_long: 20 tokens > max_tokens 12"),
                ]
            ),
        )


def test_compress_tokens_without_codec_passes_ids_through():
    batch = pa.RecordBatch.from_pydict({"input_ids": pa.array([REPEAT, [4]], pa.list_(pa.int32()))})
    with _pipeline() as p:
        out = p | beam.Create([batch]) | CompressTokens(None, base_id=10)
        assert_that(
            out | _flat_rows(["input_ids", ORIGINAL_IDS_COLUMN, "compressed_length", "dictionary_entries"]),
            equal_to([(REPEAT, REPEAT, 12, 0), ([4], [4], 1, 0)]),
        )


class _CorruptingCodec(Codec):
    """Flips the last token of every compressed record: what a codec bug looks like to the verifier."""

    def compress_batch_with_sizes(self, values, offsets):
        cv, co, n = super().compress_batch_with_sizes(values, offsets)
        cv = cv.copy()
        cv[co[1:][np.diff(co) > 0] - 1] ^= 1
        return cv, co, n


def test_verify_round_trip_passes_good_and_rejects_corrupt_records():
    codec = Codec(base_id=GPT2_BASE)
    bad = _CorruptingCodec(base_id=GPT2_BASE)
    batch = pa.RecordBatch.from_pydict({"k": [0, 1], "input_ids": pa.array([REPEAT, [1, 2, 3]], pa.list_(pa.int32()))})
    with _pipeline() as p:
        src = p | beam.Create([batch])
        good = src | "good_compress" >> CompressTokens(codec) | "good_verify" >> VerifyRoundTrip(codec)
        assert_that(
            good | "good_rows" >> _flat_rows(["k", REJECT_COLUMN]),
            equal_to([(0, None), (1, None)]),
            label="good",
        )
        assert_that(
            good | "good_cols" >> beam.Map(lambda b: ORIGINAL_IDS_COLUMN in b.schema.names),
            equal_to([False]),
            label="original_dropped",
        )
        broken = src | "bad_compress" >> CompressTokens(bad) | "bad_verify" >> VerifyRoundTrip(bad)
        assert_that(
            broken
            | "bad_rows" >> beam.FlatMap(lambda b: [r.split(":")[0] for r in b.column(REJECT_COLUMN).to_pylist()]),
            equal_to(["verify_mismatch", "verify_mismatch"]),
            label="bad",
        )


def test_write_shards_files_and_unit_result(tmp_path):
    codec = Codec(base_id=GPT2_BASE)
    batch = pa.RecordBatch.from_pydict(
        {
            "id": ["a", "b", "c"],
            "source": ["s1", "s2", "s1"],
            "input_ids": pa.array([REPEAT, [70000], [1, 2]], pa.list_(pa.int32())),
        }
    ).replace_schema_metadata({T.META_PART: "00007-00002", T.META_SHARD: "in.parquet", T.META_ROW_OFFSET: "10"})
    out = str(tmp_path / "out")
    with _pipeline() as p:
        results = (
            p
            | beam.Create([batch])
            | CompressTokens(codec)
            | VerifyRoundTrip(codec)
            | WriteShards(out)
            | beam.Map(
                lambda r: (
                    r.part,
                    r.data_file,
                    r.rejects_file,
                    r.stats.records_out,
                    r.stats.records_rejected,
                    r.stats.tokens_in,
                    r.stats.per_source["s2"]["records_rejected"],
                )
            )
        )
        assert_that(
            results,
            equal_to([("00007-00002", "part-00007-00002.parquet", "part-00007-00002.parquet", 2, 1, 14, 1)]),
        )
    data = pq.read_table(tmp_path / "out" / "data" / "part-00007-00002.parquet")
    assert data.column_names == [
        "id",
        "source",
        "input_ids",
        "original_length",
        "compressed_length",
        "dictionary_entries",
    ]
    assert data.column("id").to_pylist() == ["a", "c"]
    assert codec.decompress(np.array(data.column("input_ids")[0].as_py(), np.int32)).tolist() == REPEAT
    assert data.schema.metadata is None or b"ltsc.part" not in data.schema.metadata
    rejects = pq.read_table(tmp_path / "out" / "rejects" / "part-00007-00002.parquet").to_pylist()
    assert rejects == [
        {
            "ltsc_shard": "in.parquet",
            "ltsc_row": 11,
            "ltsc_reason": "invalid_ids",
            "ltsc_detail": "id 70000 at position 0 is outside [0, 50257)",
            "id": "b",
            "source": "s2",
        }
    ]


def test_write_shards_names_foreign_batches_by_content(tmp_path):
    batch = pa.RecordBatch.from_pydict({"input_ids": pa.array([[1, 2]], pa.list_(pa.int32()))})
    names = []
    for run in range(2):
        with _pipeline() as p:
            _ = (
                p
                | beam.Create([batch])
                | CompressTokens(None, base_id=10)
                | VerifyRoundTrip(None)
                | WriteShards(str(tmp_path / f"o{run}"))
            )
        names.append(sorted(x.name for x in (tmp_path / f"o{run}" / "data").iterdir()))
    assert names[0] == names[1]
    assert len(names[0]) == 1 and names[0][0].startswith("part-h")


def test_compress_tokens_threads_do_not_change_output():
    rng = np.random.default_rng(7)
    records = [np.tile(rng.integers(0, 1000, size=rng.integers(5, 40)), rng.integers(2, 30)) for _ in range(300)]
    assert sum(r.size for r in records) > 50_000  # above the parallel threshold
    batch = pa.RecordBatch.from_pydict({"input_ids": pa.array([r.tolist() for r in records], pa.list_(pa.int32()))})
    codec = Codec(base_id=GPT2_BASE)
    expected = [codec.compress(r).tolist() for r in records]
    with _pipeline() as p:
        src = p | beam.Create([batch])
        for threads in (1, 3):
            out = src | f"compress_{threads}" >> CompressTokens(codec, threads=threads)
            assert_that(
                out | f"ids_{threads}" >> beam.Map(lambda b: b.column("input_ids").to_pylist()),
                equal_to([expected]),
                label=f"threads_{threads}",
            )


class _FlakyTokenizer:
    """Encodes each character as its code point; fails on texts containing 'BAD' (like a tokenizer error)."""

    class _Enc:
        def __init__(self, ids):
            self.ids = ids

    def encode_batch_fast(self, texts, add_special_tokens=False):
        if any("BAD" in t for t in texts):
            raise RuntimeError("cannot encode")
        return [self._Enc([ord(c) for c in t]) for t in texts]

    encode_batch = encode_batch_fast


def test_tokenize_errors_isolate_the_failing_text():
    values, offsets, errors = T._encode_texts(_FlakyTokenizer(), ["ab", "xBADx", "c", "BAD"], chunk=3)
    assert errors == {1: "RuntimeError: cannot encode", 3: "RuntimeError: cannot encode"}
    # Failing texts get empty rows; the others keep their ids, in order.
    assert values.tolist() == [97, 98, 99]
    assert offsets.tolist() == [0, 2, 2, 3, 3]


def test_dictionary_encoded_and_large_text_columns(tokenizer_path):
    texts = pa.array(["hello world", "x", "hello world"])
    batch = pa.RecordBatch.from_arrays([texts.dictionary_encode(), texts.cast(pa.large_string())], ["text", "big"])
    with _pipeline() as p:
        src = p | beam.Create([batch])
        for column in ("text", "big"):
            out = src | f"tok_{column}" >> TokenizeText(tokenizer_path, text_column=column)
            assert_that(
                out | f"ids_{column}" >> beam.Map(lambda b: b.column("input_ids").to_pylist()),
                equal_to([[[31373, 995], [87], [31373, 995]]]),
                label=f"ids_{column}",
            )
    assert not T.is_string_type(pa.int64()) and T.is_int_list_type(pa.large_list(pa.int16()))


class _SlowCodec:
    """Stands in for a codec whose kernels take ``delay`` seconds to compile on first use."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls: list[str] = []

    def compress_batch_with_sizes(self, values, offsets):
        time.sleep(self.delay)
        self.calls.append("compress")
        return values, offsets, np.zeros(offsets.size - 1, np.int32)

    def verify_status(self, *args):
        self.calls.append("verify")

    def dictionary_sizes(self, *args):
        self.calls.append("sizes")


@pytest.mark.parametrize(("delay", "notice_s", "said"), [(0.3, 0.05, True), (0.0, 5.0, False)])
def test_warm_up_says_it_is_compiling_only_when_it_takes_long(monkeypatch, caplog, delay, notice_s, said):
    monkeypatch.setattr(T, "_COMPILE_NOTICE_S", notice_s)
    codec = _SlowCodec(delay)
    with caplog.at_level("INFO", logger=T._LOG.name):
        T._warm(codec)
    assert codec.calls == ["compress", "verify", "sizes"]
    compiling = [r.getMessage() for r in caplog.records if "compiling the codec kernels" in r.getMessage()]
    assert len(compiling) == (1 if said else 0), compiling
    if said:
        assert f"worker {os.getpid()}:" in compiling[0]
