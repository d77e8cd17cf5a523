"""Tests for pipelines/tokenizer.py and the bundled GPT-2 tokenizer (pipelines/assets/tokenizers/gpt2)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from pipelines.tokenizer import (
    bytes_to_unicode,
    default_tokenizer_path,
    encode_batch,
    extend_tokenizer_files,
    load_tokenizer,
    vocab_size,
)

GPT2_VOCAB = 50257
ENDOFTEXT_ID = 50256
# sha256 of whisper/assets/gpt2.tiktoken in the openai-whisper 20250625 sdist (recorded in NOTICE).
SOURCE_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
# Written out here, not imported from the build script, so a wrong pattern there is caught.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Ids from the original GPT-2 vocabulary.
KNOWN_IDS = {
    "Hello world": [15496, 995],
    "Hello, world!": [15496, 11, 995, 0],
    "The quick brown fox": [464, 2068, 7586, 21831],
    " the": [262],
    "hello": [31373],
    "I'm fine": [40, 1101, 3734],
    "    return x\n": [220, 220, 220, 1441, 2124, 198],
    "<|endoftext|>": [ENDOFTEXT_ID],
}

EDGE_CASES = [
    "I'm can't won't we've they'll he'd she's I'M CAN'T",
    "x = 12345678901234567890 + 3.14159e-10",
    "!!!???...---***///\\\\|||~~~```",
    "naïve café résumé Straße",
    "日本語のテキストと中文文本和한국어",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
    "e\u0301 a\u0308 combining, zero\u200bwidth, nbsp\u00a0here",
    "control \x00\x01\x7f chars",
    "text<|endoftext|>more text <|endoftext|>",
    "  leading and trailing spaces   \n\n\n \t\t",
    "Ελληνικά кириллица עברית العربية हिन्दी ไทย ١٢٣ ½ ² Ⅻ",
]


def _ranks_from_bundled() -> dict[bytes, int]:
    # The byte-level table is the product's; test_bytes_to_unicode_known_values checks it independently.
    vocab = json.loads((Path(default_tokenizer_path()) / "tokenizer.json").read_text("utf-8"))["model"]["vocab"]
    decoder = {c: b for b, c in bytes_to_unicode().items()}
    return {bytes(decoder[c] for c in token): rank for token, rank in vocab.items()}


def test_bytes_to_unicode_known_values() -> None:
    """GPT-2's byte-level alphabet, checked against known entries and against the ``tokenizers`` library's own."""
    from tokenizers import pre_tokenizers

    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert set(table.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    # Printable Latin-1 bytes stand for themselves; the others map to chr(256 + n) in byte order.
    assert table[ord("A")] == "A"
    assert table[ord("~")] == "~"
    assert table[0xE9] == "\u00e9"
    assert table[0x00] == "\u0100"
    assert table[ord(" ")] == "\u0120"  # "Ġ"
    assert table[ord("\n")] == "\u010a"  # "Ċ"
    assert table[0x7F] == "\u0121"
    assert table[0xAD] == "\u0143"  # soft hyphen, the last non-printable byte


def test_bundled_files_and_provenance() -> None:
    root = Path(default_tokenizer_path())
    assert sorted(p.name for p in root.iterdir()) == ["LICENSE", "NOTICE", "tokenizer.json", "tokenizer_config.json"]
    assert "MIT License" in (root / "LICENSE").read_text("utf-8")
    notice = (root / "NOTICE").read_text("utf-8")
    assert "openai-whisper 20250625" in notice
    assert SOURCE_SHA256 in notice
    json_sha = hashlib.sha256((root / "tokenizer.json").read_bytes()).hexdigest()
    assert f"tokenizer.json sha256 {json_sha}" in notice
    config = json.loads((root / "tokenizer_config.json").read_text("utf-8"))
    assert config["clean_up_tokenization_spaces"] is False
    assert config["eos_token"] == "<|endoftext|>"


def test_vocabulary(tok: Tokenizer) -> None:
    assert vocab_size(tok) == GPT2_VOCAB
    assert tok.token_to_id("<|endoftext|>") == ENDOFTEXT_ID
    assert tok.get_vocab_size(with_added_tokens=False) == ENDOFTEXT_ID


@pytest.mark.parametrize(("text", "ids"), KNOWN_IDS.items())
def test_known_gpt2_ids(tok: Tokenizer, text: str, ids: list[int]) -> None:
    assert tok.encode(text, add_special_tokens=False).ids == ids
    assert tok.decode(ids, skip_special_tokens=False) == text


def test_vocabulary_is_the_source_file() -> None:
    """The byte-level vocabulary maps back to gpt2.tiktoken byte for byte (same sha256 as the source)."""
    ranks = _ranks_from_bundled()
    assert len(ranks) == ENDOFTEXT_ID
    serialized = b"".join(
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1])
    )
    assert hashlib.sha256(serialized).hexdigest() == SOURCE_SHA256


def test_same_ids_as_tiktoken(tok: Tokenizer, sample_texts: list[str], sample_lines: list[str]) -> None:
    """Every line of the bundled sample and some edge cases encode exactly as tiktoken's BPE over the same ranks."""
    import tiktoken

    enc = tiktoken.Encoding(
        name="gpt2-bundled",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=_ranks_from_bundled(),
        special_tokens={"<|endoftext|>": ENDOFTEXT_ID},
    )
    texts = sample_lines + sample_texts + EDGE_CASES + list(KNOWN_IDS)
    assert len(sample_lines) > 2000
    encodings = tok.encode_batch(texts, add_special_tokens=False)
    mismatches = [t for t, e in zip(texts, encodings, strict=True) if e.ids != enc.encode(t, allowed_special="all")]
    assert mismatches == []


def test_decode_is_lossless(tok: Tokenizer, sample_texts: list[str]) -> None:
    texts = sample_texts + EDGE_CASES
    values, offsets = encode_batch(tok, texts)
    decoded = [
        tok.decode(values[offsets[i] : offsets[i + 1]].tolist(), skip_special_tokens=False) for i in range(len(texts))
    ]
    assert decoded == texts


def test_encode_batch_exact(tok: Tokenizer) -> None:
    values, offsets = encode_batch(tok, ["Hello world", "", " the", "<|endoftext|>"])
    assert values.dtype == np.int32 and offsets.dtype == np.int64
    assert values.tolist() == [15496, 995, 262, ENDOFTEXT_ID]
    assert offsets.tolist() == [0, 2, 2, 3, 4]


def test_encode_batch_empty_and_bad_input(tok: Tokenizer) -> None:
    values, offsets = encode_batch(tok, [])
    assert values.dtype == np.int32 and values.shape == (0,)
    assert offsets.tolist() == [0]
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        encode_batch(tok, ["ok", None])


def test_encode_batch_matches_single_encodes(tok: Tokenizer, sample_texts: list[str]) -> None:
    values, offsets = encode_batch(tok, sample_texts)
    assert offsets.shape == (len(sample_texts) + 1,)
    for i, text in enumerate(sample_texts):
        assert values[offsets[i] : offsets[i + 1]].tolist() == tok.encode(text, add_special_tokens=False).ids


def test_load_tokenizer_accepts_file_dir_instance_default(tok: Tokenizer) -> None:
    root = Path(default_tokenizer_path())
    from_file = load_tokenizer(root / "tokenizer.json")
    from_dir = load_tokenizer(str(root))
    assert from_file.encode("Hello world").ids == from_dir.encode("Hello world").ids == [15496, 995]
    assert load_tokenizer(tok) is tok
    assert vocab_size(load_tokenizer(None)) == GPT2_VOCAB


def test_load_tokenizer_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match="has no tokenizer.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        load_tokenizer(tmp_path / "missing" / "tokenizer.json")
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        load_tokenizer("./not-here")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE"):
        load_tokenizer("ltsc-tests/no-such-tokenizer")


def test_extend_tokenizer_ids_and_names(tok: Tokenizer, tmp_path: Path) -> None:
    out = extend_tokenizer_files(None, tmp_path / "ext", base_id=GPT2_VOCAB, pool_size=3)
    assert out == str(tmp_path / "ext")
    assert sorted(p.name for p in (tmp_path / "ext").iterdir()) == [
        "ltsc.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    ext = load_tokenizer(out)
    assert vocab_size(ext) == GPT2_VOCAB + 5
    expected = ["<ltsc:dict>", "</ltsc:dict>", "<ltsc:m0>", "<ltsc:m1>", "<ltsc:m2>"]
    assert [ext.id_to_token(GPT2_VOCAB + i) for i in range(5)] == expected
    assert [ext.decode([GPT2_VOCAB + i], skip_special_tokens=False) for i in range(5)] == expected
    assert ext.decode([GPT2_VOCAB, 15496, GPT2_VOCAB + 1, 995], skip_special_tokens=False) == (
        "<ltsc:dict>Hello</ltsc:dict> world"
    )
    # Special tokens: skipped on request, and not split when they appear in text.
    assert ext.decode([GPT2_VOCAB + 2, 15496], skip_special_tokens=True) == "Hello"
    assert ext.encode("a<ltsc:m1>b", add_special_tokens=False).ids == [64, GPT2_VOCAB + 3, 65]
    # The base ids are untouched, and so is the source tokenizer.
    assert ext.encode("Hello world", add_special_tokens=False).ids == [15496, 995]
    assert vocab_size(tok) == GPT2_VOCAB
    assert json.loads((tmp_path / "ext" / "ltsc.json").read_text("utf-8")) == {
        "format_version": 1,
        "base_id": GPT2_VOCAB,
        "pool_size": 3,
        "open_token": "<ltsc:dict>",
        "close_token": "</ltsc:dict>",
        "meta_token_format": "<ltsc:m{k}>",
    }
    config = json.loads((tmp_path / "ext" / "tokenizer_config.json").read_text("utf-8"))
    assert config["clean_up_tokenization_spaces"] is False


def test_extended_tokenizer_loads_in_transformers(tmp_path: Path) -> None:
    import transformers

    out = extend_tokenizer_files(default_tokenizer_path(), tmp_path / "ext", base_id=GPT2_VOCAB, pool_size=2)
    auto = transformers.AutoTokenizer.from_pretrained(out)
    assert len(auto) == GPT2_VOCAB + 4
    assert auto.convert_ids_to_tokens([GPT2_VOCAB, GPT2_VOCAB + 1, GPT2_VOCAB + 3]) == [
        "<ltsc:dict>",
        "</ltsc:dict>",
        "<ltsc:m1>",
    ]
    assert auto("Hello world")["input_ids"] == [15496, 995]
    assert auto.decode([15496, 11, 995, 5145]) == "Hello, world !"
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(Path(out) / "tokenizer.json"))
    assert fast.convert_tokens_to_ids("<ltsc:m0>") == GPT2_VOCAB + 2


def test_extend_refuses_mismatched_base(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"base_id 50000 does not match the tokenizer's vocabulary size 50257"):
        extend_tokenizer_files(None, tmp_path / "a", base_id=50000, pool_size=4)
    with pytest.raises(ValueError, match=r"would get ids 50257\.\.50262, not 50258\.\.50263"):
        extend_tokenizer_files(None, tmp_path / "b", base_id=50258, pool_size=4)
    with pytest.raises(ValueError, match="pool_size must be an int >= 1"):
        extend_tokenizer_files(None, tmp_path / "c", base_id=GPT2_VOCAB, pool_size=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_extend_an_extended_tokenizer(tmp_path: Path) -> None:
    first = extend_tokenizer_files(None, tmp_path / "first", base_id=GPT2_VOCAB, pool_size=4)
    # Same layout again: accepted unchanged.
    again = extend_tokenizer_files(first, tmp_path / "again", base_id=GPT2_VOCAB, pool_size=4)
    assert (Path(again) / "tokenizer.json").read_bytes() == (Path(first) / "tokenizer.json").read_bytes()
    # A larger pool appends the missing meta-tokens after the existing ones.
    grown = load_tokenizer(extend_tokenizer_files(first, tmp_path / "grown", base_id=GPT2_VOCAB, pool_size=6))
    assert vocab_size(grown) == GPT2_VOCAB + 8
    assert grown.token_to_id("<ltsc:m5>") == GPT2_VOCAB + 7
    # The extended vocabulary as a new base would put <ltsc:dict> at a second id: refused.
    with pytest.raises(ValueError, match=r"already has 6 LTSC token\(s\) at other ids"):
        extend_tokenizer_files(first, tmp_path / "rebased", base_id=GPT2_VOCAB + 6, pool_size=4)
