#!/usr/bin/env python3
"""Build the bundled GPT-2 BPE tokenizer (``pipelines/assets/tokenizers/gpt2``) reproducibly and offline.

Source: ``whisper/assets/gpt2.tiktoken`` inside the ``openai-whisper`` sdist on PyPI (MIT licence). That file holds
the 50,256 GPT-2 byte-level BPE ranks (base64 token bytes, rank); ``<|endoftext|>`` is 50256.

The script converts the ranks into a Hugging Face ``tokenizer.json`` (BPE model with every merge implied by the
ranks, ``ignore_merges`` so whole pre-tokens found in the vocabulary map to one id as in tiktoken, the GPT-2
pre-tokenizer regex, byte-level alphabet), writes ``tokenizer_config.json`` and a NOTICE with the provenance, and
then checks id for id that the result encodes exactly like a ``tiktoken.Encoding`` built from the same ranks and
pattern, on built-in edge cases plus (if given) every line of some Parquet text shards.

Usage::

    python scripts/build_tokenizer.py                       # pip-downloads openai-whisper==20250625 (PyPI only)
    python scripts/build_tokenizer.py --source /tmp/w/openai_whisper-20250625.tar.gz
    python scripts/build_tokenizer.py --verify-only         # re-check the committed tokenizer.json

Needs ``tokenizers`` and ``tiktoken`` (and ``pyarrow`` for ``--verify-parquet``), and this project importable
(``pip install -e .``): the byte-level alphabet is ``pipelines.tokenizer.bytes_to_unicode``.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.tokenizer import bytes_to_unicode

WHISPER_VERSION = "20250625"
MEMBER_SUFFIX = "whisper/assets/gpt2.tiktoken"
# GPT-2's pre-tokenizer regex (openai/gpt-2 encoder.py); tiktoken's "gpt2" encoding uses the same pattern.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256
VOCAB_SIZE = 50257
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "pipelines" / "assets" / "tokenizers" / "gpt2"
DEFAULT_VERIFY_PARQUET = "/work/shared/corpus/*.parquet"

# Hand-picked edge cases: contractions, whitespace runs, digits, punctuation runs, accents, CJK, emoji (multi-byte
# and ZWJ sequences), combining marks, control characters, and the special token written as text.
EDGE_CASES = [
    "Hello world",
    " Hello world",
    "Hello  world\n\n\tindent\r\nwindows",
    "I'm can't won't we've they'll he'd she's I'M CAN'T",
    "x = 12345678901234567890 + 3.14159e-10",
    "    def f(self):\n        return {'a': [1, 2, 3]}\n",
    "!!!???...---***///\\\\|||~~~```",
    "naïve café résumé Ærøskøbing Straße",
    "日本語のテキストと中文文本和한국어",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
    "e\u0301 a\u0308 combining, zero\u200bwidth, nbsp\u00a0here",
    "control \x00\x01\x7f chars",
    "text<|endoftext|>more text <|endoftext|>",
    "<|endoftext|>",
    "  leading and trailing spaces   ",
    "\n\n\n",
    " ",
    "",
    "Ünïcödé ÀÉÎÕÜ ñ ç ø å ß ẞ",
    "Ελληνικά кириллица עברית العربية हिन्दी ไทย",
    "tab\tseparated\tvalues\t\t\tend",
    "'''\"\"\"''' 's 't 're 've 'm 'll 'd",
    "1,000,000 1.000.000 ١٢٣ ½ ² ⅓ Ⅻ",
]


def sha256_file(path: Path) -> str:
    """Returns the hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sdist(dest: Path) -> Path:
    """Downloads the pinned openai-whisper sdist from PyPI with pip (no dependencies, no wheels)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"openai-whisper=={WHISPER_VERSION}",
        "-d",
        str(dest),
    ]
    subprocess.run(cmd, check=True)
    (sdist,) = sorted(dest.glob("openai_whisper-*.tar.gz"))
    return sdist


def extract_ranks_file(sdist: Path, dest: Path) -> Path:
    """Extracts ``whisper/assets/gpt2.tiktoken`` from the sdist into ``dest``."""
    with tarfile.open(sdist, "r:gz") as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith(MEMBER_SUFFIX)]
        data = tar.extractfile(member).read()
    out = dest / "gpt2.tiktoken"
    out.write_bytes(data)
    return out


def load_ranks(path: Path) -> dict[bytes, int]:
    """Parses a ``.tiktoken`` file (one ``base64(token) rank`` per line) and checks the ranks are ``0..n-1``."""
    ranks: dict[bytes, int] = {}
    for line in path.read_bytes().splitlines():
        if not line:
            continue
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise ValueError(f"{path}: ranks are not a permutation of 0..{len(ranks) - 1}")
    if len(ranks) != ENDOFTEXT_ID:
        raise ValueError(f"{path}: expected {ENDOFTEXT_ID} ranks (GPT-2), found {len(ranks)}")
    return ranks


def ranks_from_vocab(vocab: dict[str, int]) -> dict[bytes, int]:
    """Inverts the byte-level alphabet: a ``tokenizer.json`` BPE vocab back to tiktoken ranks (no added tokens)."""
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    return {bytes(byte_decoder[c] for c in token): rank for token, rank in vocab.items()}


def serialize_ranks(ranks: dict[bytes, int]) -> bytes:
    """Serializes ranks in the ``.tiktoken`` format (rank order), byte-identical to the upstream file."""
    return b"".join(
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1])
    )


def build_tokenizer(ranks: dict[bytes, int]):
    """Builds the ``tokenizers.Tokenizer`` equivalent to tiktoken's BPE over ``ranks``.

    Every split ``(left, right)`` of a token whose halves are both tokens becomes a merge, ordered by the rank of
    the merged token (then the halves' ranks): that is tiktoken's rule "merge the adjacent pair whose concatenation
    has the lowest rank" (the same derivation as ``transformers.convert_slow_tokenizer.TikTokenConverter``).
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE

    byte_encoder = bytes_to_unicode()

    def to_str(token: bytes) -> str:
        return "".join(byte_encoder[b] for b in token)

    vocab = {to_str(token): rank for token, rank in ranks.items()}
    merges: list[tuple[int, int, int]] = []
    for token, rank in ranks.items():
        local = []
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                local.append((rank, ranks[left], ranks[right], left, right))
        merges.extend(local)
    merges.sort(key=lambda m: m[:3])
    merge_strs = [(to_str(left), to_str(right)) for _, _, _, left, right in merges]

    tok = Tokenizer(BPE(vocab, merge_strs, fuse_unk=False, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(ENDOFTEXT, normalized=False, special=True)])
    if tok.token_to_id(ENDOFTEXT) != ENDOFTEXT_ID or tok.get_vocab_size(with_added_tokens=True) != VOCAB_SIZE:
        raise AssertionError("unexpected special-token id or vocabulary size")
    return tok


def tiktoken_encoding(ranks: dict[bytes, int]):
    """The reference: a ``tiktoken.Encoding`` over the same ranks and pattern (no download)."""
    import tiktoken

    return tiktoken.Encoding(
        name="gpt2-local",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: ENDOFTEXT_ID},
    )


def parquet_lines(pattern: str, *, max_lines: int) -> Iterator[str]:
    """Yields up to ``max_lines`` distinct non-empty lines (newline kept) from the ``text`` column of shards."""
    import pyarrow.parquet as pq

    seen = 0
    for path in sorted(glob.glob(pattern)):
        for text in pq.read_table(path, columns=["text"]).column("text").to_pylist():
            for line in text.splitlines(keepends=True):
                if line.strip():
                    yield line
                    seen += 1
                    if seen >= max_lines:
                        return


def compare(tok, enc, texts: Iterable[str]) -> tuple[int, int, list[str]]:
    """Encodes ``texts`` with both tokenizers; returns (texts, tokens, mismatching texts)."""
    texts = list(texts)
    encodings = tok.encode_batch(texts, add_special_tokens=False)
    mismatches = []
    n_tokens = 0
    for text, encoding in zip(texts, encodings, strict=True):
        expected = enc.encode(text, allowed_special="all")
        n_tokens += len(expected)
        if encoding.ids != expected or tok.decode(encoding.ids, skip_special_tokens=False) != text:
            mismatches.append(text)
    return len(texts), n_tokens, mismatches


def tokenizer_config() -> dict:
    """``tokenizer_config.json`` for ``transformers.AutoTokenizer`` (GPT-2 conventions, lossless decoding)."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 1024,
        "bos_token": ENDOFTEXT,
        "eos_token": ENDOFTEXT,
        "unk_token": ENDOFTEXT,
        "add_prefix_space": False,
        # Decoding must give back the exact text: never "clean up" spaces before punctuation.
        "clean_up_tokenization_spaces": False,
    }


def notice(*, sdist_name: str, sdist_sha256: str | None, ranks_sha256: str, json_sha256: str) -> str:
    """Text of the NOTICE file: licence and provenance."""
    sdist_line = f"sha256 {sdist_sha256}" if sdist_sha256 else "sha256 not recorded (built from the extracted file)"
    return f"""GPT-2 byte-level BPE tokenizer (vocabulary size 50257, <|endoftext|> = 50256)

Licence: MIT (see LICENSE in this directory). The GPT-2 vocabulary and merges were released by OpenAI under the
MIT licence (github.com/openai/gpt-2); this copy was taken from OpenAI's openai-whisper package (MIT).

Provenance:
  package:      openai-whisper {WHISPER_VERSION} (PyPI sdist {sdist_name}, {sdist_line})
  source file:  {MEMBER_SUFFIX}
  source sha256 {ranks_sha256}
  converted by: scripts/build_tokenizer.py (GPT-2 pre-tokenizer regex, byte-level BPE, ignore_merges=True)
  tokenizer.json sha256 {json_sha256}

Verified id-for-id against tiktoken.Encoding built from the same ranks and pattern (scripts/build_tokenizer.py,
tests/pipelines/test_tokenizer.py).
"""


MIT_LICENSE = """MIT License

Copyright (c) 2019 OpenAI (GPT-2 vocabulary and merges)
Copyright (c) 2022 OpenAI (openai-whisper, the distribution this copy was taken from)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def verify(tok, ranks: dict[bytes, int], *, parquet: str | None, max_lines: int) -> None:
    """Checks ``tok`` against tiktoken on the edge cases and Parquet lines; exits non-zero on any mismatch."""
    enc = tiktoken_encoding(ranks)
    texts = list(EDGE_CASES)
    if parquet and glob.glob(parquet):
        texts += list(parquet_lines(parquet, max_lines=max_lines))
    else:
        print(f"note: no Parquet shards match {parquet!r}; checking the built-in edge cases only")
    n_texts, n_tokens, mismatches = compare(tok, enc, texts)
    print(f"verified {n_texts} texts / {n_tokens} tokens against tiktoken: {len(mismatches)} mismatches")
    if mismatches:
        for text in mismatches[:10]:
            print(f"  MISMATCH {text!r}")
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Builds (or with ``--verify-only`` re-checks) the bundled tokenizer."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="openai-whisper sdist (.tar.gz) or a gpt2.tiktoken file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--verify-parquet", default=DEFAULT_VERIFY_PARQUET, help="glob of shards with a text column")
    parser.add_argument("--max-lines", type=int, default=5000)
    parser.add_argument("--verify-only", action="store_true", help="check the existing OUT/tokenizer.json only")
    args = parser.parse_args(argv)

    from tokenizers import Tokenizer

    if args.verify_only:
        tok = Tokenizer.from_file(str(args.out / "tokenizer.json"))
        ranks = ranks_from_vocab(json.loads((args.out / "tokenizer.json").read_text("utf-8"))["model"]["vocab"])
        verify(tok, ranks, parquet=args.verify_parquet, max_lines=args.max_lines)
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        source = args.source or fetch_sdist(tmp_dir)
        sdist_sha256 = None
        sdist_name = "(not used)"
        if source.name.endswith(".tar.gz"):
            sdist_sha256, sdist_name = sha256_file(source), source.name
            ranks_path = extract_ranks_file(source, tmp_dir)
        else:
            ranks_path = source
        ranks_sha256 = sha256_file(ranks_path)
        ranks = load_ranks(ranks_path)
        if serialize_ranks(ranks) != ranks_path.read_bytes():
            raise AssertionError("the .tiktoken file is not in canonical form; its sha256 could not be re-derived")

    tok = build_tokenizer(ranks)
    if ranks_from_vocab(json.loads(tok.to_str())["model"]["vocab"]) != ranks:
        raise AssertionError("the byte-level vocabulary does not invert to the source ranks")
    verify(tok, ranks, parquet=args.verify_parquet, max_lines=args.max_lines)

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "tokenizer.json"
    tok.save(str(json_path), pretty=False)
    (args.out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(), indent=2) + "\n", "utf-8")
    (args.out / "LICENSE").write_text(MIT_LICENSE, "utf-8")
    (args.out / "NOTICE").write_text(
        notice(
            sdist_name=sdist_name,
            sdist_sha256=sdist_sha256,
            ranks_sha256=ranks_sha256,
            json_sha256=sha256_file(json_path),
        ),
        "utf-8",
    )
    print(f"wrote {args.out} (tokenizer.json sha256 {sha256_file(json_path)}, source sha256 {ranks_sha256})")


if __name__ == "__main__":
    main()
