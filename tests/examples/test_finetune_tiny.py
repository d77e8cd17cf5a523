"""A 2-step run of examples/finetune_tiny.py (tiny model, CPU) on a real ltsc-pipeline output."""

from __future__ import annotations

import glob
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("torch", reason="the fine-tuning example needs torch (pip install 'ltsc[train]')")
pytest.importorskip("transformers", reason="the fine-tuning example needs transformers (pip install 'ltsc[beam]')")
pytest.importorskip("datasets", reason="the fine-tuning example needs datasets (pip install 'ltsc[beam]')")

from pipelines.assets import default_sample_input  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "finetune_tiny.py"
ENDOFTEXT = 50256
SEQ_CAP = 120  # keeps the 3 shortest records of the corpus below: the LM head over 50k ids dominates the run time


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("finetune_tiny", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.run import run

    rows = [row for path in sorted(glob.glob(default_sample_input())) for row in pq.read_table(path).to_pylist()]
    rows = sorted(rows, key=lambda r: (len(r["text"]), r["id"]))[:8]
    for i, row in enumerate(rows):
        row["answer"] = f" record {i} is {row['source']}"
    corpus = tmp_path_factory.mktemp("corpus") / "corpus.parquet"
    pq.write_table(pa.Table.from_pylist(rows), corpus)
    out = tmp_path_factory.mktemp("ltsc") / "out"
    run(
        ["--input", str(corpus), "--output", str(out), "--pool-size", "64", "--response-column", "answer"]
        + ["--no-report"],
        print_summary=False,
    )
    return out


def test_two_steps_compressed_vs_uncompressed(example, out_dir: Path, tmp_path: Path, capsys) -> None:
    import datasets

    result_path = tmp_path / "result.json"
    args = ["--out", str(out_dir), "--steps", "2", "--warmup", "0", "--batch-size", "2", "--seq-cap", str(SEQ_CAP)]
    args += ["--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--quiet", "--json", str(result_path)]
    result = example.main(args)
    assert json.loads(result_path.read_text("utf-8")) == json.loads(json.dumps(result))
    runs, cmp = result["runs"], result["comparison"]
    assert set(runs) == {"compressed", "uncompressed"}

    # The records the example must have used: the same ones, in the same batches, for both runs.
    ds = datasets.load_dataset("parquet", data_files=sorted(glob.glob(str(out_dir / "data" / "*.parquet"))))["train"]
    picked = example.select_records(ds, seq_cap=SEQ_CAP, n=4, seed=0, extra=1)
    original = np.asarray(ds["original_length"])[picked]
    compressed = np.asarray(ds["compressed_length"])[picked]
    response = np.asarray(ds["response_length"])[picked]
    assert (original + response + 1 <= SEQ_CAP).all()
    assert (compressed < original).any()
    for name, prompt in (("compressed", compressed), ("uncompressed", original)):
        run = runs[name]
        assert run["steps_timed"] == 2
        assert run["tokens"] == int((prompt + response + 1).sum())  # prompt + response + EOS, nothing truncated
        widths = (prompt + response + 1).reshape(2, 2).max(axis=1)
        assert run["padded_tokens"] == int(2 * widths.sum())
        assert run["record_ids"] == picked.tolist()
        assert run["step_time_mean_s"] > 0 and run["tokens_per_s"] > 0 and run["peak_rss_mib"] > 0
        assert math.isfinite(run["loss_first"]) and math.isfinite(run["loss_last"])
        # Untrained model over the extended vocabulary: loss starts near ln(50257 + 2 + 64).
        assert abs(run["loss_first"] - math.log(50257 + 66)) < 0.5
    c, u = runs["compressed"]["tokens"], runs["uncompressed"]["tokens"]
    assert cmp["token_reduction_batches"] == pytest.approx(1 - c / u)
    assert cmp["token_reduction_batches"] > 0
    stats = json.loads((out_dir / "stats.json").read_text("utf-8"))
    assert cmp["attention_reduction_stats"] == stats["attention_reduction"]
    assert cmp["model_flop_saving_estimate"] > 0
    out = capsys.readouterr().out
    assert "step-time saving (median / mean)" in out
    assert f"{stats['attention_reduction']:.1%}" in out


def test_sequential_schedule_in_process(example, out_dir: Path) -> None:
    args = ["--out", str(out_dir), "--steps", "1", "--warmup", "0", "--batch-size", "1", "--seq-cap", str(SEQ_CAP)]
    args += ["--n-layer", "1", "--n-embd", "8", "--n-head", "2", "--schedule", "sequential", "--no-isolate", "--quiet"]
    result = example.main(args)
    c, u = result["runs"]["compressed"], result["runs"]["uncompressed"]
    assert c["record_ids"] == u["record_ids"] and len(c["record_ids"]) == 1
    assert c["tokens"] <= u["tokens"]
    assert result["comparison"]["token_reduction_batches"] == pytest.approx(1 - c["tokens"] / u["tokens"])


def test_no_record_fits(example, out_dir: Path) -> None:
    with pytest.raises(SystemExit, match="no record fits in --seq-cap 2"):
        example.main(
            ["--out", str(out_dir), "--steps", "2", "--warmup", "0", "--seq-cap", "2", "--no-isolate", "--quiet"]
        )


@pytest.mark.parametrize(
    "bad",
    [["--steps", "0"], ["--warmup", "5", "--steps", "5"], ["--n-embd", "10", "--n-head", "3"], ["--variants", "zip"]],
)
def test_bad_flags_exit(example, bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        example.parse_args(["--out", "x", *bad])
