"""pipelines.io: discovery, format detection, unit planning, reading units, atomic writes."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import io as pio


def _table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"id": [f"r{i}" for i in range(start, start + n)], "text": ["t"] * n})


def _arrow(path, table, *, stream: bool, rows: int) -> None:
    with (pa.ipc.new_stream if stream else pa.ipc.new_file)(str(path), table.schema) as w:
        w.write_table(table, max_chunksize=rows)


def test_discover_directory_recursive_skips_hidden_and_markers(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "_tmp").mkdir()
    for rel in ("a.parquet", "sub/b.arrow", "sub/.c.parquet", "_tmp/d.parquet", "notes.txt", "_SUCCESS"):
        (tmp_path / rel).write_bytes(b"x")
    assert pio.discover_inputs([str(tmp_path)]) == [str(tmp_path / "a.parquet"), str(tmp_path / "sub" / "b.arrow")]


def test_discover_globs_files_and_dedup(tmp_path):
    for name in ("a.parquet", "b.parquet", "c.data"):
        (tmp_path / name).write_bytes(b"x")
    got = pio.discover_inputs([str(tmp_path / "*.parquet"), str(tmp_path / "c.data"), str(tmp_path / "a.parquet")])
    assert got == [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), str(tmp_path / "c.data")]


@pytest.mark.parametrize("spec", ["missing.parquet", "nothing-*.parquet"])
def test_discover_nothing_found_raises(tmp_path, spec):
    with pytest.raises(pio.PipelineInputError):
        pio.discover_inputs([str(tmp_path / spec)])
    with pytest.raises(pio.PipelineInputError, match="no input"):
        pio.discover_inputs([])


def test_detect_format_by_magic_not_name(tmp_path):
    pq.write_table(_table(2), tmp_path / "p.arrow")  # a Parquet file with a misleading name
    _arrow(tmp_path / "f.bin", _table(2), stream=False, rows=1)
    _arrow(tmp_path / "s.parquet", _table(2), stream=True, rows=1)
    (tmp_path / "junk.parquet").write_bytes(b"hello world, not data")
    assert pio.detect_format(str(tmp_path / "p.arrow")) == "parquet"
    assert pio.detect_format(str(tmp_path / "f.bin")) == "arrow_file"
    assert pio.detect_format(str(tmp_path / "s.parquet")) == "arrow_stream"
    with pytest.raises(pio.PipelineInputError, match=r"junk\.parquet: not a Parquet or Arrow IPC file"):
        pio.detect_format(str(tmp_path / "junk.parquet"))


def test_plan_units_by_rows_and_bytes():
    info = pio.FileInfo("f", "parquet", _table(0).schema, (3, 3, 3, 1), (10, 10, 100, 10))
    units = pio.plan_units([info, info], unit_rows=5, unit_bytes=1000)
    assert [(u.file_index, u.unit_index, u.start, u.stop, u.row_offset, u.num_rows) for u in units] == [
        (0, 0, 0, 2, 0, 6),
        (0, 1, 2, 4, 6, 4),
        (1, 0, 0, 2, 0, 6),
        (1, 1, 2, 4, 6, 4),
    ]
    by_bytes = pio.plan_units([info], unit_rows=100, unit_bytes=50)
    assert [(u.start, u.stop) for u in by_bytes] == [(0, 3), (3, 4)]
    remote = pio.FileInfo("gs://b/x.arrow", "arrow_stream", _table(0).schema, None, None)
    assert [(u.start, u.stop, u.num_rows) for u in pio.plan_units([remote], unit_rows=1, unit_bytes=1)] == [(0, -1, -1)]
    with pytest.raises(ValueError):
        pio.plan_units([info], unit_rows=0, unit_bytes=1)


@pytest.mark.parametrize("kind", ["parquet", "arrow_file", "arrow_stream"])
def test_read_unit_returns_exactly_the_planned_rows(tmp_path, kind):
    table = _table(7)
    path = tmp_path / "x"
    if kind == "parquet":
        pq.write_table(table, path, row_group_size=2)
    else:
        _arrow(path, table, stream=kind == "arrow_stream", rows=2)
    info = pio.inspect_file(str(path))
    assert info.kind == kind
    assert info.chunk_rows == (2, 2, 2, 1)
    units = pio.plan_units([info], unit_rows=3, unit_bytes=1 << 30)
    got = [pio.read_unit(u).column("id").to_pylist() for u in units]
    assert got == [["r0", "r1", "r2", "r3"], ["r4", "r5", "r6"]]
    assert [u.row_offset for u in units] == [0, 4]


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "part-00000-00000.parquet"
    pio.write_atomic(str(target), b"first")
    pio.write_atomic(str(target), b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_table_to_bytes_is_deterministic_and_round_trips():
    table = _table(5)
    for fmt in ("parquet", "arrow"):
        a, b = pio.table_to_bytes(table, fmt), pio.table_to_bytes(table, fmt)
        assert a == b
    assert pq.read_table(pa.BufferReader(pio.table_to_bytes(table, "parquet"))).equals(table)
    assert pa.ipc.open_stream(pio.table_to_bytes(table, "arrow")).read_all().equals(table)
    with pytest.raises(ValueError):
        pio.table_to_bytes(table, "csv")
