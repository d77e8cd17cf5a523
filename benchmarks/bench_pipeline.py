"""Benchmark: ltsc-pipeline on the shared corpus, default strategy versus ``--strategy none``, same runner.

Usage::

    python benchmarks/bench_pipeline.py [--corpus ../shared/corpus] [--repeats 2] [--also paper savings]
                                        [--also-backend tokenizers] [--copies 10] [--json out.json]
                                        [ltsc-pipeline or Beam args...]

Runs the two configurations alternately (``none`` first, so JIT compilation and file caches warm up on the baseline
and never favour the codec), ``--repeats`` times each, in this one process, and prints per configuration the best
wall time, records/s, tokens/s and the share of time per stage (read, tokenize, compress, verify, write: seconds
summed over workers, measured inside the DoFns), then the ratio default / none. ``--also-backend B`` adds ``none``
and the default strategy with ``--tokenizer-backend B`` (labelled ``strategy/B``) to the same alternation, so the
tokenizer backends are compared side by side too. ``--copies N`` runs on N copies of every shard of the corpus
(symbolic links in a temporary directory), so that per-job fixed costs weigh less.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))

from _common import code_version, wait_for_load  # noqa: E402

from ltsc import DEFAULT_STRATEGY  # noqa: E402
from pipelines.run import run  # noqa: E402

STAGES = ("read", "tokenize", "compress", "verify", "write")


def _one(corpus: str, strategy: str, beam_args: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="ltsc-bench-") as tmp:
        out = os.path.join(tmp, "out")
        t0 = time.perf_counter()
        c0 = time.process_time()
        summary = run(
            ["--input", corpus, "--output", out, "--strategy", strategy, "--no-report", *beam_args],
            print_summary=False,
        )
        summary["bench_wall_s"] = time.perf_counter() - t0
        # CPU seconds of this process (all threads): steadier than wall time on a shared machine.
        summary["bench_cpu_s"] = time.process_time() - c0
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(_ROOT.parent / "shared" / "corpus"))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--copies", type=int, default=1, help="Run on this many copies of every shard of the corpus.")
    p.add_argument(
        "--also", nargs="*", default=[], metavar="STRATEGY", help="Further strategies to time (e.g. paper savings)."
    )
    p.add_argument(
        "--also-backend",
        nargs="*",
        default=[],
        metavar="BACKEND",
        help="Tokenizer backends to time besides the default one, with none and the default strategy "
        "(e.g. tokenizers).",
    )
    p.add_argument(
        "--wait-load",
        type=float,
        default=None,
        metavar="L",
        help="On a shared machine: before each run, wait (up to --max-wait s) until the 1-minute load average is "
        "below L; each run records the load average it started at.",
    )
    p.add_argument("--max-wait", type=float, default=180.0)
    p.add_argument("--json", default=None, help="Also write the raw figures here.")
    p.add_argument(
        "--out", default=None, help="Also write a markdown report here (e.g. benchmarks/results/pipeline.md)."
    )
    args, beam_args = p.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)

    # label -> (strategy, extra ltsc-pipeline args)
    configs = {s: (s, []) for s in ["none", DEFAULT_STRATEGY, *args.also]}
    for backend in args.also_backend:
        for strategy in ("none", DEFAULT_STRATEGY):
            configs[f"{strategy}/{backend}"] = (strategy, ["--tokenizer-backend", backend])
    strategies = list(configs)
    corpus = args.corpus
    if args.copies > 1:
        copies_dir = tempfile.mkdtemp(prefix="ltsc-bench-copies-")
        for shard in sorted(Path(args.corpus).glob("*.parquet")):
            for i in range(args.copies):
                os.symlink(shard.resolve(), Path(copies_dir) / f"copy{i}_{shard.name}")
        corpus = copies_dir
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {s: [] for s in strategies}
    for _ in range(args.repeats):
        for label, (strategy, extra) in configs.items():  # alternate, so slow phases of a machine hit every one
            start_load = wait_for_load(args.wait_load, args.max_wait)
            result = _one(corpus, strategy, [*extra, *beam_args])
            result["bench_start_load"] = start_load
            runs[label].append(result)

    report: dict = {"corpus": args.corpus, "copies": args.copies, "beam_args": beam_args, "repeats": args.repeats}
    print(
        f"corpus: {args.corpus} x {args.copies}   runner args: {' '.join(beam_args) or '(default FnApiRunner)'}   "
        f"repeats: {args.repeats}"
    )
    print(
        f"{'strategy':>17} {'wall s best':>11} {'median':>7} {'CPU s':>6} {'records/s':>10} {'tokens/s':>11} "
        f"{'reduction':>9} {'x none':>6} {'x CPU':>6}  wall share ({', '.join(STAGES)})"
    )
    for strategy, items in runs.items():
        best = min(items, key=lambda s: s["bench_wall_s"])
        report[strategy] = {
            "wall_s_best": best["bench_wall_s"],
            "wall_s_median": statistics.median(s["bench_wall_s"] for s in items),
            "cpu_s_min": min(s["bench_cpu_s"] for s in items),
            "records_per_s": best["records_in"] / best["bench_wall_s"],
            "tokens_per_s": best["tokens_in"] / best["bench_wall_s"],
            "token_reduction": best["token_reduction"],
            "attention_reduction": best["attention_reduction"],
            "stage_seconds": best["stage_seconds"],
            "stage_cpu_seconds": best["stage_cpu_seconds"],
            "stage_share": best["stage_share"],
            "records": best["records_in"],
            "tokens": best["tokens_in"],
            "start_load_of_best": best["bench_start_load"],
            "runs_wall_s": [round(s["bench_wall_s"], 3) for s in items],
            "runs_cpu_s": [round(s["bench_cpu_s"], 3) for s in items],
            "runs_start_load": [round(s["bench_start_load"], 2) for s in items],
        }
    base = report["none"]
    for strategy in strategies:
        r = report[strategy]
        r["ratio_wall_best"] = r["wall_s_best"] / base["wall_s_best"]
        r["ratio_wall_median"] = r["wall_s_median"] / base["wall_s_median"]
        r["ratio_cpu"] = r["cpu_s_min"] / base["cpu_s_min"]
        print(
            f"{strategy:>17} {r['wall_s_best']:>11.2f} {r['wall_s_median']:>7.2f} {r['cpu_s_min']:>6.2f} "
            f"{r['records_per_s']:>10.1f} {r['tokens_per_s']:>11,.0f} {r['token_reduction']:>9.2%} "
            f"{r['ratio_wall_best']:>6.2f} {r['ratio_cpu']:>6.2f}  "
            + " ".join(f"{r['stage_share'][s]:.0%}" for s in STAGES)
        )
    d = report[DEFAULT_STRATEGY]
    print(
        f"{DEFAULT_STRATEGY} / none: {d['ratio_wall_best']:.2f}x (best wall), {d['ratio_wall_median']:.2f}x (median "
        f"wall), {d['ratio_cpu']:.2f}x (process CPU); target <= 1.3x"
    )
    for strategy in strategies:
        secs = report[strategy]["stage_seconds"]
        cpu = report[strategy]["stage_cpu_seconds"]
        print(f"  {strategy:>15} stage wall s: " + ", ".join(f"{s} {secs[s]:.2f}" for s in STAGES))
        print(f"  {strategy:>15} stage CPU s:  " + ", ".join(f"{s} {cpu[s]:.2f}" for s in STAGES))
    report["load_average_before_after"] = [load_before[0], os.getloadavg()[0]]
    report["code"] = code_version()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.out:
        Path(args.out).write_text(_markdown(report, strategies))
    return 0


def _markdown(report: dict, strategies: list[str]) -> str:
    lines = [
        "# Pipeline benchmark",
        "",
        f"`python benchmarks/bench_pipeline.py` on `{report['corpus']}` (all records"
        + (f", {report['copies']} copies of every shard" if report["copies"] > 1 else "")
        + f"), code {report['code']}, "
        f"runner args `{' '.join(report['beam_args']) or '(default FnApiRunner)'}`, {report['repeats']} alternating "
        "runs per configuration (strategy, or strategy/tokenizer backend where not the default auto, which "
        f"picks tiktoken for the bundled GPT-2), best wall time shown. 1-minute load average before/after: "
        f"{report['load_average_before_after'][0]:.1f} / {report['load_average_before_after'][1]:.1f} (2 cores; "
        "other work shares this machine, so wall times vary between runs: every run is listed below).",
        "",
        "| strategy | wall s (best) | wall s (median) | process CPU s | records/s | tokens/s | token reduction "
        "| x none (wall) | x none (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in strategies:
        r = report[s]
        lines.append(
            f"| {s} | {r['wall_s_best']:.2f} | {r['wall_s_median']:.2f} | {r['cpu_s_min']:.2f} | "
            f"{r['records_per_s']:,.0f} | {r['tokens_per_s']:,.0f} | {r['token_reduction']:.2%} | "
            f"{r['ratio_wall_best']:.2f} | {r['ratio_cpu']:.2f} |"
        )
    lines += [
        "",
        "Time per stage (seconds summed over work units; CPU includes the tokenizer's and codec's threads):",
        "",
        "| strategy | " + " | ".join(f"{st} wall / CPU" for st in STAGES) + " | share of stage wall time |",
        "|---|" + "---|" * (len(STAGES) + 1),
    ]
    for s in strategies:
        r = report[s]
        cells = [f"{r['stage_seconds'][st]:.2f} / {r['stage_cpu_seconds'][st]:.2f}" for st in STAGES]
        share = ", ".join(f"{st} {r['stage_share'][st]:.0%}" for st in STAGES)
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {share} |")
    lines += ["", "Every run (wall s / process CPU s / load average at its start):", ""]
    for s in strategies:
        r = report[s]
        runs = zip(r["runs_wall_s"], r["runs_cpu_s"], r["runs_start_load"], strict=True)
        lines.append(f"- {s}: " + "; ".join(f"{w:.2f} / {c:.2f} / {ld:.1f}" for w, c, ld in runs))
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
