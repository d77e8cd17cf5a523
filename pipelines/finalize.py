"""The pipeline's single final step: merged statistics, report, dataset card, extended tokenizer, ``_SUCCESS``.

It runs once, after every part file is written, on the list of :class:`~pipelines.transforms.UnitResult` that
``WriteShards`` emitted (the only leaf of the graph, which engines such as Dask require). It also removes part files
that this run did not produce (left by an earlier run over other inputs) and temporary files of crashed attempts, so
the output directory holds exactly this run's result. ``_SUCCESS`` is written last.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow as pa

from ltsc.stats import CompressionStats, length_bin_edges, reduction_bin_edges
from pipelines import io as pio
from pipelines.transforms import STAGES, UnitResult

__all__ = ["FinalizeConfig", "FinalizeDataset", "finalize_output", "SUCCESS_FILE", "STATS_FILE"]

_LOG = logging.getLogger("ltsc.pipeline")

SUCCESS_FILE = "_SUCCESS"
STATS_FILE = "stats.json"
REPORT_FILE = "report.png"
CARD_FILE = "README.md"
#: Everything the pipeline owns inside OUT (``--overwrite`` removes exactly these).
DATASET_DICT_FILE = "dataset_dict.json"
OUTPUT_ENTRIES = (
    "data",
    "rejects",
    "tokenizer",
    STATS_FILE,
    REPORT_FILE,
    CARD_FILE,
    DATASET_DICT_FILE,
    SUCCESS_FILE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalizeConfig:
    """What the finalize step needs to know about the run.

    Attributes:
        output: Output directory.
        fmt: ``"parquet"`` or ``"arrow"``.
        tokenizer: The base tokenizer (path or hub name; ``None`` = bundled default).
        base_id: First reserved id.
        pool_size: Meta-token pool size.
        allow_mismatch: Write ``_SUCCESS`` even if some record failed verification.
        started_at: ``time.time()`` when the run started (for wall time and throughput).
        run_config: Flags recorded in ``stats.json`` and the dataset card.
        report: Draw ``report.png``.
        write_tokenizer: Write ``OUT/tokenizer`` (only possible when ``base_id`` is the tokenizer's vocabulary size).
    """

    output: str
    fmt: str = "parquet"
    tokenizer: str | None = None
    base_id: int
    pool_size: int
    allow_mismatch: bool = False
    started_at: float = field(default_factory=time.time)
    run_config: dict[str, Any] = field(default_factory=dict)
    report: bool = True
    write_tokenizer: bool = True

    def __post_init__(self) -> None:
        if self.fmt not in ("parquet", "arrow"):
            raise ValueError(f"fmt must be 'parquet' or 'arrow', got {self.fmt!r}")
        if self.base_id < 1 or self.pool_size < 1:
            raise ValueError("base_id and pool_size must be >= 1")


def _write_text(path: str, text: str) -> None:
    pio.write_atomic(path, text.encode("utf-8"))


def _cleanup(directory: str, keep: set[str]) -> list[str]:
    removed = []
    for path in pio.list_dir(directory):
        if pio.basename(path) not in keep:
            removed.append(path)
    pio.delete(removed)
    return removed


def _unified_schema(results: Sequence[UnitResult]) -> pa.Schema | None:
    schemas = [pa.ipc.read_schema(pa.py_buffer(r.schema)) for r in results if r.schema is not None]
    if not schemas:
        return None
    return pa.unify_schemas(schemas, promote_options="permissive")


def _write_arrow_layout(output: str, results: Sequence[UnitResult], schema: pa.Schema | None) -> None:
    """``state.json`` + ``dataset_info.json`` beside the Arrow parts, as ``Dataset.save_to_disk`` writes them.

    ``load_from_disk(OUT/data)`` then gives the ``Dataset``; ``OUT/dataset_dict.json`` (ignored by ``load_dataset``)
    makes ``load_from_disk(OUT)`` work too, as a ``DatasetDict`` whose one split is named after the folder, ``data``.
    """
    from datasets import DatasetInfo, Features

    data_dir = pio.join(output, "data")
    files = [r.data_file for r in results if r.data_file is not None]
    features = Features.from_arrow_schema(schema) if schema is not None else Features()
    info = asdict(DatasetInfo(features=features))
    info = {k: info[k] for k in sorted(info)}
    state = {
        "_data_files": [{"filename": f} for f in files],
        "_fingerprint": _fingerprint(results),
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": "train",
    }
    _write_text(pio.join(data_dir, "dataset_info.json"), json.dumps(info, indent=2) + "\n")
    _write_text(pio.join(data_dir, "state.json"), json.dumps(state, indent=2) + "\n")
    _write_text(pio.join(output, DATASET_DICT_FILE), json.dumps({"splits": ["data"]}) + "\n")


def _fingerprint(results: Sequence[UnitResult]) -> str:
    import hashlib

    h = hashlib.sha256()
    for r in results:
        h.update(f"{r.part}:{r.stats.records_out}:{r.stats.tokens_out}:{r.stats.squares_out};".encode())
    return h.hexdigest()[:16]


def _write_tokenizer(config: FinalizeConfig) -> None:
    from pipelines.tokenizer import extend_tokenizer_files

    target = pio.join(config.output, "tokenizer")
    with tempfile.TemporaryDirectory(prefix="ltsc-tok-") as tmp:
        extend_tokenizer_files(config.tokenizer, tmp, base_id=config.base_id, pool_size=config.pool_size)
        if pio.is_local(target):
            if os.path.isdir(target):
                shutil.rmtree(target)
            shutil.copytree(tmp, target)
            return
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name), "rb") as f:
                pio.write_atomic(pio.join(target, name), f.read())


def _draw_report(summary: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), dpi=100)
    red = summary["reduction_histogram"]
    edges = red["edges"]
    ax = axes[0][0]
    ax.bar([e * 100 for e in edges[:-1]], red["counts"], width=100 / len(red["counts"]), align="edge")
    ax.set_title(f"Per-record token reduction (overall {summary['token_reduction']:.1%})")
    ax.set_xlabel("reduction (%)")
    ax.set_ylabel("records")

    ax = axes[0][1]
    lo = summary["length_in_histogram"]["counts"]
    lc = summary["length_out_histogram"]["counts"]
    used = [i for i in range(len(lo)) if lo[i] or lc[i]] or [0]
    idx = list(range(min(used), max(used) + 1))
    labels = [str(length_bin_edges()[i]) for i in idx]
    xs = range(len(idx))
    ax.bar([x - 0.2 for x in xs], [lo[i] for i in idx], width=0.4, label="original")
    ax.bar([x + 0.2 for x in xs], [lc[i] for i in idx], width=0.4, label="compressed")
    ax.set_xticks(list(xs), labels, rotation=45)
    ax.set_title("Record lengths (tokens, log2 bins by lower edge)")
    ax.set_ylabel("records")
    ax.legend()

    ax = axes[1][0]
    sources = summary.get("per_source") or {}
    if sources:
        names = sorted(sources)
        ax.barh(names, [sources[n]["token_reduction"] * 100 for n in names], label="tokens")
        ax.barh(names, [sources[n]["attention_reduction"] * 100 for n in names], height=0.3, label="attention (est.)")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no source column", ha="center", va="center")
    ax.set_title("Reduction per source (%)")

    ax = axes[1][1]
    stage = summary.get("stage_seconds", {})
    if any(stage.values()):
        ax.pie([stage[s] for s in STAGES], labels=[f"{s} {stage[s]:.2f}s" for s in STAGES])
    ax.set_title("Time per stage (summed over workers)")

    fig.suptitle(
        f"LTSC: {summary['records_out']:,} records, {summary['tokens_in']:,} -> {summary['tokens_out']:,} tokens "
        f"({summary['token_reduction']:.1%} fewer; attention {summary['attention_reduction']:.1%} less)"
    )
    fig.tight_layout()
    buf = io.BytesIO()
    # No timestamps or software versions in the PNG's metadata.
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _card(summary: dict[str, Any], config: FinalizeConfig) -> str:
    pattern = "data/*.parquet" if config.fmt == "parquet" else "data/*.arrow"
    rc = config.run_config
    sources = summary.get("per_source") or {}
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {pattern}",
        "tags:",
        "- ltsc",
        "- token-compression",
        "---",
        "",
        "# LTSC-compressed token dataset",
        "",
        "Token sequences compressed losslessly with meta-tokens (Lossless Token Sequence Compression, Harvill et al., "
        "arXiv 2506.00307), written by `ltsc-pipeline`. Every record was decompressed and checked against its "
        "tokenization before it was written.",
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("{config.output}", split="train")',
    ]
    if config.fmt == "arrow":
        lines.append(f'ds = datasets.load_from_disk("{pio.join(config.output, "data")}")  # same records')
        lines.append(f'ds = datasets.load_from_disk("{config.output}")["data"]  # same again, via dataset_dict.json')
    lines += [
        "```",
        "",
        "`tokenizer/` holds the tokenizer extended with the LTSC special tokens at the ids the codec used "
        f"(`<ltsc:dict>` = {config.base_id}, `</ltsc:dict>` = {config.base_id + 1}, "
        f"`<ltsc:m0>` ... `<ltsc:m{config.pool_size - 1}>` = {config.base_id + 2} ... "
        f"{config.base_id + 1 + config.pool_size}).",
        "",
        "## Columns",
        "",
        "- `input_ids`: the compressed sequence (format v1: `<ltsc:dict>`, entries `meta def...`, `</ltsc:dict>`, "
        "body; records where no entry pays are unchanged)",
        "- `original_length`, `compressed_length`: token counts before and after (dictionary included)",
        "- `dictionary_entries`: meta-tokens defined in the record",
    ]
    if rc.get("response_column"):
        lines.append("- `response_ids`, `response_length`: the tokenized response, never compressed")
    lines += [
        "- every other input column, unchanged",
        "",
        "## Statistics",
        "",
        "| | |",
        "|---|---|",
        f"| records in / out / rejected | {summary['records_in']:,} / {summary['records_out']:,} / "
        f"{summary['records_rejected']:,} |",
        f"| tokens in -> out | {summary['tokens_in']:,} -> {summary['tokens_out']:,} |",
        f"| token reduction | {summary['token_reduction']:.2%} |",
        f"| attention reduction (1 - Σc²/Σo²) | {summary['attention_reduction']:.2%} |",
        f"| dictionary entries | {summary['dictionary_entries']:,} |",
        f"| strategy | {rc.get('strategy', '?')} (pool {config.pool_size}, seed {rc.get('seed', 0)}) |",
        "",
    ]
    if sources:
        lines += ["| source | records | tokens in | tokens out | reduction |", "|---|---|---|---|---|"]
        for name in sorted(sources):
            s = sources[name]
            lines.append(
                f"| {name or '(none)'} | {s['records_out']:,} | {s['tokens_in']:,} | {s['tokens_out']:,} "
                f"| {s['token_reduction']:.2%} |"
            )
        lines.append("")
    lines += ["Full figures: `stats.json`; distributions: `report.png`; rejected records: `rejects/`.", ""]
    return "\n".join(lines)


def finalize_output(results: Iterable[UnitResult], config: FinalizeConfig) -> dict[str, Any]:
    """Write everything but the part files, ``_SUCCESS`` last, and return the summary written to ``stats.json``.

    Args:
        results: One result per written batch, in any order (duplicates of a part are ignored).
        config: The run's settings.

    Returns:
        The content of ``stats.json``.
    """
    by_part: dict[str, UnitResult] = {}
    for r in results:
        by_part.setdefault(r.part, r)
    ordered = [by_part[k] for k in sorted(by_part)]
    stats = CompressionStats.merge_all(r.stats for r in ordered)

    out = config.output
    data_files = [r.data_file for r in ordered if r.data_file]
    reject_files = [r.rejects_file for r in ordered if r.rejects_file]
    removed = _cleanup(pio.join(out, "data"), set(data_files))
    removed += _cleanup(pio.join(out, "rejects"), set(reject_files))
    if removed:
        _LOG.info("removed %d stale or temporary file(s) from %s", len(removed), out)
    schema = _unified_schema(ordered)
    if config.fmt == "arrow":
        _write_arrow_layout(out, ordered, schema)
    if config.write_tokenizer:
        _write_tokenizer(config)

    stage_seconds = {s: sum(r.timings.get(s, 0.0) for r in ordered) for s in STAGES}
    stage_cpu = {s: sum(r.cpu.get(s, 0.0) for r in ordered) for s in STAGES}
    total_stage = sum(stage_seconds.values())
    wall = max(time.time() - config.started_at, 1e-9)
    mismatches = stats.reject_reasons.get("verify_mismatch", 0)
    summary = stats.to_dict()
    summary.update(
        {
            "format_version": 1,
            "units": len(ordered),
            "verify_mismatches": mismatches,
            "wall_time_s": wall,
            "records_per_s": stats.records_in / wall,
            "tokens_per_s": stats.tokens_in / wall,
            "stage_seconds": stage_seconds,
            "stage_share": {s: (v / total_stage if total_stage else 0.0) for s, v in stage_seconds.items()},
            "stage_cpu_seconds": stage_cpu,
            "base_id": config.base_id,
            "pool_size": config.pool_size,
            "format": config.fmt,
            "data_files": data_files,
            "rejects_files": reject_files,
            "config": config.run_config,
            "reduction_bin_edges": reduction_bin_edges(),
        }
    )
    _write_text(pio.join(out, STATS_FILE), json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if config.report:
        pio.write_atomic(pio.join(out, REPORT_FILE), _draw_report(summary))
    _write_text(pio.join(out, CARD_FILE), _card(summary, config))
    if mismatches and not config.allow_mismatch:
        _LOG.error("%d record(s) failed verification: no %s written (see rejects/)", mismatches, SUCCESS_FILE)
    else:
        _write_text(pio.join(out, SUCCESS_FILE), "")
    return summary


class _FinalizeFn(beam.DoFn):
    def __init__(self, config: FinalizeConfig) -> None:
        self._config = config

    def process(self, keyed: tuple[int, Iterable[UnitResult | None]]) -> Iterable[dict[str, Any]]:
        results = [r for r in keyed[1] if r is not None]  # drop the anchor
        summary = finalize_output(results, self._config)
        _LOG.info(
            "finalized %s: %d records out, %d rejected, token reduction %.2f%%",
            self._config.output,
            summary["records_out"],
            summary["records_rejected"],
            100 * summary["token_reduction"],
        )
        # Nothing downstream: this step is the pipeline's only leaf.
        return []


class FinalizeDataset(beam.PTransform):
    """Collects every :class:`UnitResult` and finalizes the output directory (the pipeline's last step).

    Args:
        config: The run's settings.
    """

    def __init__(self, config: FinalizeConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, pcoll):  # noqa: D102 - Beam's hook, documented on the class
        # Not beam.combiners.ToList(): CombineGlobally injects its empty-input default through a side input, and
        # Beam's DaskRunner evaluates a side input as a nested computation inside one worker task, outside the
        # driver's retry settings (a failed unit then re-ran the whole job). One GroupByKey on a single key needs no
        # side input; an anchor element makes the group exist even when no unit produced a result.
        anchor = pcoll.pipeline | "finalize_anchor" >> beam.Create([None])
        return (
            (pcoll, anchor)
            | "with_anchor" >> beam.Flatten()
            | "key_results" >> beam.Map(_single_key)
            | "collect_results" >> beam.GroupByKey()
            | "finalize" >> beam.ParDo(_FinalizeFn(self._config))
        )


def _single_key(result: UnitResult | None) -> tuple[int, UnitResult | None]:
    return 0, result
