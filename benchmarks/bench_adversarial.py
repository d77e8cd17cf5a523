"""Adversarial inputs to compress: time per token and peak memory per token at 1M tokens.

Usage::

    PYTHONPATH=. python benchmarks/bench_adversarial.py [--sizes 1024 1048576] [--out benchmarks/results/adversarial.md]

Each (input, strategy, record length) runs in a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own;
the figure reported is the growth of the peak over the process's state right before compressing, divided by the
number of tokens. Each input is generated once at the largest size and compressed either as one record or cut into
records of the smallest size (one ``compress_batch`` call), so both see the same tokens and the small records'
figure is not dominated by per-call overhead. Time per token of the one large record is compared with that of the
small records (the core issue's scaling target: at most 2x). Every output is decompressed and checked.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import REPO, STRATEGIES, code_version

INPUTS = ("one id repeated", "period 1..64", "no repeat at all", "random ids", "tiny alphabet")

_PROBE = r"""
import json, resource, sys, time
import numpy as np
from ltsc import Codec

name, strategy, n, record = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
if name == "one id repeated":
    x = np.full(n, 7)
elif name == "period 1..64":  # every period in turn, concatenated
    x = np.concatenate([np.tile(rng.integers(0, 50000, p), n // 64 // p + 1)[: n // 64] for p in range(1, 65)])
    x = np.resize(x, n)
elif name == "no repeat at all":
    x = rng.permutation(n)
elif name == "random ids":
    x = rng.integers(0, 50000, n)
else:
    x = rng.integers(0, 3, n)
x = x.astype(np.int32)
codec = Codec(base_id=max(int(x.max()) + 1, 50257), strategy=strategy)
offsets = np.arange(0, n + 1, record, dtype=np.int64)
if offsets[-1] != n:
    offsets = np.append(offsets, n)
codec.compress_batch(x[:128], np.array([0, 64, 128], np.int64))  # JIT warm (cached on disk)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.process_time()
y, y_offsets = codec.compress_batch(x, offsets)
dt = time.process_time() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# Again: with glibc's default settings every record-sized array is a fresh mmap whose pages the kernel faults in
# and zeroes on first touch, on every call; with MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised (see
# measure), freed memory stays in the heap and this second call reuses it, as a long-running worker would.
t = time.process_time()
again, again_offsets = codec.compress_batch(x, offsets)
warm = time.process_time() - t
assert np.array_equal(again, y) and np.array_equal(again_offsets, y_offsets)
back, back_offsets = codec.decompress_batch(y, y_offsets)
assert np.array_equal(back, x) and np.array_equal(back_offsets, offsets)
print(json.dumps({"seconds": dt, "warm_seconds": warm, "peak_growth": max(peak - before, 0), "out": int(y.size)}))
"""


#: glibc settings that keep freed memory in the heap (1 GiB mmap threshold, 4 GiB trim threshold).
HELD_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}


def measure(name: str, strategy: str, n: int, record: int, *, held: bool = False) -> dict:
    """One subprocess run over ``n`` tokens in records of ``record``: CPU seconds, peak RSS growth, output length.

    ``held``: run under :data:`HELD_MEMORY`, so that the second call's ``warm_seconds`` reuses the first's memory.
    """
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(HELD_MEMORY if held else {})}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, name, strategy, str(n), str(record)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Run every input and strategy at each size and print (and optionally write) a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 1 << 20])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    small, large = min(args.sizes), max(args.sizes)
    lines = [
        "# Adversarial compress inputs",
        "",
        f"Code: {code_version()}. One subprocess per cell; every input is {large:,} tokens, compressed as one record "
        f"and as {large // small:,} records of {small:,} tokens (one `compress_batch` call, same tokens); ns/token = "
        "process CPU time of the call / tokens; peak bytes/token = growth of the process's peak RSS during the "
        "one-record call / tokens (the input itself, 4 bytes/token, is allocated before). Every output decompressed "
        "and checked.",
        "",
        "Two allocator settings. Default: glibc as shipped, first call; every record-sized array is a fresh mmap "
        "whose pages the kernel faults in and zeroes on first touch, on every call, which for one huge record is a "
        "large share of the time. Held: `MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296`, "
        "second call in the process, so freed memory is reused as in a long-running worker. The ratio is one "
        "record over the small records under the same setting; the core issue's target is at most 2x.",
        "",
        f"| input | strategy | ns/token, {small:,}-token records (default / held) | ns/token, one {large:,}-token "
        f"record (default / held) | ratio default | ratio held | peak bytes/token at {large:,} | reduction (one "
        "record) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in INPUTS:
        for strategy in STRATEGIES:
            a = measure(name, strategy, large, small)
            b = measure(name, strategy, large, large)
            a_held = measure(name, strategy, large, small, held=True)
            b_held = measure(name, strategy, large, large, held=True)
            cold_small, cold_large = a["seconds"] / large * 1e9, b["seconds"] / large * 1e9
            warm_small, warm_large = a_held["warm_seconds"] / large * 1e9, b_held["warm_seconds"] / large * 1e9
            row = (
                f"| {name} | {strategy} | {cold_small:.0f} / {warm_small:.0f} | {cold_large:.0f} / {warm_large:.0f} | "
                f"{cold_large / cold_small:.2f} | {warm_large / warm_small:.2f} | {b['peak_growth'] / large:.0f} | "
                f"{100 * (1 - b['out'] / large):.1f}% |"
            )
            print(row, flush=True)
            lines.append(row)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
