"""Tests for pipelines/cli.py (`ltsc inspect`, `ltsc version`) on real text from the bundled sample."""

from __future__ import annotations

import glob
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import ltsc
from ltsc import Codec
from pipelines.assets import default_sample_input
from pipelines.cli import inspect_text, main
from pipelines.tokenizer import encode_batch, load_tokenizer, vocab_size

REPO_ROOT = Path(__file__).resolve().parents[2]
GPT2_VOCAB = 50257


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


@pytest.fixture(scope="module")
def py_text() -> str:
    """The first Python record of the bundled sample, cut to whole lines (about 4,000 characters)."""
    rows = [
        row
        for path in sorted(glob.glob(default_sample_input()))
        for row in pq.read_table(path, columns=["source", "text"]).to_pylist()
    ]
    text = next(row["text"] for row in rows if row["source"] == "py_code")
    cut = text.rfind("\n", 0, 4000)
    assert cut > 1000 and "⟨" not in text
    return text[: cut + 1]


@pytest.fixture()
def py_file(tmp_path: Path, py_text: str) -> Path:
    path = tmp_path / "input.py"
    path.write_bytes(py_text.encode("utf-8"))
    return path


def _expected(tok, text: str, **codec_args) -> tuple[np.ndarray, np.ndarray, Codec]:
    codec = Codec(base_id=vocab_size(tok), **codec_args)
    ids = np.asarray(tok.encode(text, add_special_tokens=False).ids, dtype=np.int32)
    return ids, codec.compress(ids), codec


def test_plain_output_matches_codec(tok, py_text: str, py_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--plain", str(py_file)]) == 0
    out = capsys.readouterr().out
    ids, comp, codec = _expected(tok, py_text)
    o, c = ids.size, comp.size
    n_entries = int(codec.dictionary_sizes(comp, np.array([0, c], np.int64))[0])
    assert c < o  # real code compresses
    assert n_entries > 0
    assert f"original length: {o} tokens\n" in out
    dict_len = int(np.flatnonzero(comp == codec.close_id)[0]) + 1
    assert f"compressed length: {c} tokens (dictionary {dict_len}, body {c - dict_len})\n" in out
    assert f"reduction: {100 * (1 - c / o):.2f}%\n" in out
    assert f"attention reduction: {100 * (1 - c * c / (o * o)):.2f}% (1 - c²/o²)\n" in out
    assert f"dictionary entries: {n_entries}\n" in out
    assert "round trip: ok\n" in out
    # One line per entry: ⟨mK⟩, length, uses, savings, repr of the definition.
    rows = re.findall(r"^  ⟨m(\d+)⟩\t(\d+)\t(\d+)\t(-?\d+)\t(.*)$", out, flags=re.M)
    entries = codec.dictionary(comp)
    assert len(rows) == len(entries) == n_entries
    for (k, length, uses, savings, definition), entry in zip(rows, entries, strict=True):
        assert int(k) == entry.meta_id - GPT2_VOCAB - 2
        assert (int(length), int(uses), int(savings)) == (len(entry.definition), entry.uses, entry.savings)
        assert definition == repr(tok.decode(entry.expansion.tolist()))


def test_json_output_reconstructs_text(tok, py_text: str, py_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json", str(py_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    ids, comp, codec = _expected(tok, py_text)
    assert report["original_length"] == ids.size
    assert report["compressed_length"] == comp.size
    assert report["base_id"] == GPT2_VOCAB
    assert report["round_trip"] is True
    assert report["reduction"] == pytest.approx(1 - comp.size / ids.size)
    assert report["attention_reduction"] == pytest.approx(1 - (comp.size / ids.size) ** 2)
    entries = report["entries"]
    # Dictionary section: <ltsc:dict>, then per entry its meta id and definition, then </ltsc:dict>.
    assert report["dictionary_length"] == 2 + sum(1 + e["length"] for e in entries)
    # Substituting each ⟨mK⟩ in the rendered body by its entry's text gives the input back.
    by_name = {f"⟨m{e['k']}⟩": e["text"] for e in entries}
    body = re.sub(r"⟨m\d+⟩", lambda m: by_name[m.group(0)], report["body"])
    assert body == py_text
    # And the compressed ids themselves decompress to ids that decode to the input.
    assert tok.decode(codec.decompress(comp).tolist()) == py_text


def test_options_are_passed_to_the_codec(tok, py_text: str, py_file: Path, capsys) -> None:
    argv = ["inspect", "--json", "--strategy", "paper", "--max-len", "4", "--pool-size", "5", "--seed", "7"]
    assert main([*argv, str(py_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    ids, comp, codec = _expected(tok, py_text, strategy="paper", max_len=4, pool_size=5, seed=7)
    assert report["compressed_length"] == comp.size
    assert [e["meta_id"] for e in report["entries"]] == [e.meta_id for e in codec.dictionary(comp)]
    assert 1 <= len(report["entries"]) <= 5
    assert all(2 <= e["length"] <= 4 and 0 <= e["k"] < 5 for e in report["entries"])


def test_inspect_text_api_agrees_with_codec(tok) -> None:
    text = "for i in range(10):\n    print(i)\n" * 6
    result = inspect_text(text, tokenizer=tok)
    ids, comp, _ = _expected(tok, text)
    assert (result.original_length, result.compressed_length) == (ids.size, comp.size)
    assert result.compressed_length < result.original_length
    assert result.round_trip is True


def test_rich_output_has_the_same_summary(tok, py_text: str, py_file: Path, capsys) -> None:
    pytest.importorskip("rich")
    assert main(["inspect", str(py_file)]) == 0
    out = capsys.readouterr().out
    ids, comp, _ = _expected(tok, py_text)
    assert f"original length: {ids.size} tokens" in out
    assert f"reduction: {100 * (1 - comp.size / ids.size):.2f}%" in out
    assert "dictionary" in out and "⟨m" in out


def test_stdin_is_read_byte_exact_in_a_subprocess(tok) -> None:
    """CRLF line ends and non-ASCII text survive: stdin is read as bytes, not universal-newline text."""
    text = "naïve café\r\n" * 8 + "日本語 😀\r\n" * 4
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "inspect", "--json"],
        input=text.encode("utf-8"),
        capture_output=True,
        cwd=REPO_ROOT,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout.decode("utf-8"))
    values, offsets = encode_batch(tok, [text])
    assert report["original_length"] == values.size
    assert report["compressed_length"] == Codec(base_id=GPT2_VOCAB).compress(values).size
    assert report["compressed_length"] < report["original_length"]
    by_name = {f"⟨m{e['k']}⟩": e["text"] for e in report["entries"]}
    assert re.sub(r"⟨m\d+⟩", lambda m: by_name[m.group(0)], report["body"]) == text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ltsc {ltsc.__version__} (python 3.")
    assert ltsc.__version__ == "0.1.0"


def test_bad_arguments_exit_2(py_file: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["inspect", "--strategy", "nope", str(py_file)])
    assert info.value.code == 2
    assert "--strategy must be one of" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(tmp_path / "missing.txt")])
    assert info.value.code == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["inspect", "--tokenizer", str(tmp_path), str(py_file)])
    assert info.value.code == 2
    assert "has no tokenizer.json" in capsys.readouterr().err
