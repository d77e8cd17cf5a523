"""``ltsc-pipeline``: Parquet / Arrow shards -> compressed, verified, Hugging Face-loadable dataset with statistics.

Usage::

    ltsc-pipeline --input 'DIR_OR_GLOB' --output OUT [--text-column text] [--tokenizer PATH_OR_NAME]
                  [--strategy NAME|none] [--pool-size N] [--max-len N] [--format parquet|arrow]
                  [--overwrite] [any Beam option: --runner ..., --direct_num_workers ...]
    python -m pipelines.run ...

Our flags are split from Beam's with ``parse_known_args``; everything we do not know goes to ``PipelineOptions``.
Without ``--runner`` the pipeline runs on Beam's in-process FnApiRunner (the engine DirectRunner falls back to),
which skips DirectRunner's attempt to download the Prism runner binary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import apache_beam as beam
import pyarrow as pa
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from ltsc import DEFAULT_STRATEGY, STRATEGIES, Codec
from pipelines import io as pio
from pipelines.finalize import OUTPUT_ENTRIES, STATS_FILE, SUCCESS_FILE, FinalizeConfig, FinalizeDataset
from pipelines.transforms import (
    IDS_COLUMN,
    INTERNAL_COLUMNS,
    OUTPUT_COLUMNS,
    REJECT_INFO_COLUMNS,
    STAGES,
    CompressTokens,
    ReadShards,
    TokenizeText,
    VerifyRoundTrip,
    WriteShards,
    is_int_list_type,
    is_text_type,
)

__all__ = ["PipelineConfig", "build_pipeline", "parse_args", "plan", "run", "main"]

_LOG = logging.getLogger("ltsc.pipeline")
DEFAULT_RUNNER = "FnApiRunner"
#: ``--runner DaskRunner`` is accepted as a short name for Beam's Dask runner (Beam itself wants the full path).
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
#: Extra attempts for a Dask task that raises (a work unit's fused read..write chain, a shuffle, the finalize step),
#: as Dataflow retries a failed bundle; a worker that dies is handled by Dask itself
#: (``distributed.scheduler.allowed-failures``). Every step is idempotent, so a retry rewrites identical files.
DASK_TASK_RETRIES = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineConfig:
    """Everything the pipeline does, independent of where it runs.

    Attributes:
        inputs: Files, directories or globs.
        output: Output directory.
        text_column: Column to tokenize.
        ids_column: Already-tokenized ``list<int>`` column to compress instead of tokenizing.
        response_column: Text column tokenized into ``response_ids`` but never compressed.
        keep_text: Keep the text column(s).
        tokenizer: Tokenizer path or hub name (``None``: the bundled GPT-2 tokenizer).
        tokenizer_backend: Which library encodes, one of ``pipelines.tokenizer.TOKENIZER_BACKENDS``: ``"auto"``
            (tiktoken where it provably gives the tokenizer's own ids, else tokenizers), ``"tiktoken"`` (fail if it
            cannot) or ``"tokenizers"``. The ids, and so the output, are the same under every choice.
        strategy: Codec strategy, or ``"none"`` to tokenize and write without compressing.
        pool_size: Meta-tokens per record at most.
        max_len: Longest entry (``None``: the strategy's default).
        seed: Global codec seed.
        hierarchical: Allow dictionary entries to use earlier meta-tokens.
        search: Entries the ``best`` strategy's local search tries banning (see :class:`ltsc.Codec`).
        base_id: First reserved id (``None``: the tokenizer's full vocabulary size).
        max_tokens: Reject records with more tokens than this.
        fmt: ``"parquet"`` or ``"arrow"``.
        overwrite: Replace a complete output.
        allow_mismatch: Do not fail the run when a record fails verification.
        source_column: Column for the per-source breakdown (used if present).
        unit_rows: Target rows per work unit.
        unit_bytes: Target uncompressed bytes per work unit.
        codec_threads: Threads compressing one batch (``None``: the CPUs available to the worker).
        report: Draw report.png.
    """

    inputs: tuple[str, ...]
    output: str
    text_column: str = "text"
    ids_column: str | None = None
    response_column: str | None = None
    keep_text: bool = False
    tokenizer: str | None = None
    tokenizer_backend: str = "auto"
    strategy: str = DEFAULT_STRATEGY
    pool_size: int = 512
    max_len: int | None = None
    seed: int = 0
    hierarchical: bool = False
    search: int = 1
    base_id: int | None = None
    max_tokens: int | None = None
    fmt: str = "parquet"
    overwrite: bool = False
    allow_mismatch: bool = False
    source_column: str = "source"
    unit_rows: int = 10_000
    unit_bytes: int = 64 << 20
    codec_threads: int | None = None
    report: bool = True

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("at least one --input is required")
        if not self.output:
            raise ValueError("--output is required")
        if self.strategy not in (*STRATEGIES, "none"):
            raise ValueError(f"strategy must be one of {(*STRATEGIES, 'none')}, got {self.strategy!r}")
        if self.tokenizer_backend not in ("auto", "tiktoken", "tokenizers"):
            raise ValueError(
                f"tokenizer backend must be one of ('auto', 'tiktoken', 'tokenizers'), got {self.tokenizer_backend!r}"
            )
        if self.fmt not in ("parquet", "arrow"):
            raise ValueError(f"format must be 'parquet' or 'arrow', got {self.fmt!r}")
        for name in ("pool_size", "unit_rows", "unit_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.codec_threads is not None and self.codec_threads < 1:
            raise ValueError(f"codec_threads must be >= 1, got {self.codec_threads}")
        if self.max_len is not None and self.max_len < 2:
            raise ValueError(f"max_len must be >= 2, got {self.max_len}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.base_id is not None and self.base_id < 1:
            raise ValueError(f"base_id must be >= 1, got {self.base_id}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.search < 0:
            raise ValueError(f"search must be >= 0, got {self.search}")
        if self.response_column is not None and self.response_column == self.text_column and not self.ids_column:
            raise ValueError("--response-column must differ from --text-column")


# ---------------------------------------------------------------------------------------------------------------- #
# Arguments
# ---------------------------------------------------------------------------------------------------------------- #
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ltsc-pipeline",
        description=(
            "Tokenize and losslessly compress Parquet / Arrow shards with LTSC meta-tokens, verify every record, and "
            "write a Hugging Face-loadable dataset (OUT/data), rejects (OUT/rejects), the extended tokenizer "
            "(OUT/tokenizer), stats.json, report.png, a dataset card and _SUCCESS. Flags not listed here are Beam "
            "pipeline options (e.g. --runner DirectRunner, --direct_num_workers 2, --direct_running_mode "
            "multi_processing); without --runner, Beam's in-process FnApiRunner is used."
        ),
    )
    io_ = p.add_argument_group("input and output")
    io_.add_argument(
        "--input",
        action="append",
        default=None,
        metavar="DIR_OR_GLOB",
        help="Parquet or Arrow IPC (file or stream format, e.g. datasets' save_to_disk) files: a file, a directory "
        "(searched recursively), or a glob ('*' within a directory, '**' across). Local or any Beam filesystem "
        "(gs://, s3://, hdfs:// with their extras). Repeat the flag or give several values for more inputs. "
        "Default: the bundled sample corpus (a few real-text Parquet shards).",
        nargs="+",
    )
    io_.add_argument("--output", required=True, metavar="OUT", help="Output directory (local or a Beam filesystem).")
    io_.add_argument(
        "--format",
        dest="fmt",
        choices=("parquet", "arrow"),
        default="parquet",
        help="Part-file format: parquet (load_dataset(OUT)) or arrow (IPC stream files plus state.json, so "
        "load_from_disk(OUT/data) also works). Default: parquet.",
    )
    io_.add_argument("--overwrite", action="store_true", help="Replace an existing complete output (with _SUCCESS).")
    io_.add_argument(
        "--unit-rows",
        type=int,
        default=10_000,
        help="Target rows per work unit; row groups / record batches are never split. Default: 10000.",
    )
    io_.add_argument(
        "--unit-mb",
        type=int,
        default=64,
        help="Target uncompressed megabytes per work unit. Default: 64.",
    )
    io_.add_argument("--no-report", action="store_true", help="Do not draw report.png.")

    cols = p.add_argument_group("columns")
    cols.add_argument("--text-column", default="text", help="Column holding the text to tokenize. Default: text.")
    cols.add_argument(
        "--ids-column",
        default=None,
        help="An already-tokenized list<int> column to compress instead of tokenizing the text column.",
    )
    cols.add_argument(
        "--response-column",
        default=None,
        help="A text column tokenized into response_ids but never compressed (the paper compresses inputs and keeps "
        "outputs as they are).",
    )
    cols.add_argument(
        "--keep-text", action="store_true", help="Keep the text (and response) column in the output; dropped otherwise."
    )
    cols.add_argument(
        "--source-column",
        default="source",
        help="Column used for the per-source breakdown in stats.json when present. Default: source.",
    )

    codec = p.add_argument_group("tokenizer and codec")
    codec.add_argument(
        "--tokenizer",
        default=None,
        metavar="PATH_OR_NAME",
        help="A tokenizer.json, a directory of Hugging Face tokenizer files, or a hub name where the hub is "
        "reachable. Default: the bundled GPT-2 tokenizer.",
    )
    codec.add_argument(
        "--tokenizer-backend",
        choices=("auto", "tiktoken", "tokenizers"),
        default="auto",
        help="Which library encodes the text. auto (default): tiktoken, 3-5x faster, where the tokenizer's file "
        "proves it gives the same ids (byte-level BPE written the way tiktoken-derived tokenizers are, such as the "
        "bundled GPT-2), else Hugging Face tokenizers; tiktoken: that, or fail saying why not; tokenizers: always "
        "Hugging Face's. The output is the same under every choice.",
    )
    codec.add_argument(
        "--strategy",
        choices=(*STRATEGIES, "none"),
        default=DEFAULT_STRATEGY,
        help=f"Compression strategy, one of {', '.join(STRATEGIES)} (default: {DEFAULT_STRATEGY}; paper is the "
        "paper's longest-first greedy, the others are ltsc's savings-ordered strategies, see ltsc.Codec), or none "
        "(tokenize and write uncompressed: the baseline for measuring overhead).",
    )
    codec.add_argument("--pool-size", type=int, default=512, help="Meta-tokens available per record. Default: 512.")
    codec.add_argument(
        "--max-len",
        type=int,
        default=None,
        help="Longest token subsequence one meta-token may stand for. Default: 8 for paper, unlimited otherwise.",
    )
    codec.add_argument("--seed", type=int, default=0, help="Global seed of the meta-id assignment. Default: 0.")
    codec.add_argument(
        "--hierarchical", action="store_true", help="Let definitions use meta-tokens defined earlier in the record."
    )
    codec.add_argument(
        "--search",
        type=int,
        default=1,
        help="Entries the best strategy's local search tries banning, largest first; each costs about one more "
        "greedy run and can only shorten the output (3: about 0.11 points more reduction at 1.4x the codec time). "
        "Default: 1.",
    )
    codec.add_argument(
        "--base-id",
        type=int,
        default=None,
        help="First reserved id. Default: the tokenizer's full vocabulary size (added tokens included).",
    )
    codec.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="Reject records with more tokens than this, before compressing (reason too_long, with the record's "
        "length). Default: no limit.",
    )
    codec.add_argument(
        "--codec-threads",
        type=int,
        default=None,
        help="Threads compressing one work unit (the codec releases the GIL). Default: the CPUs available. Output "
        "does not depend on it.",
    )
    codec.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="Do not fail the run when a record fails round-trip verification (it still goes to rejects).",
    )
    return p


def parse_args(argv: Sequence[str] | None = None) -> tuple[PipelineConfig, list[str]]:
    """Split ``argv`` into our config and the remaining Beam pipeline arguments.

    Raises:
        SystemExit: On unknown values or ``--help`` (argparse's behaviour).
    """
    args, beam_args = _parser().parse_known_args(argv)
    if args.input is None:
        from pipelines.assets import default_sample_input

        inputs: tuple[str, ...] = (default_sample_input(),)
    else:
        inputs = tuple(p for group in args.input for p in group)
    config = PipelineConfig(
        inputs=inputs,
        output=args.output,
        text_column=args.text_column,
        ids_column=args.ids_column,
        response_column=args.response_column,
        keep_text=args.keep_text,
        tokenizer=args.tokenizer,
        tokenizer_backend=args.tokenizer_backend,
        strategy=args.strategy,
        pool_size=args.pool_size,
        max_len=args.max_len,
        seed=args.seed,
        hierarchical=args.hierarchical,
        search=args.search,
        base_id=args.base_id,
        max_tokens=args.max_tokens,
        fmt=args.fmt,
        overwrite=args.overwrite,
        allow_mismatch=args.allow_mismatch,
        source_column=args.source_column,
        unit_rows=args.unit_rows,
        unit_bytes=args.unit_mb << 20,
        codec_threads=args.codec_threads,
        report=not args.no_report,
    )
    return config, beam_args


# ---------------------------------------------------------------------------------------------------------------- #
# Planning (driver side, before any work)
# ---------------------------------------------------------------------------------------------------------------- #
@dataclass(frozen=True, slots=True)
class Plan:
    """The resolved run: work units, codec and base id."""

    units: tuple[pio.WorkUnit, ...]
    codec: Codec | None
    base_id: int
    files: tuple[str, ...]
    tokenizer_vocab_size: int | None = None


def _check_columns(config: PipelineConfig, infos: Sequence[pio.FileInfo]) -> None:
    first = infos[0]
    for info in infos:
        names = info.schema.names
        where = f"{info.path}"
        if config.ids_column:
            if config.ids_column not in names:
                raise pio.PipelineInputError(f"{where}: no ids column {config.ids_column!r} (columns: {names})")
            t = info.schema.field(config.ids_column).type
            if not is_int_list_type(t):
                raise pio.PipelineInputError(f"{where}: ids column {config.ids_column!r} has type {t}, not list<int>")
        else:
            if config.text_column not in names:
                raise pio.PipelineInputError(f"{where}: no text column {config.text_column!r} (columns: {names})")
            t = info.schema.field(config.text_column).type
            if not is_text_type(t):
                raise pio.PipelineInputError(
                    f"{where}: text column {config.text_column!r} has type {t}, not string (or binary holding UTF-8)"
                )
        if config.response_column:
            if config.response_column not in names:
                raise pio.PipelineInputError(f"{where}: no response column {config.response_column!r} ({names})")
            t = info.schema.field(config.response_column).type
            if not is_text_type(t):
                raise pio.PipelineInputError(f"{where}: response column {config.response_column!r} has type {t}")
        consumed = {config.ids_column or config.text_column}
        if config.response_column:
            consumed.add(config.response_column)
        clash = [
            n
            for n in names
            if (n in OUTPUT_COLUMNS and n not in consumed and not (config.keep_text and n == IDS_COLUMN))
            or n in INTERNAL_COLUMNS
            or n in REJECT_INFO_COLUMNS
        ]
        if clash:
            raise pio.PipelineInputError(
                f"{where}: column {clash[0]!r} collides with a column the pipeline writes; rename it"
            )
        if info.schema.remove_metadata() != first.schema.remove_metadata():
            raise pio.PipelineInputError(
                f"{where}: schema differs from {first.path}: {_schema_difference(info.schema, first.schema)}; all "
                "inputs must share one schema"
            )


def _schema_difference(schema: pa.Schema, ref: pa.Schema) -> str:
    """The first way ``schema`` differs from ``ref``, on one line (schemas print over many lines)."""
    for field in schema:
        if field.name not in ref.names:
            return f"column {field.name!r} ({field.type}) is not in the other file"
        other = ref.field(field.name)
        if field.type != other.type:
            return f"column {field.name!r} has type {field.type} here, {other.type} there"
        if field.nullable != other.nullable:
            kind = {True: "nullable", False: "non-nullable"}
            return f"column {field.name!r} is {kind[field.nullable]} here, {kind[other.nullable]} there"
        if field != other:
            return f"column {field.name!r} has other field metadata"
    missing = [n for n in ref.names if n not in schema.names]
    if missing:
        return f"column {missing[0]!r} is missing here"
    return f"the columns are in another order ({', '.join(schema.names)} vs {', '.join(ref.names)})"


def _exclude_output(files: list[str], output: str) -> list[str]:
    """Drop files inside the output directory (an input directory may contain an earlier run's output)."""
    root = os.path.abspath(output) if pio.is_local(output) else output.rstrip("/")
    sep = os.sep if pio.is_local(output) else "/"
    kept = [f for f in files if not (f == root or f.startswith(root + sep))]
    if not kept:
        raise pio.PipelineInputError(f"no input files outside the output directory {output}")
    return kept


def plan(config: PipelineConfig) -> Plan:
    """Resolve the tokenizer and codec, list and inspect inputs, check columns, and plan work units.

    Raises:
        PipelineInputError: Missing inputs, unreadable files, missing or mistyped columns (naming file and column).
        FileNotFoundError: The tokenizer cannot be found.
    """
    from pipelines.tokenizer import encoding_backend, load_tokenizer, tiktoken_twin, vocab_size

    tok = load_tokenizer(config.tokenizer)
    tok_size = vocab_size(tok)
    if config.ids_column is None:
        backend = encoding_backend(
            tok, config.tokenizer_backend
        )  # "tiktoken" that cannot be fails here, not on workers
        why = tiktoken_twin(tok)[1] if backend == "tokenizers" and config.tokenizer_backend == "auto" else None
        _LOG.info("tokenizer backend: %s%s", backend, f" (tiktoken would not give the same ids: {why})" if why else "")
    base_id = tok_size if config.base_id is None else config.base_id
    if base_id != tok_size:
        _LOG.warning(
            "--base-id %d differs from the tokenizer's vocabulary size %d: OUT/tokenizer is not written (the LTSC "
            "tokens cannot sit at ids %d.. in that tokenizer)",
            base_id,
            tok_size,
            base_id,
        )
    codec = None
    if config.strategy != "none":
        codec = Codec(
            base_id=base_id,
            pool_size=config.pool_size,
            strategy=config.strategy,
            max_len=config.max_len,
            seed=config.seed,
            hierarchical=config.hierarchical,
            search=config.search,
        )
    files = _exclude_output(pio.discover_inputs(config.inputs), config.output)
    infos = [pio.inspect_file(f) for f in files]
    _check_columns(config, infos)
    units = pio.plan_units(infos, unit_rows=config.unit_rows, unit_bytes=config.unit_bytes)
    return Plan(tuple(units), codec, base_id, tuple(files), tok_size)


# ---------------------------------------------------------------------------------------------------------------- #
# The pipeline
# ---------------------------------------------------------------------------------------------------------------- #
def build_pipeline(p: beam.Pipeline, config: PipelineConfig, resolved: Plan | None = None) -> None:
    """Apply the whole LTSC pipeline to ``p`` (ReadShards -> ... -> FinalizeDataset, one leaf).

    Unlike :func:`run`, this neither refuses a complete output nor clears an old one: callers own the output
    directory (the finalize step still removes part files this run did not write).

    Args:
        p: The pipeline (e.g. a ``TestPipeline``).
        config: The run's settings.
        resolved: A plan from :func:`plan` (computed here if omitted).
    """
    resolved = resolved or plan(config)
    batches = p | "read_shards" >> ReadShards(units=resolved.units)
    if config.ids_column is None:
        batches = batches | "tokenize_text" >> TokenizeText(
            config.tokenizer,
            text_column=config.text_column,
            response_column=config.response_column,
            keep_text=config.keep_text,
            backend=config.tokenizer_backend,
        )
        ids_column = IDS_COLUMN
    else:
        ids_column = config.ids_column
    results = (
        batches
        | "compress_tokens"
        >> CompressTokens(
            resolved.codec,
            base_id=resolved.base_id,
            ids_column=ids_column,
            max_tokens=config.max_tokens,
            threads=config.codec_threads,
        )
        | "verify_round_trip" >> VerifyRoundTrip(resolved.codec)
        | "write_shards"
        >> WriteShards(
            config.output, fmt=config.fmt, source_column=config.source_column, expected_units=len(resolved.units)
        )
    )
    run_config = {k: v for k, v in asdict(config).items() if k not in ("overwrite",)}
    run_config["inputs"] = list(config.inputs)
    run_config["files"] = list(resolved.files)
    _ = results | "finalize_dataset" >> FinalizeDataset(
        FinalizeConfig(
            output=config.output,
            fmt=config.fmt,
            tokenizer=config.tokenizer,
            base_id=resolved.base_id,
            pool_size=config.pool_size,
            allow_mismatch=config.allow_mismatch,
            run_config=run_config,
            report=config.report,
            write_tokenizer=resolved.tokenizer_vocab_size in (None, resolved.base_id),
        )
    )


def _refuse_complete_output(config: PipelineConfig) -> None:
    if pio.FileSystems.exists(pio.join(config.output, SUCCESS_FILE)) and not config.overwrite:
        raise FileExistsError(
            f"{config.output} already holds a complete output ({SUCCESS_FILE} exists); pass --overwrite to replace it"
        )


def _prepare_output(config: PipelineConfig) -> None:
    _refuse_complete_output(config)
    success = pio.join(config.output, SUCCESS_FILE)
    # Remove _SUCCESS first, so an interrupted overwrite never looks complete; then everything else we own.
    pio.delete([success])
    pio.delete([pio.join(config.output, e) for e in OUTPUT_ENTRIES if e != SUCCESS_FILE])
    pio.makedirs(config.output)


def _summary_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"LTSC pipeline: {summary['config'].get('output', '')}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        (
            "records in / out / rejected",
            f"{summary['records_in']:,} / {summary['records_out']:,} / {summary['records_rejected']:,}",
        ),
        ("tokens in -> out", f"{summary['tokens_in']:,} -> {summary['tokens_out']:,}"),
        ("token reduction", f"{summary['token_reduction']:.2%}"),
        ("attention reduction (1-Σc²/Σo²)", f"{summary['attention_reduction']:.2%}"),
        (
            "dictionary entries (mean/record)",
            f"{summary['dictionary_entries']:,} ({summary['mean_dictionary_entries']:.1f})",
        ),
        ("verify mismatches", f"{summary['verify_mismatches']}"),
        ("wall time", f"{summary['wall_time_s']:.2f} s"),
        ("throughput", f"{summary['records_per_s']:,.1f} records/s, {summary['tokens_per_s']:,.0f} tokens/s"),
        ("time share", ", ".join(f"{k} {summary['stage_share'][k]:.0%}" for k in STAGES)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    Console(stderr=False).print(table)
    sources = summary.get("per_source") or {}
    if sources:
        st = Table(title="per source", show_header=True)
        for c in ("source", "records", "tokens in", "tokens out", "reduction", "attention"):
            st.add_column(c, justify="right" if c != "source" else "left")
        for name in sorted(sources):
            s = sources[name]
            st.add_row(
                name or "(none)",
                f"{s['records_out']:,}",
                f"{s['tokens_in']:,}",
                f"{s['tokens_out']:,}",
                f"{s['token_reduction']:.2%}",
                f"{s['attention_reduction']:.2%}",
            )
        Console().print(st)


def _engine_defaults(options: PipelineOptions, *, units: int) -> contextlib.AbstractContextManager:
    """Runner-specific defaults; returns the context the pipeline must run in.

    On Dask: the short runner name is expanded; without ``--dask_npartitions`` / ``--dask_partition_size`` every
    work unit gets its own partition (Beam's default packs up to 128 elements into one, which would run a whole small
    job in one task on one worker); and failed tasks are retried ``DASK_TASK_RETRIES`` times.
    """
    standard = options.view_as(StandardOptions)
    if standard.runner not in ("DaskRunner", DASK_RUNNER):
        return contextlib.nullcontext()
    import dask
    from apache_beam.runners.dask.dask_runner import DaskOptions

    standard.runner = DASK_RUNNER
    dask_options = options.view_as(DaskOptions)
    if dask_options.npartitions is None and dask_options.partition_size is None:
        dask_options.npartitions = max(1, units)
    # Beam's DaskRunner builds its task graph when the pipeline runs, inside this context, so the annotation reaches
    # every task it submits.
    return dask.annotate(retries=DASK_TASK_RETRIES)


def run(argv: Sequence[str] | None = None, *, print_summary: bool = True) -> dict:
    """Run the pipeline from command-line arguments and return the content of ``stats.json``.

    Args:
        argv: Arguments (default ``sys.argv[1:]``); unknown ones are Beam pipeline options.
        print_summary: Print the summary table at the end.

    Returns:
        The summary written to ``OUT/stats.json``.

    Raises:
        PipelineInputError, PipelineOutputError, FileExistsError, FileNotFoundError, ValueError: Bad inputs, output
            or flags, before any work.
        RuntimeError: Some record failed verification and ``--allow-mismatch`` was not given.
    """
    config, beam_args = parse_args(argv)
    started = time.time()
    _refuse_complete_output(config)  # fail fast, before inspecting inputs
    pio.check_output_writable(config.output)
    resolved = plan(config)
    _prepare_output(config)
    options = PipelineOptions(beam_args)
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    engine = _engine_defaults(options, units=len(resolved.units))
    _LOG.info(
        "ltsc-pipeline: %d file(s), %d work unit(s), strategy %s, base id %d -> %s",
        len(resolved.files),
        len(resolved.units),
        config.strategy,
        resolved.base_id,
        config.output,
    )
    with engine, beam.Pipeline(options=options) as p:
        build_pipeline(p, config, resolved)
    summary = json.loads(pio.read_bytes(pio.join(config.output, STATS_FILE)))
    summary["driver_wall_time_s"] = time.time() - started
    if print_summary:
        _summary_table(summary)
    if summary["verify_mismatches"] and not config.allow_mismatch:
        raise RuntimeError(
            f"{summary['verify_mismatches']} record(s) failed round-trip verification (a codec bug); they are in "
            f"{pio.join(config.output, 'rejects')}. Pass --allow-mismatch to accept the output anyway."
        )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: returns 0 on success, 1 on verification failure, 2 on bad inputs or flags."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ltsc.pipeline").setLevel(logging.INFO)
    try:
        run(argv)
    except (pio.PipelineInputError, FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"ltsc-pipeline: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"ltsc-pipeline: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
