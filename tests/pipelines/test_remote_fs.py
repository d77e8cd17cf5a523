"""The pipeline on a non-local Beam filesystem (an object-store-like test scheme): same bytes as a local run."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import io as pio
from pipelines.run import run
from tests.pipelines.conftest import corpus_table
from tests.pipelines.objectstore import to_url


def test_object_store_paths_give_the_same_output_as_local(tmp_path, parquet_dir):
    assert not pio.is_local(to_url(parquet_dir))
    local_out = tmp_path / "local"
    remote_out = tmp_path / "remote"
    args = ["--unit-rows", "3", "--no-report"]
    local = run(["--input", str(parquet_dir), "--output", str(local_out), *args], print_summary=False)
    remote = run(["--input", to_url(parquet_dir), "--output", to_url(remote_out), *args], print_summary=False)
    assert remote["records_in"] == local["records_in"] == 14
    assert remote["units"] == local["units"] == 6
    for sub in ("data", "rejects", "tokenizer"):
        names = sorted(p.name for p in (local_out / sub).iterdir())
        assert names == sorted(p.name for p in (remote_out / sub).iterdir())
        for name in names:
            if sub == "rejects":  # they name their shard, whose URL differs; everything else is equal
                a, b = (pq.read_table(d / sub / name) for d in (local_out, remote_out))
                assert a.column("ltsc_shard").to_pylist() == [str(parquet_dir / "shard-01.parquet")]
                assert b.column("ltsc_shard").to_pylist() == [to_url(parquet_dir / "shard-01.parquet")]
                assert a.drop_columns(["ltsc_shard"]).equals(b.drop_columns(["ltsc_shard"]))
                continue
            assert (local_out / sub / name).read_bytes() == (remote_out / sub / name).read_bytes(), (sub, name)
    assert (remote_out / "_SUCCESS").exists()
    stats = json.loads((remote_out / "stats.json").read_text())
    assert stats["tokens_out"] == local["tokens_out"]


def test_object_store_arrow_stream_input_is_one_unit_per_file(tmp_path):
    table = corpus_table(1, bad=False)
    path = tmp_path / "in" / "s.arrow"
    path.parent.mkdir()
    with pa.ipc.new_stream(str(path), table.schema) as w:
        w.write_table(table, max_chunksize=2)
    summary = run(
        ["--input", to_url(tmp_path / "in"), "--output", to_url(tmp_path / "out"), "--no-report"], print_summary=False
    )
    # Row counts of a remote Arrow file are unknown without reading it all: the whole file is one unit.
    assert summary["units"] == 1
    assert summary["records_out"] == table.num_rows
