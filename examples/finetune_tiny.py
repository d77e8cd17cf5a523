"""Train a tiny GPT-2-style model on an ``ltsc-pipeline`` output, compressed vs uncompressed, and compare step time.

The same records, in the same order and batches, are trained on twice:

- ``compressed``: ``input_ids`` as the pipeline wrote them (dictionary + body, LTSC meta-tokens);
- ``uncompressed``: the original ids, restored with ``ltsc.hf.decompress_dataset``.

Both runs use the same model (a ``GPT2Config`` built here, random initialisation, nothing downloaded; the embedding
matrix grown for the LTSC tokens by ``ltsc.hf.add_meta_embeddings``) and the same optimizer, on the CPU with PyTorch.
Only records whose *uncompressed* sequence fits in ``--seq-cap`` are used, so neither run truncates anything and
both see exactly the same content. Records with a ``response_ids`` column (``ltsc-pipeline --response-column``) get
their response appended uncompressed and only the response is learned (``ltsc.hf.LtscCollator``); otherwise the
whole sequence is learned.

By default the two runs share one process and their steps alternate (compressed, uncompressed, uncompressed,
compressed, ...), so whatever else the machine is doing slows both alike; ``--schedule sequential`` runs one after the
other, each in a fresh process (``--no-isolate``: in this one).

Reported per run: step time (wall clock and process CPU time of forward + backward + AdamW step; the first
``--warmup`` steps excluded), tokens/s (non-padding tokens; padded tokens/s too), records/s, and peak memory: the
largest per-step peak resident set size (Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` before every
step, so each step's peak is its own; ``resource.getrusage`` ``ru_maxrss`` where that is not possible, meaningful
only with ``--schedule sequential``) and the largest growth of a step over the resident size before it (the memory
a step needs on top of weights, optimizer state and data, which both runs hold).

Then the measured step-time saving is printed next to ``stats.json``'s ``attention_reduction`` (the saving of a
cost quadratic in length), the token reduction, and the saving a FLOP count of this model predicts.

Usage::

    ltsc-pipeline --input corpus.parquet --output OUT
    python examples/finetune_tiny.py --out OUT --steps 30 --batch-size 4 --seq-cap 1024 --n-layer 2 --n-embd 128

Needs ``pip install 'ltsc[beam,train]'`` (torch, transformers, datasets).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = ("compressed", "uncompressed")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="An ltsc-pipeline output directory (OUT).")
    p.add_argument("--steps", type=int, default=20, help="Training steps per run. Default: 20.")
    p.add_argument("--warmup", type=int, default=2, help="Leading steps left out of the timings. Default: 2.")
    p.add_argument("--batch-size", type=int, default=4, help="Records per step. Default: 4.")
    p.add_argument(
        "--seq-cap",
        type=int,
        default=1024,
        help="Longest uncompressed sequence (prompt + response + EOS) used; longer records are skipped, so nothing "
        "is truncated. Also the model's n_positions. Default: 1024.",
    )
    p.add_argument("--n-layer", type=int, default=2, help="Transformer blocks. Default: 2.")
    p.add_argument("--n-embd", type=int, default=128, help="Hidden size. Default: 128.")
    p.add_argument("--n-head", type=int, default=4, help="Attention heads. Default: 4.")
    p.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate. Default: 3e-4.")
    p.add_argument("--seed", type=int, default=0, help="Seed of record order and model initialisation. Default: 0.")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice).")
    p.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"Comma-separated runs, from {', '.join(VARIANTS)}. Default: both.",
    )
    p.add_argument(
        "--schedule",
        choices=("interleaved", "sequential"),
        default="interleaved",
        help="interleaved: both runs in one process, their steps alternating (compressed, uncompressed, "
        "uncompressed, compressed, ...), so other load on the machine hits both alike; sequential: one run after "
        "the other, each in a fresh process. Default: interleaved.",
    )
    p.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="With --schedule sequential: run in this process instead of one fresh process per run.",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="Also write the results as JSON here.")
    p.add_argument("--quiet", action="store_true", help="Print only the final comparison.")
    p.add_argument("--_result", default=None, help=argparse.SUPPRESS)  # child process: where to write its result
    args = p.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        p.error(f"--variants: unknown {bad or 'empty'}; choose from {', '.join(VARIANTS)}")
    args.variants = variants
    for name in ("steps", "batch_size", "seq_cap", "n_layer", "n_embd", "n_head"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 0 <= args.warmup < args.steps:
        p.error("--warmup must be in [0, --steps)")
    if args.n_embd % args.n_head:
        p.error("--n-embd must be a multiple of --n-head")
    return args


# ---------------------------------------------------------------------------------------------------------------- #
# Memory
# ---------------------------------------------------------------------------------------------------------------- #
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Resets the kernel's peak-RSS mark (Linux >= 4.0), so VmHWM then measures only what follows."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


class StepMemory:
    """Peak resident set size of one block (a training step), and its growth over the resident size before it.

    Linux: the kernel's peak mark (``VmHWM``) is reset through ``/proc/self/clear_refs`` before the block and read
    after it, so each step's peak is its own even when two runs share the process. Elsewhere: the process-wide
    ``ru_maxrss``, which never goes down (then only a run in a fresh process has a meaningful peak).
    """

    def __enter__(self) -> StepMemory:
        self.resettable = _reset_peak_rss()
        self.start_kib = _status_kib("VmRSS") or 0
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = _status_kib("VmHWM") if self.resettable else None
        self.peak_kib = hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.method = "VmHWM reset per step (/proc/self/clear_refs)" if hwm is not None else "ru_maxrss"


# ---------------------------------------------------------------------------------------------------------------- #
# Data
# ---------------------------------------------------------------------------------------------------------------- #
def select_records(ds, *, seq_cap: int, n: int, seed: int, extra: int) -> np.ndarray:
    """Indices of ``n`` records (cycling when fewer fit) whose uncompressed sequence fits in ``seq_cap``.

    Args:
        ds: The compressed dataset (``original_length`` and optional ``response_length`` columns).
        seq_cap: Longest uncompressed sequence.
        n: Records needed (steps x batch size).
        seed: Seed of the order.
        extra: Tokens added to each record (EOS).

    Returns:
        int64 indices into ``ds``.

    Raises:
        SystemExit: No record fits.
    """
    total = np.asarray(ds["original_length"], dtype=np.int64) + extra
    if "response_length" in ds.column_names:
        total += np.asarray(ds["response_length"], dtype=np.int64)
    fits = np.flatnonzero(total <= seq_cap)
    if fits.size == 0:
        raise SystemExit(f"no record fits in --seq-cap {seq_cap} (shortest: {int(total.min())} tokens); raise it")
    order = np.random.default_rng(seed).permutation(fits)
    return np.resize(order, n)


def _model_flops(*, shapes: Sequence[tuple[int, int]], n_layer: int, n_embd: int, vocab: int) -> float:
    """Training FLOPs (forward + backward = 3x forward) of GPT-2 blocks and LM head over padded batch shapes."""
    per_token = 2 * (12 * n_layer * n_embd * n_embd + vocab * n_embd)  # weight matmuls, 2 FLOPs per MAC
    per_square = 2 * 2 * n_layer * n_embd  # QK^T and AV: length^2 * n_embd MACs each per layer
    return 3 * sum(b * t * per_token + b * t * t * per_square for b, t in shapes)


# ---------------------------------------------------------------------------------------------------------------- #
# One run
# ---------------------------------------------------------------------------------------------------------------- #
class Run:
    """One variant's data, model and optimizer, and the measurements of its steps."""

    def __init__(self, args: argparse.Namespace, variant: str, loaded, indices: np.ndarray) -> None:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        from ltsc.hf import LtscCollator, add_meta_embeddings, decompress_dataset

        self.variant = variant
        self.args = args
        tok = loaded.tokenizer
        eos = tok.eos_token_id
        unique, inverse = np.unique(indices, return_inverse=True)
        self.records = int(unique.size)
        self.record_ids = [int(i) for i in indices]
        subset = loaded.dataset.select(unique.tolist())
        if variant == "uncompressed" and loaded.config.compressed:
            subset = decompress_dataset(subset, loaded.codec)
        rows = subset.to_list()
        collate = LtscCollator(pad_token_id=eos if eos is not None else 0, eos_token_id=eos, return_tensors="pt")
        size = args.batch_size
        self.batches = [collate([rows[j] for j in inverse[s * size : (s + 1) * size]]) for s in range(args.steps)]

        torch.manual_seed(args.seed)  # the same initial weights for every variant
        config = GPT2Config(
            vocab_size=loaded.config.base_id,  # the base model; add_meta_embeddings grows it as for a pretrained one
            n_positions=args.seq_cap,
            n_embd=args.n_embd,
            n_layer=args.n_layer,
            n_head=args.n_head,
            bos_token_id=eos,
            eos_token_id=eos,
        )
        self.model = GPT2LMHeadModel(config)
        add_meta_embeddings(self.model, tok)
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr)
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.losses: list[float] = []
        self.peaks_kib: list[int] = []
        self.growths_kib: list[int] = []
        self.memory_method = ""

    def step(self) -> None:
        """Runs and measures the next training step."""
        batch = self.batches[len(self.times)]
        with StepMemory() as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            loss = self.model(**batch).loss
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.times.append(time.perf_counter() - t0)
            self.cpu_times.append(time.process_time() - c0)
        self.losses.append(float(loss.detach()))
        self.peaks_kib.append(mem.peak_kib)
        self.growths_kib.append(mem.peak_kib - mem.start_kib)
        self.memory_method = mem.method
        if not self.args.quiet:
            shape = tuple(batch["input_ids"].shape)
            print(
                f"  {self.variant:12s} step {len(self.times):3d}  batch {shape}  {self.times[-1]:.3f} s  "
                f"loss {self.losses[-1]:.3f}  peak RSS {mem.peak_kib / 1024:,.0f} MiB"
            )

    def summary(self) -> dict[str, Any]:
        """The run's measurements (timed steps only: the first ``--warmup`` are left out)."""
        import torch

        args = self.args
        timed = slice(args.warmup, None)
        step_times = np.array(self.times[timed])
        real = np.array([int(b["attention_mask"].sum()) for b in self.batches[timed]])
        padded = np.array([b["input_ids"].numel() for b in self.batches[timed]])
        total = float(step_times.sum())
        vocab = self.model.get_input_embeddings().num_embeddings
        shapes = [tuple(b["input_ids"].shape) for b in self.batches]
        return {
            "variant": self.variant,
            "records": self.records,
            "steps_timed": int(step_times.size),
            "step_time_mean_s": float(step_times.mean()),
            "step_time_median_s": float(np.median(step_times)),
            "step_cpu_time_mean_s": float(np.mean(self.cpu_times[timed])),
            "tokens_per_s": float(real.sum() / total),
            "padded_tokens_per_s": float(padded.sum() / total),
            "records_per_s": float(step_times.size * args.batch_size / total),
            "tokens": int(sum(int(b["attention_mask"].sum()) for b in self.batches)),
            "padded_tokens": int(sum(b["input_ids"].numel() for b in self.batches)),
            "squares": int(sum(int((b["attention_mask"].sum(1) ** 2).sum()) for b in self.batches)),
            "model_flops": _model_flops(shapes=shapes, n_layer=args.n_layer, n_embd=args.n_embd, vocab=vocab),
            "peak_rss_mib": max(self.peaks_kib) / 1024,
            "rss_growth_mib": max(self.growths_kib) / 1024,
            "memory_method": self.memory_method,
            "loss_first": self.losses[0],
            "loss_last": self.losses[-1],
            "torch_threads": torch.get_num_threads(),
            "attn_implementation": getattr(self.model.config, "_attn_implementation", None),
            "record_ids": self.record_ids,
        }


def train(args: argparse.Namespace, variants: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Trains ``variants`` in this process; with several, their steps alternate (ABBA order).

    Alternating steps spreads whatever else the machine is doing evenly over the runs; a step's peak memory is
    its own either way (:class:`StepMemory`).
    """
    import torch
    from transformers.utils import logging as hf_logging

    from ltsc.hf import load_compressed

    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_compressed(args.out)
    eos = loaded.tokenizer.eos_token_id
    indices = select_records(
        loaded.dataset, seq_cap=args.seq_cap, n=args.steps * args.batch_size, seed=args.seed, extra=int(eos is not None)
    )
    runs = [Run(args, v, loaded, indices) for v in variants]
    for i in range(args.steps):
        for run in runs if i % 2 == 0 else runs[::-1]:
            run.step()
    return {run.variant: run.summary() for run in runs}


def _child(args: argparse.Namespace, variant: str, argv: Sequence[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ltsc-finetune-") as tmp:
        result = Path(tmp) / "result.json"
        # argparse keeps the last value of a repeated flag, so this --variants overrides the caller's.
        cmd = [sys.executable, os.path.abspath(__file__), *argv, "--variants", variant, "--_result", str(result)]
        # The child imports the same ltsc as this process, installed or not.
        import ltsc

        env = dict(os.environ)
        root = str(Path(ltsc.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        subprocess.run(cmd, check=True, env=env)
        return json.loads(result.read_text("utf-8"))


# ---------------------------------------------------------------------------------------------------------------- #
# Comparison
# ---------------------------------------------------------------------------------------------------------------- #
def compare(runs: dict[str, dict[str, Any]], stats: dict[str, Any]) -> dict[str, Any]:
    """Savings of the compressed run over the uncompressed one, next to the theoretical figures."""
    c, u = runs["compressed"], runs["uncompressed"]
    return {
        "step_time_saving_median": 1 - c["step_time_median_s"] / u["step_time_median_s"],
        "step_time_saving_mean": 1 - c["step_time_mean_s"] / u["step_time_mean_s"],
        "step_cpu_time_saving_mean": 1 - c["step_cpu_time_mean_s"] / u["step_cpu_time_mean_s"],
        "records_per_s_ratio": c["records_per_s"] / u["records_per_s"],
        "peak_rss_saving": 1 - c["peak_rss_mib"] / u["peak_rss_mib"],
        "rss_growth_saving": 1 - c["rss_growth_mib"] / u["rss_growth_mib"] if u["rss_growth_mib"] > 0 else None,
        "token_reduction_batches": 1 - c["tokens"] / u["tokens"],
        "padded_token_reduction_batches": 1 - c["padded_tokens"] / u["padded_tokens"],
        "attention_reduction_batches": 1 - c["squares"] / u["squares"],
        "model_flop_saving_estimate": 1 - c["model_flops"] / u["model_flops"],
        "token_reduction_stats": stats.get("token_reduction"),
        "attention_reduction_stats": stats.get("attention_reduction"),
    }


def _print_table(runs: dict[str, dict[str, Any]], cmp: dict[str, Any] | None) -> None:
    rows = [
        ("step time median (s)", "step_time_median_s", "{:.4f}"),
        ("step time mean (s)", "step_time_mean_s", "{:.4f}"),
        ("step CPU time mean (s, all threads)", "step_cpu_time_mean_s", "{:.4f}"),
        ("tokens/s (non-padding)", "tokens_per_s", "{:,.0f}"),
        ("padded tokens/s", "padded_tokens_per_s", "{:,.0f}"),
        ("records/s", "records_per_s", "{:.2f}"),
        ("tokens (all steps)", "tokens", "{:,}"),
        ("padded tokens (all steps)", "padded_tokens", "{:,}"),
        ("peak RSS of a step (MiB)", "peak_rss_mib", "{:,.0f}"),
        ("RSS growth of a step (MiB)", "rss_growth_mib", "{:,.0f}"),
        ("loss first -> last", None, None),
    ]
    names = list(runs)
    print(f"{'':34s}" + "".join(f"{n:>16s}" for n in names))
    for label, key, fmt in rows:
        if key is None:
            cells = [f"{runs[n]['loss_first']:.2f} -> {runs[n]['loss_last']:.2f}" for n in names]
        else:
            cells = [fmt.format(runs[n][key]) for n in names]
        print(f"{label:34s}" + "".join(f"{c:>16s}" for c in cells))
    first = runs[names[0]]
    print(
        f"memory: {first['memory_method']}; torch threads {first['torch_threads']}; "
        f"attention {first['attn_implementation']}; {first['records']} distinct records"
    )
    if cmp:
        lines = [
            (
                "step-time saving (median / mean)",
                f"{cmp['step_time_saving_median']:.1%} / {cmp['step_time_saving_mean']:.1%}",
            ),
            ("step CPU-time saving (mean)", f"{cmp['step_cpu_time_saving_mean']:.1%}"),
            ("peak RSS saving", f"{cmp['peak_rss_saving']:.1%}"),
            (
                "token reduction in these batches",
                f"{cmp['token_reduction_batches']:.1%} (padded: {cmp['padded_token_reduction_batches']:.1%})",
            ),
            ("attention reduction in these batches", f"{cmp['attention_reduction_batches']:.1%} (1 - Σc²/Σo²)"),
            ("model FLOP saving (estimate)", f"{cmp['model_flop_saving_estimate']:.1%}"),
        ]
        tr, ar = cmp["token_reduction_stats"], cmp["attention_reduction_stats"]
        if tr is not None and ar is not None:
            lines.append(("stats.json token / attention reduction", f"{tr:.1%} / {ar:.1%} (whole dataset)"))
        print()
        for label, value in lines:
            print(f"{label:41s}{value}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Runs the comparison and returns ``{"runs": {variant: ...}, "comparison": ..., "args": ...}``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args._result:
        result = train(args, args.variants[:1])[args.variants[0]]
        Path(args._result).write_text(json.dumps(result), "utf-8")
        return {"runs": {args.variants[0]: result}}
    stats = json.loads((Path(args.out) / "stats.json").read_text("utf-8"))
    if args.schedule == "interleaved":
        if not args.quiet:
            print(f"== {' and '.join(args.variants)}, steps alternating, in this process")
        runs = train(args, args.variants)
    else:
        runs = {}
        for variant in args.variants:
            if not args.quiet:
                print(f"== {variant} ({'own process' if args.isolate else 'this process'})")
            runs[variant] = _child(args, variant, argv) if args.isolate else train(args, [variant])[variant]
    cmp = compare(runs, stats) if set(runs) == set(VARIANTS) else None
    _print_table(runs, cmp)
    out = {"runs": runs, "comparison": cmp, "args": {k: v for k, v in vars(args).items() if k != "_result"}}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", "utf-8")
    return out


if __name__ == "__main__":
    main()
