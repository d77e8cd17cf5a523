"""Adversarial inputs to compress: time per token and peak memory per token at 1M tokens.

Usage::

    PYTHONPATH=. python benchmarks/bench_adversarial.py [--sizes 1024 1048576] [--out benchmarks/results/adversarial.md]

Each (input, strategy, size) runs in a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own; the
figure reported is the growth of the peak over the process's state right before compressing, divided by the
number of tokens. Time per token at the largest size is compared with the smallest (the core issue's scaling
target: at most 2x). Every output is decompressed and checked.
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

name, strategy, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
codec.compress(x[:64])  # JIT warm (cached on disk)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
y = codec.compress(x)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
assert np.array_equal(codec.decompress(y), x)
print(json.dumps({"seconds": dt, "peak_growth": max(peak - before, 0), "out": int(y.size)}))
"""


def measure(name: str, strategy: str, n: int) -> dict:
    """One subprocess run: seconds, peak RSS growth in bytes, compressed length."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, name, strategy, str(n)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
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
        f"Code: {code_version()}. One subprocess per cell; ns/token = compress time / tokens; peak bytes/token = "
        "growth of the process's peak RSS during `compress` / tokens (the input itself, 4 bytes/token, is allocated "
        "before). Every output decompressed and checked.",
        "",
        f"| input | strategy | ns/token at {small:,} | ns/token at {large:,} | ratio | peak bytes/token at {large:,} "
        "| reduction |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in INPUTS:
        for strategy in STRATEGIES:
            a = measure(name, strategy, small)
            b = measure(name, strategy, large)
            ns_small = a["seconds"] / small * 1e9
            ns_large = b["seconds"] / large * 1e9
            row = (
                f"| {name} | {strategy} | {ns_small:.0f} | {ns_large:.0f} | {ns_large / ns_small:.2f} | "
                f"{b['peak_growth'] / large:.0f} | {100 * (1 - b['out'] / large):.1f}% |"
            )
            print(row, flush=True)
            lines.append(row)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
