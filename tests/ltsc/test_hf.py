"""Tests for ltsc/hf.py on a real ltsc-pipeline output (bundled sample records, bundled GPT-2 tokenizer)."""

from __future__ import annotations

import copy
import glob
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("transformers", reason="ltsc.hf needs transformers (pip install 'ltsc[beam]')")
datasets = pytest.importorskip("datasets", reason="ltsc.hf needs datasets (pip install 'ltsc[beam]')")

from tokenizers import Tokenizer  # noqa: E402
from tokenizers.models import WordLevel  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402

from ltsc import Codec, LtscFormatError  # noqa: E402
from ltsc.hf import (  # noqa: E402
    CompressedDataset,
    LtscCollator,
    LtscConfig,
    add_meta_embeddings,
    decompress_dataset,
    extend_tokenizer,
    load_compressed,
    reserved_token_ids,
)
from pipelines.assets import default_sample_input, default_tokenizer_dir  # noqa: E402
from pipelines.tokenizer import encode_batch, load_tokenizer  # noqa: E402

GPT2_VOCAB = 50257
ENDOFTEXT = 50256
POOL = 64
N_RECORDS = 8


def _gpt2() -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_file=str(Path(default_tokenizer_dir()) / "tokenizer.json"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 bundled sample records with a short ``answer`` column, as one Parquet file."""
    rows = [row for path in sorted(glob.glob(default_sample_input())) for row in pq.read_table(path).to_pylist()]
    rows = rows[:N_RECORDS]
    for i, row in enumerate(rows):
        row["answer"] = f" answer {i}: {row['source']}"
    path = tmp_path_factory.mktemp("corpus") / "corpus.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture(scope="module")
def out_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real pipeline's output on ``corpus``: compressed text, uncompressed responses, text kept for checks."""
    from pipelines.run import run

    out = tmp_path_factory.mktemp("ltsc") / "out"
    args = ["--input", str(corpus), "--output", str(out), "--pool-size", str(POOL), "--response-column", "answer"]
    run([*args, "--keep-text", "--no-report"], print_summary=False)
    return out


@pytest.fixture(scope="module")
def loaded(out_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CompressedDataset:
    return load_compressed(out_dir, cache_dir=str(tmp_path_factory.mktemp("hf-cache")))


# ------------------------------------------------------------------------------------------------ extend_tokenizer
def test_extend_tokenizer_adds_tokens_at_codec_ids() -> None:
    tok = _gpt2()
    assert extend_tokenizer(tok, 4) is tok
    assert len(tok) == GPT2_VOCAB + 6
    names = ["<ltsc:dict>", "</ltsc:dict>", "<ltsc:m0>", "<ltsc:m1>", "<ltsc:m2>", "<ltsc:m3>"]
    assert tok.convert_tokens_to_ids(names) == [50257, 50258, 50259, 50260, 50261, 50262]
    assert reserved_token_ids(tok) == (GPT2_VOCAB, 4)
    # Special: never split, and the base vocabulary is untouched.
    assert tok.encode("Hello<ltsc:m2> world", add_special_tokens=False) == [15496, 50261, 995]
    assert tok.decode([15496, 50257, 50261, 995], skip_special_tokens=True) == "Hello world"
    codec = Codec(base_id=GPT2_VOCAB, pool_size=4)
    assert list(codec.reserved_ids) == list(range(50257, 50263))


def test_extend_tokenizer_is_idempotent_for_the_same_layout() -> None:
    tok = extend_tokenizer(_gpt2(), 3, base_id=GPT2_VOCAB)
    assert extend_tokenizer(tok, 3, base_id=GPT2_VOCAB) is tok
    assert len(tok) == GPT2_VOCAB + 5


def test_extend_tokenizer_refuses_base_id_mismatch_and_leaves_tokenizer_unchanged() -> None:
    tok = _gpt2()
    tok.add_special_tokens({"pad_token": "<pad>"})  # added after compression: ids would shift by one
    with pytest.raises(ValueError, match=r"base_id 50257 does not match the tokenizer's vocabulary size 50258"):
        extend_tokenizer(tok, 4, base_id=GPT2_VOCAB)
    assert len(tok) == GPT2_VOCAB + 1
    assert "<ltsc:dict>" not in tok.get_vocab()


def test_extend_tokenizer_refuses_another_layout() -> None:
    tok = extend_tokenizer(_gpt2(), 4)
    with pytest.raises(ValueError, match=r"already extended with base_id 50257 and pool_size 4, not .* pool_size 8"):
        extend_tokenizer(tok, 8)
    with pytest.raises(ValueError, match=r"already extended with base_id 50257 and pool_size 4, not base_id 50000"):
        extend_tokenizer(tok, 4, base_id=50000)
    assert len(tok) == GPT2_VOCAB + 6


def test_extend_tokenizer_refuses_misplaced_tokens() -> None:
    tok = _gpt2()
    tok.add_tokens(["<ltsc:m0>"], special_tokens=True)  # a meta-token without the dictionary delimiters
    with pytest.raises(ValueError, match=r"not in format v1 layout: the tokenizer has no <ltsc:dict>"):
        extend_tokenizer(tok, 2)


def test_extend_tokenizer_refuses_ids_with_gaps() -> None:
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"a": 0, "b": 1, "c": 5}, unk_token="a")))
    with pytest.raises(ValueError, match=r"ids are not exactly 0\.\.2 .* up to 5"):
        extend_tokenizer(tok, 2)
    assert len(tok) == 3


@pytest.mark.parametrize("pool_size", [0, -1, True, 2.0])
def test_extend_tokenizer_refuses_bad_pool_size(pool_size) -> None:
    with pytest.raises(ValueError, match="pool_size must be an int >= 1"):
        extend_tokenizer(_gpt2(), pool_size)


# ------------------------------------------------------------------------------------------------ load_compressed
def test_load_compressed_reads_data_tokenizer_and_config(loaded: CompressedDataset, out_dir: Path) -> None:
    stats = json.loads((out_dir / "stats.json").read_text("utf-8"))
    assert loaded.config == LtscConfig(base_id=GPT2_VOCAB, pool_size=POOL, strategy="best", seed=0)
    assert loaded.config.vocab_size == GPT2_VOCAB + 2 + POOL
    assert loaded.codec == Codec(base_id=GPT2_VOCAB, pool_size=POOL, strategy="best")
    assert loaded.stats["attention_reduction"] == stats["attention_reduction"] > 0
    ds = loaded.dataset
    assert isinstance(ds, datasets.Dataset)
    assert ds.num_rows == N_RECORDS == stats["records_out"]
    assert {"input_ids", "original_length", "compressed_length", "dictionary_entries", "response_ids"} <= set(
        ds.column_names
    )
    assert len(loaded.tokenizer) == GPT2_VOCAB + 2 + POOL
    assert loaded.tokenizer.convert_tokens_to_ids(["<ltsc:dict>", "<ltsc:m63>"]) == [50257, 50322]
    # The rows are the parquet parts' rows, in part order.
    parts = [pq.read_table(out_dir / "data" / name) for name in stats["data_files"]]
    assert ds["input_ids"] == [ids for t in parts for ids in t.column("input_ids").to_pylist()]
    lengths = np.array(ds["compressed_length"])
    assert sum(lengths) == stats["tokens_out"] and sum(ds["original_length"]) == stats["tokens_in"]
    assert [len(ids) for ids in ds["input_ids"]] == lengths.tolist()


def test_load_compressed_without_split_gives_dataset_dict(out_dir: Path, tmp_path: Path) -> None:
    got = load_compressed(out_dir, split=None, tokenizer=False, cache_dir=str(tmp_path))
    assert isinstance(got.dataset, datasets.DatasetDict)
    assert list(got.dataset) == ["train"] and got.dataset["train"].num_rows == N_RECORDS
    assert got.tokenizer is None


def test_load_compressed_refuses_unfinished_and_inconsistent_outputs(out_dir: Path, tmp_path: Path) -> None:
    copy_dir = tmp_path / "out"
    shutil.copytree(out_dir, copy_dir)
    (copy_dir / "_SUCCESS").unlink()
    with pytest.raises(FileNotFoundError, match="has no _SUCCESS"):
        load_compressed(copy_dir, cache_dir=str(tmp_path / "c1"))
    assert load_compressed(copy_dir, require_complete=False, tokenizer=False, cache_dir=str(tmp_path / "c2"))
    (copy_dir / "_SUCCESS").write_text("")
    ltsc_json = copy_dir / "tokenizer" / "ltsc.json"
    recorded = json.loads(ltsc_json.read_text("utf-8"))
    ltsc_json.write_text(json.dumps({**recorded, "pool_size": POOL + 1}))
    with pytest.raises(ValueError, match=r"says pool_size = 65 but .* says 64"):
        load_compressed(copy_dir, cache_dir=str(tmp_path / "c3"))
    with pytest.raises(ValueError, match="one split, 'train'"):
        load_compressed(out_dir, split="test")
    shutil.rmtree(copy_dir / "tokenizer")  # what the pipeline writes with a --base-id other than the vocabulary size
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer/ .* pass tokenizer=False"):
        load_compressed(copy_dir, cache_dir=str(tmp_path / "c4"))
    assert load_compressed(copy_dir, tokenizer=False, cache_dir=str(tmp_path / "c5")).config.pool_size == POOL


# ------------------------------------------------------------------------------------------------ decompress_dataset
def test_decompress_dataset_restores_the_original_tokenization(loaded: CompressedDataset) -> None:
    ds = loaded.dataset
    assert any(ids[0] == GPT2_VOCAB for ids in ds["input_ids"])  # some records really are compressed
    restored = decompress_dataset(loaded, batch_size=3)  # several batches, the last one partial
    values, offsets = encode_batch(load_tokenizer(), ds["text"])
    expected = [values[offsets[i] : offsets[i + 1]].tolist() for i in range(N_RECORDS)]
    assert restored["input_ids"] == expected
    assert [len(x) for x in restored["input_ids"]] == ds["original_length"]
    assert restored.column_names == ds.column_names
    assert restored.features["input_ids"] == ds.features["input_ids"]
    assert restored["response_ids"] == ds["response_ids"]  # never compressed, left alone
    assert loaded.tokenizer.decode(restored[0]["input_ids"]) == ds[0]["text"]


def test_decompress_dataset_output_column_and_dataset_dict(loaded: CompressedDataset) -> None:
    both = decompress_dataset(loaded.dataset, loaded.codec, output_column="original_ids")
    assert both["input_ids"] == loaded.dataset["input_ids"]
    assert [len(x) for x in both["original_ids"]] == loaded.dataset["original_length"]
    dd = decompress_dataset(datasets.DatasetDict({"train": loaded.dataset}), loaded.codec)
    assert dd["train"]["input_ids"] == both["original_ids"]
    # The dataset's format survives.
    as_np = decompress_dataset(loaded.dataset.with_format("numpy"), loaded.codec)
    assert as_np.format["type"] == "numpy"
    assert isinstance(as_np[0]["input_ids"], np.ndarray)


def test_decompress_dataset_errors(loaded: CompressedDataset) -> None:
    with pytest.raises(TypeError, match="needs the codec"):
        decompress_dataset(loaded.dataset)
    lengths = list(loaded.dataset["original_length"])
    lengths[2] += 1
    bad = loaded.dataset.remove_columns("original_length").add_column("original_length", lengths)
    with pytest.raises(ValueError, match=r"record 2 of a batch decompresses to \d+ ids but its 'original_length'"):
        decompress_dataset(bad, loaded.codec, load_from_cache_file=False)
    compressed = next(i for i, ids in enumerate(loaded.dataset["input_ids"]) if ids[0] == GPT2_VOCAB)
    smaller_pool = Codec(base_id=GPT2_VOCAB, pool_size=1)  # meta ids beyond its pool
    with pytest.raises(LtscFormatError, match="id beyond the meta-token pool"):
        decompress_dataset(loaded.dataset.select([compressed]), smaller_pool, load_from_cache_file=False)


# ------------------------------------------------------------------------------------------------ collator
def test_collator_pads_appends_response_and_masks_prompt() -> None:
    collate = LtscCollator(pad_token_id=0, return_tensors="np")
    batch = collate(
        [
            {"input_ids": [50257, 50259, 7, 8, 50258, 50259, 50259], "response_ids": [11, 12]},
            {"input_ids": [5, 6, 7], "response_ids": [13]},
        ]
    )
    assert batch["input_ids"].dtype == np.int64
    assert batch["input_ids"].tolist() == [
        [50257, 50259, 7, 8, 50258, 50259, 50259, 11, 12],
        [5, 6, 7, 13, 0, 0, 0, 0, 0],
    ]
    assert batch["labels"].tolist() == [
        [-100, -100, -100, -100, -100, -100, -100, 11, 12],
        [-100, -100, -100, 13, -100, -100, -100, -100, -100],
    ]
    assert batch["attention_mask"].tolist() == [[1] * 9, [1, 1, 1, 1, 0, 0, 0, 0, 0]]


def test_collator_without_response_learns_everything_but_padding() -> None:
    collate = LtscCollator(pad_token_id=9, eos_token_id=2, pad_to_multiple_of=3, return_tensors="np")
    batch = collate([{"input_ids": np.array([4, 5, 6], np.int32)}, {"input_ids": [7]}])
    assert batch["input_ids"].tolist() == [[4, 5, 6, 2, 9, 9], [7, 2, 9, 9, 9, 9]]
    assert batch["labels"].tolist() == [[4, 5, 6, 2, -100, -100], [7, 2, -100, -100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]]


def test_collator_eos_max_length_and_unmasked_prompt() -> None:
    collate = LtscCollator(pad_token_id=0, eos_token_id=2, mask_prompt=False, max_length=5, return_tensors="np")
    batch = collate([{"input_ids": [4, 5, 6], "response_ids": [7, 8]}, {"input_ids": [3], "response_ids": []}])
    assert batch["input_ids"].tolist() == [[4, 5, 6, 7, 8], [3, 2, 0, 0, 0]]
    assert batch["labels"].tolist() == [[4, 5, 6, 7, 8], [3, 2, -100, -100, -100]]
    masked = LtscCollator(pad_token_id=0, eos_token_id=2, return_tensors="np")
    assert masked([{"input_ids": [3], "response_ids": []}])["labels"].tolist() == [[-100, 2]]


def test_collator_on_pipeline_records(loaded: CompressedDataset) -> None:
    rows = loaded.dataset.select([0, 1, 2]).to_list()
    batch = LtscCollator(pad_token_id=ENDOFTEXT, return_tensors="np")(rows)
    totals = [r["compressed_length"] + r["response_length"] for r in rows]
    assert batch["input_ids"].shape == (3, max(totals))
    assert batch["attention_mask"].sum(axis=1).tolist() == totals
    for i, r in enumerate(rows):
        c = r["compressed_length"]
        assert batch["input_ids"][i, :c].tolist() == r["input_ids"]
        assert batch["input_ids"][i, c : totals[i]].tolist() == r["response_ids"]
        assert (batch["labels"][i, :c] == -100).all()
        assert batch["labels"][i, c : totals[i]].tolist() == r["response_ids"]
        assert (batch["labels"][i, totals[i] :] == -100).all()
        assert (batch["input_ids"][i, totals[i] :] == ENDOFTEXT).all()


def test_collator_returns_torch_tensors_when_available() -> None:
    torch = pytest.importorskip("torch", reason="torch not installed (pip install 'ltsc[train]')")
    batch = LtscCollator(pad_token_id=0)([{"input_ids": [1, 2]}, {"input_ids": [3]}])
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.int64 for v in batch.values())
    assert batch["labels"].tolist() == [[1, 2], [3, -100]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pad_token_id": -1},
        {"pad_token_id": True},
        {"pad_token_id": 0, "max_length": 0},
        {"pad_token_id": 0, "pad_to_multiple_of": 0},
        {"pad_token_id": 0, "return_tensors": "tf"},
        {"pad_token_id": 0, "eos_token_id": -2},
        {"pad_token_id": 0, "input_column": ""},
    ],
)
def test_collator_rejects_bad_config(kwargs) -> None:
    with pytest.raises((ValueError, TypeError)):
        LtscCollator(**kwargs)


def test_collator_rejects_empty_batch() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        LtscCollator(pad_token_id=0)([])


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_id": 0, "pool_size": 1},
        {"base_id": 10, "pool_size": 0},
        {"base_id": 10, "pool_size": 1, "format_version": 2},
        {"base_id": 10.0, "pool_size": 1},
        {"base_id": 10, "pool_size": 1, "seed": -1},
        {"base_id": 10, "pool_size": 1, "hierarchical": 1},
    ],
)
def test_config_rejects_bad_values(kwargs) -> None:
    with pytest.raises((ValueError, TypeError)):
        LtscConfig(**kwargs)


def test_config_of_uncompressed_output() -> None:
    cfg = LtscConfig.from_stats({"base_id": 100, "pool_size": 8, "config": {"strategy": "none", "hierarchical": True}})
    assert not cfg.compressed and cfg.hierarchical
    assert cfg.codec() == Codec(base_id=100, pool_size=8, hierarchical=True)


# ------------------------------------------------------------------------------------------------ embeddings
def _tiny_model(vocab: int, *, tie: bool):
    torch = pytest.importorskip("torch", reason="torch not installed (pip install 'ltsc[train]')")
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab, n_positions=16, n_embd=8, n_layer=1, n_head=2, tie_word_embeddings=tie)
    return torch, GPT2LMHeadModel(config)


def _word_tokenizer(n: int) -> PreTrainedTokenizerFast:
    vocab = {f"w{i}": i for i in range(n)}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="w0")))


def test_add_meta_embeddings_tied_rows_are_the_mean() -> None:
    torch, model = _tiny_model(10, tie=True)
    before = model.get_input_embeddings().weight.detach().clone()
    tok = extend_tokenizer(_word_tokenizer(10), 3)
    assert add_meta_embeddings(model, tok) == range(10, 15)
    weight = model.get_input_embeddings().weight.detach()
    assert weight.shape == (15, 8)
    assert model.config.vocab_size == 15
    torch.testing.assert_close(weight[:10], before)
    torch.testing.assert_close(weight[10:], before.mean(dim=0).expand(5, 8))
    assert model.get_output_embeddings().weight.data_ptr() == weight.data_ptr()  # still tied
    # A second call must not erase (possibly trained) meta rows.
    with torch.no_grad():
        model.get_input_embeddings().weight[12] += 1.0
    assert add_meta_embeddings(model, tok) == range(0)
    assert model.get_input_embeddings().weight[12, 0] == before.mean(dim=0)[0] + 1.0


def test_add_meta_embeddings_untied_output_rows_are_their_own_mean() -> None:
    torch, model = _tiny_model(10, tie=False)
    inp = model.get_input_embeddings().weight.detach().clone()
    out = model.get_output_embeddings().weight.detach().clone()
    assert not torch.equal(inp.mean(0), out.mean(0))
    tok = extend_tokenizer(_word_tokenizer(10), 2)
    assert add_meta_embeddings(model, tok) == range(10, 14)
    new_out = model.get_output_embeddings().weight.detach()
    assert new_out.shape == (14, 8)
    torch.testing.assert_close(new_out[:10], out)
    torch.testing.assert_close(new_out[10:], out.mean(dim=0).expand(4, 8))
    torch.testing.assert_close(model.get_input_embeddings().weight.detach()[10:], inp.mean(dim=0).expand(4, 8))


def test_add_meta_embeddings_padded_matrix_and_refusals() -> None:
    torch, model = _tiny_model(16, tie=True)  # padded beyond its 10-token vocabulary
    tok = extend_tokenizer(_word_tokenizer(10), 2)
    base_mean = model.get_input_embeddings().weight.detach()[:10].mean(dim=0)
    assert add_meta_embeddings(model, tok) == range(0)  # rows 10..13 exist: left alone by default
    assert add_meta_embeddings(model, tok, overwrite_existing_rows=True) == range(10, 14)
    weight = model.get_input_embeddings().weight.detach()
    assert weight.shape == (16, 8)
    torch.testing.assert_close(weight[10:14], base_mean.expand(4, 8))
    _, small = _tiny_model(8, tie=True)
    with pytest.raises(ValueError, match="8 embedding rows, fewer than the tokenizer's base vocabulary"):
        add_meta_embeddings(small, tok)
    with pytest.raises(ValueError, match="no <ltsc:dict> token"):
        add_meta_embeddings(model, _word_tokenizer(10))


def test_reserved_token_ids_of_loaded_tokenizer_and_deepcopy(loaded: CompressedDataset) -> None:
    tok = copy.deepcopy(loaded.tokenizer)
    assert reserved_token_ids(tok) == (GPT2_VOCAB, POOL)
    assert extend_tokenizer(tok, POOL, base_id=GPT2_VOCAB) is tok
