"""Input discovery, work units and atomic part-file writing, over Beam's FileSystems.

Inputs are Parquet files and Arrow IPC files (file and stream format, as `datasets` writes them with ``save_to_disk``
and in its cache), given as files, directories or globs, local or on any filesystem Beam's ``FileSystems`` handles
(gs://, s3://, hdfs:// with their extras). The format is detected from the file's magic bytes, not its name.

A :class:`WorkUnit` is a range of row groups (Parquet) or record batches (Arrow) of one file: large files split into
several units that different workers process. Units are planned from file footers only and sorted, so the plan, the
part-file names and hence the output depend only on the input bytes and the flags.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.faults import maybe_inject as maybe_inject_fault

__all__ = [
    "PipelineInputError",
    "PipelineOutputError",
    "FileInfo",
    "WorkUnit",
    "discover_inputs",
    "detect_format",
    "inspect_file",
    "plan_units",
    "read_unit",
    "write_atomic",
    "check_output_writable",
    "table_to_bytes",
    "join",
    "is_local",
]

PARQUET = "parquet"
ARROW_FILE = "arrow_file"
ARROW_STREAM = "arrow_stream"

#: File name endings picked up when a directory is given (globs and explicit paths accept any name).
DATA_SUFFIXES = (".parquet", ".arrow", ".ipc", ".feather", ".arrows")

_GLOB_CHARS = re.compile(r"[*?\[]")


class PipelineInputError(ValueError):
    """An input that cannot be processed at all: missing, unreadable, or lacking a required column."""


class PipelineOutputError(ValueError):
    """An output directory that cannot be created or written."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What planning learned about one input file from its footer / headers.

    Attributes:
        path: The file's path or URL.
        kind: ``"parquet"``, ``"arrow_file"`` or ``"arrow_stream"``.
        schema: The file's Arrow schema.
        chunk_rows: Rows per row group (Parquet) or record batch (Arrow); ``None`` when unknown without reading the
            whole file (remote Arrow files are then one unit).
        chunk_bytes: Approximate uncompressed bytes per chunk, parallel to ``chunk_rows``.
    """

    path: str
    kind: str
    schema: pa.Schema
    chunk_rows: tuple[int, ...] | None
    chunk_bytes: tuple[int, ...] | None

    @property
    def num_rows(self) -> int | None:
        """Total rows, or ``None`` when unknown."""
        return None if self.chunk_rows is None else sum(self.chunk_rows)


@dataclass(frozen=True, slots=True, order=True)
class WorkUnit:
    """A contiguous range of chunks (row groups or record batches) of one file.

    Attributes:
        file_index: Position of the file in the sorted input list.
        unit_index: Position of the unit within its file.
        path: The file's path or URL.
        kind: ``"parquet"``, ``"arrow_file"`` or ``"arrow_stream"``.
        start: First chunk (inclusive).
        stop: Last chunk (exclusive); ``-1`` means "to the end" (remote Arrow files).
        row_offset: Index within the file of the unit's first row.
        num_rows: Rows in the unit, ``-1`` when unknown before reading.
    """

    file_index: int
    unit_index: int
    path: str
    kind: str
    start: int
    stop: int
    row_offset: int
    num_rows: int

    @property
    def name(self) -> str:
        """Deterministic stem of the unit's part files, e.g. ``"00003-00001"``."""
        return f"{self.file_index:05d}-{self.unit_index:05d}"


def is_local(path: str) -> bool:
    """Whether ``path`` is on the local filesystem (no URL scheme)."""
    return FileSystems.get_scheme(path) in (None, "file")


def join(base: str, *parts: str) -> str:
    """Join path components with the separator of ``base``'s filesystem."""
    return FileSystems.join(base, *parts)


def _basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if not is_local(path) else os.path.basename(path)


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _match(pattern: str) -> list[str]:
    try:
        results = FileSystems.match([pattern])
    except Exception as e:  # Beam raises BeamIOError with per-pattern details
        raise PipelineInputError(f"cannot list {pattern!r}: {e}") from e
    return [m.path for m in results[0].metadata_list]


def _is_dir(spec: str) -> bool:
    if is_local(spec):
        return os.path.isdir(spec)
    return bool(_match(spec.rstrip("/") + "/**"))


def discover_inputs(specs: Sequence[str]) -> list[str]:
    """Expand input specs (files, directories, globs) into a sorted, de-duplicated list of data files.

    Directories are searched recursively for names ending in one of ``DATA_SUFFIXES``; names starting with ``.`` or
    ``_`` (temporary files, markers) are skipped there. Globs use Beam's syntax (``*`` within a path component, ``**``
    across components).

    Args:
        specs: Paths, directories or globs, local or URLs.

    Returns:
        Sorted unique file paths.

    Raises:
        PipelineInputError: If a spec matches nothing, or nothing at all is found.
    """
    if not specs:
        raise PipelineInputError("no input given")
    found: set[str] = set()
    for spec in specs:
        if _GLOB_CHARS.search(spec):
            paths = [p for p in _match(spec) if not _is_dir(p)]
        elif _is_dir(spec):
            root = spec.rstrip("/")
            pattern = root + "/**" if not is_local(spec) else os.path.join(root, "**")
            paths = [
                p
                for p in _match(pattern)
                if p.endswith(DATA_SUFFIXES) and not any(part.startswith((".", "_")) for part in _rel_parts(root, p))
            ]
        else:
            if not FileSystems.exists(spec):
                raise PipelineInputError(f"input not found: {spec}")
            paths = [spec]
        if not paths:
            raise PipelineInputError(f"no Parquet or Arrow files found for input {spec!r}")
        found.update(os.path.abspath(p) if is_local(p) else p for p in paths)
    return sorted(found)


def _rel_parts(root: str, path: str) -> list[str]:
    rel = path[len(root) :].lstrip("/").lstrip(os.sep)
    return re.split(r"[/\\]", rel)


def detect_format(path: str) -> str:
    """Detect a file's format from its first bytes.

    Returns:
        ``"parquet"`` (magic ``PAR1``), ``"arrow_file"`` (magic ``ARROW1``) or ``"arrow_stream"`` (an IPC message).

    Raises:
        PipelineInputError: If the file cannot be opened or is none of these.
    """
    try:
        with _open(path) as f:
            head = f.read(8)
    except Exception as e:
        raise PipelineInputError(f"{path}: cannot open: {e}") from e
    if not head:
        raise PipelineInputError(f"{path}: empty file (0 bytes), not a Parquet or Arrow IPC file")
    if head[:4] == b"PAR1":
        return PARQUET
    if head[:6] == b"ARROW1":
        return ARROW_FILE
    # Stream format: messages start with the continuation marker 0xFFFFFFFF (or, pre-1.0, a positive length).
    if head[:4] == b"\xff\xff\xff\xff" or (len(head) >= 4 and 0 < int.from_bytes(head[:4], "little") < 1 << 24):
        return ARROW_STREAM
    raise PipelineInputError(f"{path}: not a Parquet or Arrow IPC file (first bytes {head!r})")


def _arrow_source(path: str):
    return pa.memory_map(path, "r") if is_local(path) else _open(path)


def inspect_file(path: str) -> FileInfo:
    """Read a file's footer (Parquet) or batch headers (local Arrow) and return its :class:`FileInfo`.

    Raises:
        PipelineInputError: If the file is unreadable or corrupt, naming the file.
    """
    kind = detect_format(path)
    try:
        if kind == PARQUET:
            with _open(path) if not is_local(path) else open(path, "rb") as f:
                pf = pq.ParquetFile(f)
                md, schema = pf.metadata, pf.schema_arrow
                rows = tuple(md.row_group(i).num_rows for i in range(md.num_row_groups))
                nbytes = tuple(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
            return FileInfo(path, kind, schema, rows, nbytes)
        if not is_local(path):
            # Counting the rows of a remote Arrow file means reading all of it: leave that to the worker.
            with _open(path) as f:
                schema = (ipc.open_file(f) if kind == ARROW_FILE else ipc.open_stream(f)).schema
            return FileInfo(path, kind, schema, None, None)
        with pa.memory_map(path, "r") as src:
            if kind == ARROW_FILE:
                reader = ipc.open_file(src)
                batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            else:
                reader = ipc.open_stream(src)
                batches = list(reader)
            # Memory-mapped batches are zero-copy views: this touches headers, not data pages.
            return FileInfo(
                path,
                kind,
                reader.schema,
                tuple(b.num_rows for b in batches),
                tuple(b.nbytes for b in batches),
            )
    except PipelineInputError:
        raise
    except Exception as e:
        label = {PARQUET: "parquet file", ARROW_FILE: "arrow file", ARROW_STREAM: "arrow stream file"}[kind]
        raise PipelineInputError(f"{path}: unreadable {label}: {e}") from e


def plan_units(infos: Sequence[FileInfo], *, unit_rows: int, unit_bytes: int) -> list[WorkUnit]:
    """Group each file's chunks into work units of about ``unit_rows`` rows or ``unit_bytes`` bytes.

    A chunk (row group or record batch) is never split; a unit closes as soon as it reaches either bound.

    Args:
        infos: Files in their final order (their position is the file index).
        unit_rows: Row bound per unit.
        unit_bytes: Uncompressed byte bound per unit.

    Returns:
        Units sorted by (file index, unit index).
    """
    if unit_rows < 1 or unit_bytes < 1:
        raise ValueError("unit_rows and unit_bytes must be positive")
    units: list[WorkUnit] = []
    for fi, info in enumerate(infos):
        if info.chunk_rows is None:
            units.append(WorkUnit(fi, 0, info.path, info.kind, 0, -1, 0, -1))
            continue
        start, rows, nbytes, offset, ui = 0, 0, 0, 0, 0
        n = len(info.chunk_rows)
        for i in range(n):
            rows += info.chunk_rows[i]
            nbytes += info.chunk_bytes[i] if info.chunk_bytes else 0
            if rows >= unit_rows or nbytes >= unit_bytes or i == n - 1:
                units.append(WorkUnit(fi, ui, info.path, info.kind, start, i + 1, offset, rows))
                ui += 1
                offset += rows
                start, rows, nbytes = i + 1, 0, 0
        if n == 0:
            units.append(WorkUnit(fi, 0, info.path, info.kind, 0, 0, 0, 0))
    return sorted(units)


def read_unit(unit: WorkUnit) -> pa.Table:
    """Read one work unit as an Arrow table (all columns).

    Raises:
        OSError / pyarrow.ArrowException: When the file's data is unreadable; callers turn this into rejects.
    """
    if unit.kind == PARQUET:
        with _open(unit.path) if not is_local(unit.path) else open(unit.path, "rb") as f:
            pf = pq.ParquetFile(f)
            if unit.stop == unit.start:
                return pf.schema_arrow.empty_table()
            return pf.read_row_groups(list(range(unit.start, unit.stop)), use_threads=False)
    with _arrow_source(unit.path) as src:
        if unit.kind == ARROW_FILE:
            reader = ipc.open_file(src)
            stop = reader.num_record_batches if unit.stop < 0 else unit.stop
            batches = [reader.get_batch(i) for i in range(unit.start, stop)]
        else:
            reader = ipc.open_stream(src)
            batches = []
            for i, b in enumerate(reader):
                if unit.stop >= 0 and i >= unit.stop:
                    break
                if i >= unit.start:
                    batches.append(b)
        # Copy out of the memory map before it closes.
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return table.combine_chunks() if batches else table


def table_to_bytes(table: pa.Table, fmt: str) -> bytes:
    """Serialize a table as a Parquet file or an Arrow IPC stream (the format `datasets` memory-maps).

    The bytes depend only on the table: no timestamps or host names are written.
    """
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink, compression="zstd", row_group_size=1000, write_statistics=False)
    elif fmt == "arrow":
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1000)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return sink.getvalue()


def check_output_writable(path: str) -> None:
    """Check, before any work, that a local output directory exists or can be created, and is writable.

    Remote outputs (object stores) are not probed: their permissions show only on the first write.

    Raises:
        PipelineOutputError: ``path`` is a regular file, sits under one, or its nearest existing ancestor is not
            writable.
    """
    if not is_local(path):
        return
    target = os.path.abspath(path)
    if os.path.exists(target):
        if not os.path.isdir(target):
            raise PipelineOutputError(f"output {path}: exists and is not a directory")
    else:
        while not os.path.exists(target):  # the nearest existing ancestor is where the directory would be made
            target = os.path.dirname(target)
        if not os.path.isdir(target):
            raise PipelineOutputError(f"output {path}: cannot create it, {target} is a file, not a directory")
    if not os.access(target, os.W_OK | os.X_OK):
        raise PipelineOutputError(f"output {path}: {target} is not writable")


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: to a temporary sibling, then rename over ``path``.

    Each attempt writes its own temporary name, so concurrent attempts of the same work (retries, speculative
    execution) never interfere; all of them rename identical bytes to the same final name. A crashed attempt leaves
    at most a ``.tmp-*`` file, which the finalize step removes.
    """
    directory, name = FileSystems.split(path)
    tmp = FileSystems.join(directory, f".tmp-{name}-{uuid.uuid4().hex[:12]}")
    with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(data)
    maybe_inject_fault(path)  # test-only (LTSC_FAULT_INJECT), see pipelines/faults.py; a no-op otherwise
    if is_local(path) and os.path.exists(path):
        # os.rename replaces atomically on POSIX; Beam's local rename refuses nothing, but be explicit.
        os.replace(tmp, path)
        return
    FileSystems.rename([tmp], [path])


def makedirs(path: str) -> None:
    """Create a directory (and parents) if the filesystem has directories and it does not exist."""
    if is_local(path):
        os.makedirs(path, exist_ok=True)
        return
    try:
        FileSystems.mkdirs(path)
    except OSError:
        pass  # exists, or an object store without directories


def read_bytes(path: str) -> bytes:
    """Read a whole file."""
    with _open(path) as f:
        return f.read()


def list_dir(path: str) -> list[str]:
    """All files under ``path`` (recursive), sorted; empty if it does not exist."""
    if is_local(path):
        if not os.path.isdir(path):
            return []
        out = []
        for root, _, files in os.walk(path):
            out.extend(os.path.join(root, f) for f in files)
        return sorted(out)
    return sorted(_match(path.rstrip("/") + "/**"))


def delete(paths: Sequence[str]) -> None:
    """Delete files or directories (recursively); missing ones are ignored."""
    existing = [p for p in paths if FileSystems.exists(p)]
    if existing:
        FileSystems.delete(existing)


def basename(path: str) -> str:
    """The last path component."""
    return _basename(path)


def iter_sizes(paths: Sequence[str]) -> Iterator[tuple[str, int]]:
    """(path, size in bytes) for each path."""
    for m in FileSystems.match(list(paths)):
        for md in m.metadata_list:
            yield md.path, md.size_in_bytes
