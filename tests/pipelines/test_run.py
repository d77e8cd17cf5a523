"""End-to-end runs of ltsc-pipeline (in-process via run(argv), FnApiRunner) on tiny Parquet and Arrow shards."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ltsc import Codec, reserved_token_names
from pipelines import run as run_mod
from pipelines.io import PipelineInputError
from pipelines.run import main, run
from tests.pipelines.conftest import TEXTS, corpus_table
from tests.pipelines.test_transforms import _CorruptingCodec

GPT2_BASE = 50257


def _run(inp, out, *extra) -> dict:
    inputs = [str(p) for p in (inp if isinstance(inp, list | tuple) else [inp])]
    return run(["--input", *inputs, "--output", str(out), "--no-report", *map(str, extra)], print_summary=False)


def _read_dir(directory: Path) -> pa.Table | None:
    files = sorted(directory.glob("part-*"))
    if not files:
        return None
    if files[0].suffix == ".arrow":
        tables = []
        for f in files:
            with pa.ipc.open_stream(pa.memory_map(str(f))) as r:
                tables.append(r.read_all())
        return pa.concat_tables(tables)
    return pa.concat_tables([pq.read_table(f) for f in files])


def _check_output(out: Path, inputs: pa.Table, tokenizer, summary: dict, *, compressed: bool = True) -> pa.Table:
    """The invariants every complete output satisfies; returns the data table."""
    from pipelines.tokenizer import encode_batch

    assert (out / "_SUCCESS").exists()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == summary["records_in"]
    data = _read_dir(out / "data")
    rejects = _read_dir(out / "rejects")
    n_rejects = 0 if rejects is None else rejects.num_rows

    # Counts add up, and records_in is every input row.
    assert stats["records_in"] == inputs.num_rows
    assert stats["records_in"] == stats["records_out"] + stats["records_rejected"]
    assert stats["records_out"] == data.num_rows
    assert stats["records_rejected"] == n_rejects

    # Every output row decompresses to the tokenization of its input text.
    codec = Codec(base_id=stats["base_id"], pool_size=stats["pool_size"])
    text_by_id = dict(zip(inputs.column("id").to_pylist(), inputs.column("text").to_pylist(), strict=True))
    texts = [text_by_id[i] for i in data.column("id").to_pylist()]
    values, offsets = encode_batch(tokenizer, texts)
    for i, seq in enumerate(data.column("input_ids").to_pylist()):
        expected = values[offsets[i] : offsets[i + 1]].tolist()
        restored = codec.decompress(np.array(seq, np.int32)).tolist() if compressed else seq
        assert restored == expected, f"row {i} ({data.column('id')[i]}) does not round-trip"

    # Stats equal values recomputed from the output files.
    orig = np.array(data.column("original_length").to_pylist(), np.int64)
    comp = np.array([len(s) for s in data.column("input_ids").to_pylist()], np.int64)
    assert comp.tolist() == data.column("compressed_length").to_pylist()
    assert orig.tolist() == np.diff(offsets).tolist()
    assert stats["tokens_in"] == int(orig.sum())
    assert stats["tokens_out"] == int(comp.sum())
    assert stats["squares_in"] == int((orig**2).sum())
    assert stats["squares_out"] == int((comp**2).sum())
    assert stats["token_reduction"] == pytest.approx(1 - comp.sum() / orig.sum())
    assert stats["attention_reduction"] == pytest.approx(1 - (comp**2).sum() / (orig**2).sum())
    if compressed:
        flat = np.concatenate([np.array(s, np.int32) for s in data.column("input_ids").to_pylist()])
        sizes = codec.dictionary_sizes(flat, np.concatenate([[0], np.cumsum(comp)]))
        assert sizes.tolist() == data.column("dictionary_entries").to_pylist()
    assert stats["dictionary_entries"] == sum(data.column("dictionary_entries").to_pylist())
    assert sum(stats["reduction_histogram"]["counts"]) == int((orig > 0).sum())
    assert sum(stats["length_in_histogram"]["counts"]) == data.num_rows
    if rejects is not None:
        assert stats["reject_reasons"] == dict(Counter(rejects.column("ltsc_reason").to_pylist()))
    per_source = Counter(data.column("source").to_pylist())
    assert {k: v["records_out"] for k, v in stats["per_source"].items() if v["records_out"]} == dict(per_source)
    assert set(stats["stage_seconds"]) == {"read", "tokenize", "compress", "verify", "write"}
    assert stats["wall_time_s"] > 0 and stats["tokens_per_s"] > 0
    return data


def test_parquet_end_to_end(tmp_path, parquet_dir, tokenizer):
    out = tmp_path / "out"
    inputs = pq.read_table(sorted(parquet_dir.glob("*.parquet"))).combine_chunks()
    summary = _run(parquet_dir, out, "--unit-rows", "3")
    data = _check_output(out, inputs, tokenizer, summary)
    # 2 files of 7 rows in row groups of 3 -> units of one row group each.
    assert summary["units"] == 6
    assert summary["records_rejected"] == 2
    assert summary["reject_reasons"] == {"empty_text": 1, "null_text": 1}
    assert summary["token_reduction"] > 0.2
    # Passthrough columns unchanged, text dropped.
    assert data.column_names == ["id", "source", "score", "input_ids", "original_length", "compressed_length",
                                 "dictionary_entries"]  # fmt: skip
    by_id = dict(zip(inputs.column("id").to_pylist(), inputs.column("score").to_pylist(), strict=True))
    pairs = zip(data.column("id").to_pylist(), data.column("score").to_pylist(), strict=True)
    assert all(by_id[i] == s for i, s in pairs)
    rejects = _read_dir(out / "rejects").to_pylist()
    assert sorted((r["id"], r["ltsc_reason"], Path(r["ltsc_shard"]).name, r["ltsc_row"]) for r in rejects) == [
        ("r12", "null_text", "shard-01.parquet", 5),
        ("r13", "empty_text", "shard-01.parquet", 6),
    ]

    # The extended tokenizer maps the reserved ids to their names.
    from pipelines.tokenizer import load_tokenizer

    ext = load_tokenizer(out / "tokenizer")
    names = reserved_token_names(512)
    assert [ext.id_to_token(GPT2_BASE + k) for k in (0, 1, 2, 513)] == [names[0], names[1], names[2], names[513]]
    assert ext.id_to_token(GPT2_BASE + 1) == "</ltsc:dict>"

    # load_dataset(OUT) works and gives the same rows.
    import datasets

    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == data.num_rows
    assert sorted(ds["id"]) == sorted(data.column("id").to_pylist())
    assert "report.png" not in {p.name for p in out.iterdir()}

    # A complete output is refused; --overwrite gives byte-identical part files, also with 2 threads.
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.glob("*/part-*"))}
    with pytest.raises(FileExistsError, match="--overwrite"):
        _run(parquet_dir, out, "--unit-rows", "3")
    assert main(["--input", str(parquet_dir), "--output", str(out)]) == 2
    _run(parquet_dir, out, "--unit-rows", "3", "--overwrite", "--direct_num_workers", "2",
         "--direct_running_mode", "multi_threading")  # fmt: skip
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.glob("*/part-*"))}
    assert list(after) == list(before) and after == before


def test_stale_parts_are_removed_on_overwrite(tmp_path, parquet_dir):
    out = tmp_path / "out"
    _run(parquet_dir, out, "--unit-rows", "3")
    # Fewer units the second time: the old extra parts must not survive.
    _run(parquet_dir, out, "--unit-rows", "100", "--overwrite")
    assert sorted(p.name for p in (out / "data").iterdir()) == ["part-00000-00000.parquet", "part-00001-00000.parquet"]
    assert not list((out / "data").glob(".tmp-*"))


def _write_arrow(path: Path, table: pa.Table, *, stream: bool, batch_rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = pa.ipc.new_stream if stream else pa.ipc.new_file
    with opener(str(path), table.schema) as w:
        w.write_table(table, max_chunksize=batch_rows)


def test_arrow_file_stream_and_save_to_disk_inputs_with_arrow_output(tmp_path, tokenizer):
    import datasets

    table = corpus_table(1, bad=False)
    _write_arrow(tmp_path / "in" / "a.arrow", table.slice(0, 3), stream=False, batch_rows=2)
    _write_arrow(tmp_path / "in" / "b.arrow", table.slice(3, 3), stream=True, batch_rows=1)
    saved = tmp_path / "in" / "saved"
    datasets.Dataset.from_dict(
        {k: v for k, v in corpus_table(1, bad=False).to_pydict().items()} | {"id": [f"s{i}" for i in range(len(TEXTS))]}
    ).save_to_disk(str(saved))
    inputs = pa.concat_tables(
        [table, pa.table({**table.to_pydict(), "id": [f"s{i}" for i in range(len(TEXTS))]}, schema=table.schema)]
    )
    out = tmp_path / "out"
    summary = _run(tmp_path / "in", out, "--format", "arrow", "--unit-rows", "2")
    data = _check_output(out, inputs, tokenizer, summary)
    assert summary["records_out"] == 2 * len(TEXTS)
    assert summary["rejects_files"] == []
    # a.arrow: batches 2+1 -> 2 units; b.arrow: 3 batches of 1 -> 2 units; saved: 1 unit.
    assert summary["units"] == 5
    assert sorted(p.name for p in (out / "data").glob("*.arrow")) == [
        "part-00000-00000.arrow",
        "part-00000-00001.arrow",
        "part-00001-00000.arrow",
        "part-00001-00001.arrow",
        "part-00002-00000.arrow",
    ]
    from_disk = datasets.load_from_disk(str(out / "data"))
    assert from_disk.num_rows == data.num_rows
    as_dict = datasets.load_from_disk(str(out))
    assert list(as_dict) == ["data"] and as_dict["data"]["id"] == from_disk["id"]
    assert from_disk.features["input_ids"].feature.dtype == "int32"
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert sorted(ds["id"]) == sorted(data.column("id").to_pylist())


def test_strategy_none_writes_plain_tokens(tmp_path, parquet_dir, tokenizer):
    out = tmp_path / "out"
    inputs = pq.read_table(sorted(parquet_dir.glob("*.parquet"))).combine_chunks()
    summary = _run(parquet_dir, out, "--strategy", "none")
    data = _check_output(out, inputs, tokenizer, summary, compressed=False)
    assert summary["tokens_in"] == summary["tokens_out"]
    assert summary["token_reduction"] == 0.0
    assert set(data.column("dictionary_entries").to_pylist()) == {0}


def test_ids_column_response_column_and_keep_text(tmp_path, tokenizer):
    from pipelines.tokenizer import encode_batch

    texts = TEXTS[:4]
    values, offsets = encode_batch(tokenizer, texts)
    toks = [values[offsets[i] : offsets[i + 1]].astype(np.int64).tolist() for i in range(len(texts))]
    table = pa.table(
        {
            "id": ["a", "b", "c", "d"],
            "tokens": pa.array(toks + [], pa.list_(pa.int64())),
            "text": texts,
            "answer": ["x", "hello world", None, ""],
        }
    )
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "t.parquet")
    out = tmp_path / "out"
    summary = _run(tmp_path / "in" / "t.parquet", out, "--ids-column", "tokens", "--keep-text")
    data = pq.read_table(out / "data" / "part-00000-00000.parquet")
    assert data.column_names == ["id", "text", "answer", "input_ids", "original_length", "compressed_length",
                                 "dictionary_entries"]  # fmt: skip
    codec = Codec(base_id=GPT2_BASE)
    assert [codec.decompress(np.array(s, np.int32)).tolist() for s in data.column("input_ids").to_pylist()] == toks
    assert summary["records_out"] == 4

    out2 = tmp_path / "out2"
    summary = _run(tmp_path / "in" / "t.parquet", out2, "--response-column", "answer")
    data = pq.read_table(out2 / "data" / "part-00000-00000.parquet")
    assert data.column("id").to_pylist() == ["a", "b", "d"]
    assert data.column("response_ids").to_pylist() == [[87], [31373, 995], []]
    assert data.column("response_length").to_pylist() == [1, 2, 0]
    assert "answer" not in data.column_names and "text" not in data.column_names
    assert summary["reject_reasons"] == {"null_response": 1}


def test_verification_mismatch_fails_the_run_unless_allowed(tmp_path, parquet_dir, monkeypatch):
    real_plan = run_mod.plan

    def broken_plan(config):
        p = real_plan(config)
        return run_mod.Plan(p.units, _CorruptingCodec(base_id=p.base_id), p.base_id, p.files)

    monkeypatch.setattr(run_mod, "plan", broken_plan)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="failed round-trip verification"):
        _run(parquet_dir, out)
    assert not (out / "_SUCCESS").exists()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["verify_mismatches"] == stats["records_rejected"] - 2 > 0
    assert stats["records_in"] == stats["records_out"] + stats["records_rejected"]
    reasons = Counter(_read_dir(out / "rejects").column("ltsc_reason").to_pylist())
    assert reasons["verify_mismatch"] == stats["verify_mismatches"]

    summary = _run(parquet_dir, out, "--allow-mismatch")
    assert summary["verify_mismatches"] == stats["verify_mismatches"]
    assert (out / "_SUCCESS").exists()


def test_input_errors_name_file_and_column(tmp_path, parquet_dir, capsys):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "nocol.parquet")
    with pytest.raises(PipelineInputError, match=r"nocol\.parquet: no text column 'text'"):
        _run(tmp_path / "nocol.parquet", tmp_path / "o1")
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "int.parquet")
    with pytest.raises(PipelineInputError, match=r"int\.parquet: text column 'text' has type int64"):
        _run(tmp_path / "int.parquet", tmp_path / "o2")
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1" + b"\0" * 64)
    with pytest.raises(PipelineInputError, match=r"corrupt\.parquet: unreadable parquet file"):
        _run(tmp_path / "corrupt.parquet", tmp_path / "o3")
    with pytest.raises(PipelineInputError, match="input not found"):
        _run(tmp_path / "missing.parquet", tmp_path / "o4")
    assert main(["--input", str(tmp_path / "nocol.parquet"), "--output", str(tmp_path / "o5")]) == 2
    assert "no text column 'text'" in capsys.readouterr().err
    assert not (tmp_path / "o1" / "_SUCCESS").exists()


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--input", "--output", "--text-column", "--tokenizer", "--strategy", "--pool-size", "--max-len",
                 "--format", "--overwrite", "--keep-text", "--ids-column", "--response-column", "--allow-mismatch",
                 "--max-tokens", "--seed", "--search", "--tokenizer-backend", "--runner"):  # fmt: skip
        assert flag in text, flag


def test_config_validation():
    for bad in (
        {"inputs": ()},
        {"strategy": "zip"},
        {"fmt": "csv"},
        {"pool_size": 0},
        {"max_len": 1},
        {"max_tokens": 0},
        {"seed": -1},
        {"search": -1},
        {"unit_rows": 0},
        {"response_column": "text"},
        {"tokenizer_backend": "sentencepiece"},
    ):
        kwargs = {"inputs": ("x",), "output": "o"} | bad
        with pytest.raises(ValueError):
            run_mod.PipelineConfig(**kwargs)


def test_sample_corpus_main_job(tmp_path, tokenizer):
    from pipelines.assets import default_sample_input

    out = tmp_path / "out"
    summary = run(["--output", str(out)], print_summary=False)  # the bundled sample is the default input
    assert summary["config"]["inputs"] == [default_sample_input()]
    files = sorted(Path(p) for p in summary["config"]["files"])
    inputs = (
        pq.read_table(files).combine_chunks()
        if len(files) == 1
        else pa.concat_tables([pq.read_table(f) for f in files])
    )
    _check_output(out, inputs, tokenizer, summary)
    assert summary["records_rejected"] == 0
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "load_dataset" in (out / "README.md").read_text()


def test_pipeline_graph_has_a_single_leaf(tmp_path, parquet_dir):
    """Engines like Dask run only the last leaf: everything must flow into the finalize step."""
    from apache_beam.pipeline import PipelineVisitor
    from apache_beam.testing import test_pipeline

    class Leaves(PipelineVisitor):
        def __init__(self):
            self.outputs: dict[str, list[int]] = {}
            self.consumed: set[int] = set()

        def visit_transform(self, node):
            self.consumed.update(id(i) for i in node.inputs)
            self.consumed.update(id(s.pvalue) for s in node.side_inputs)
            self.outputs[node.full_label] = [id(o) for o in node.outputs.values()]

    config, _ = run_mod.parse_args(["--input", str(parquet_dir), "--output", str(tmp_path / "o")])
    p = test_pipeline.TestPipeline(runner="FnApiRunner")
    run_mod.build_pipeline(p, config)
    v = Leaves()
    p.visit(v)
    leaves = [label for label, outs in v.outputs.items() if all(o not in v.consumed for o in outs)]
    assert leaves == ["finalize_dataset/finalize"]


def test_base_id_other_than_vocab_size_skips_tokenizer(tmp_path, parquet_dir):
    out = tmp_path / "out"
    summary = _run(parquet_dir, out, "--base-id", "60000", "--pool-size", "16")
    assert summary["base_id"] == 60000
    assert summary["records_out"] == 12
    assert not (out / "tokenizer").exists()
    data = _read_dir(out / "data")
    codec = Codec(base_id=60000, pool_size=16)
    flat = [t for s in data.column("input_ids").to_pylist() for t in s]
    assert max(flat) < 60000 + 2 + 16 and max(flat) >= 60000  # meta ids sit above the custom base
    assert [len(codec.decompress(np.array(s, np.int32))) for s in data.column("input_ids").to_pylist()] == (
        data.column("original_length").to_pylist()
    )


def test_unreadable_row_group_becomes_read_error_rejects(tmp_path):
    table = corpus_table(1, bad=False)  # 6 rows
    path = tmp_path / "in" / "damaged.parquet"
    path.parent.mkdir()
    pq.write_table(table, path, row_group_size=3, compression="zstd")
    md = pq.ParquetFile(path).metadata
    text_chunk = md.row_group(0).column(table.schema.get_field_index("text"))
    raw = bytearray(path.read_bytes())
    # Inside the zstd frame of the text column's first page (past the page header): decompression fails.
    start = (text_chunk.dictionary_page_offset or text_chunk.data_page_offset) + 40
    raw[start : start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(raw))
    out = tmp_path / "out"
    summary = _run(path, out, "--unit-rows", "3")
    assert summary["records_in"] == 6
    assert summary["records_out"] == 3
    assert summary["reject_reasons"] == {"read_error": 3}
    rejects = _read_dir(out / "rejects")
    assert rejects.column("ltsc_row").to_pylist() == [0, 1, 2]
    assert all(Path(s).name == "damaged.parquet" for s in rejects.column("ltsc_shard").to_pylist())
    assert _read_dir(out / "data").column("id").to_pylist() == ["r3", "r4", "r5"]


def test_output_inside_input_directory_is_not_read_back(tmp_path, parquet_dir):
    out = parquet_dir / "out"
    first = _run(parquet_dir, out)
    second = _run(parquet_dir, out, "--overwrite")
    assert second["records_in"] == first["records_in"] == 14
    assert all(not f.startswith(str(out)) for f in second["config"]["files"])


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_all_records_rejected_still_completes(tmp_path, fmt):
    (tmp_path / "in").mkdir()
    pq.write_table(
        pa.table({"id": ["a", "b"], "text": pa.array([None, ""], pa.string())}), tmp_path / "in" / "x.parquet"
    )
    out = tmp_path / "out"
    summary = _run(tmp_path / "in", out, "--format", fmt)
    assert (summary["records_in"], summary["records_out"], summary["records_rejected"]) == (2, 0, 2)
    assert summary["data_files"] == []
    assert summary["token_reduction"] == 0.0
    assert (out / "_SUCCESS").exists()
    assert _read_dir(out / "rejects").column("ltsc_reason").to_pylist() == ["null_text", "empty_text"]


def test_dask_runner_writes_the_same_bytes(tmp_path, parquet_dir):
    """DaskRunner runs only the last leaf and drops finish_bundle output: the pipeline must not depend on either."""
    pytest.importorskip("dask.distributed")
    direct, dask = tmp_path / "direct", tmp_path / "dask"
    _run(parquet_dir, direct, "--unit-rows", "3")
    summary = _run(parquet_dir, dask, "--unit-rows", "3", "--runner", "apache_beam.runners.dask.dask_runner.DaskRunner")
    assert summary["records_in"] == summary["records_out"] + summary["records_rejected"] == 14
    for sub in ("data", "rejects"):
        names = sorted(p.name for p in (direct / sub).iterdir())
        assert names and names == sorted(p.name for p in (dask / sub).iterdir())
        assert all((direct / sub / n).read_bytes() == (dask / sub / n).read_bytes() for n in names)
    assert (dask / "_SUCCESS").exists()


def test_tokenizer_backends_write_the_same_bytes(tmp_path, parquet_dir):
    """tiktoken (chosen by auto for the bundled GPT-2) and tokenizers give the same ids, so the same output."""
    from pipelines.tokenizer import encoding_backend, load_tokenizer

    assert encoding_backend(load_tokenizer()) == "tiktoken"
    outs = {b: tmp_path / b for b in ("auto", "tiktoken", "tokenizers")}
    for backend, out in outs.items():
        summary = _run(parquet_dir, out, "--unit-rows", "3", "--tokenizer-backend", backend)
        assert summary["records_in"] == summary["records_out"] + summary["records_rejected"] == 14
        assert summary["config"]["tokenizer_backend"] == backend
    for sub in ("data", "rejects"):
        names = sorted(p.name for p in (outs["tokenizers"] / sub).iterdir())
        assert names
        for backend in ("auto", "tiktoken"):
            assert names == sorted(p.name for p in (outs[backend] / sub).iterdir())
            assert all(
                (outs[backend] / sub / n).read_bytes() == (outs["tokenizers"] / sub / n).read_bytes() for n in names
            )


def test_tiktoken_backend_refused_before_any_work(tmp_path, parquet_dir):
    """Forcing tiktoken on a tokenizer whose ids it cannot prove fails at planning, saying why; auto falls back."""
    from pipelines.tokenizer import NotTiktokenEquivalent, default_tokenizer_path

    config = json.loads((Path(default_tokenizer_path()) / "tokenizer.json").read_text("utf-8"))
    config["normalizer"] = {"type": "NFC"}
    path = tmp_path / "nfc.json"
    path.write_text(json.dumps(config), "utf-8")
    with pytest.raises(NotTiktokenEquivalent, match="normalizes text"):
        _run(parquet_dir, tmp_path / "forced", "--tokenizer", path, "--tokenizer-backend", "tiktoken")
    assert not (tmp_path / "forced").exists()
    summary = _run(parquet_dir, tmp_path / "auto", "--tokenizer", path, "--base-id", GPT2_BASE)
    assert summary["records_in"] == summary["records_out"] + summary["records_rejected"] == 14
