"""Tokenizer loading, batch encoding into flat arrays, and the tokenizer extended with the LTSC reserved tokens.

The product's default is the bundled GPT-2 byte-level BPE tokenizer (``pipelines/assets/tokenizers/gpt2``; MIT,
built by ``scripts/build_tokenizer.py``), so nothing here needs the network. A Hugging Face hub name is accepted
only where the hub or its local cache is reachable.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tokenizers import AddedToken, Tokenizer

from ltsc import reserved_token_names
from pipelines.assets import default_tokenizer_dir

__all__ = [
    "LTSC_CONFIG_FILE",
    "NotTiktokenEquivalent",
    "TOKENIZER_BACKENDS",
    "TOKENIZER_CONFIG_FILE",
    "available_cpus",
    "TOKENIZER_FILE",
    "byte_level_token_bytes",
    "bytes_to_unicode",
    "default_tokenizer_path",
    "encode_batch",
    "encoding_backend",
    "extend_tokenizer_files",
    "load_tokenizer",
    "tiktoken_twin",
    "vocab_size",
]

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
LTSC_CONFIG_FILE = "ltsc.json"
"""Written beside an extended tokenizer: the format version, base id, pool size and reserved token names."""

# A hub repo id: "name" or "org/name" (letters, digits, "-", "_", "."), not a file name.
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_DEFAULT_CONFIG = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    # LTSC is lossless; decoding must not "clean up" spaces before punctuation.
    "clean_up_tokenization_spaces": False,
}


def default_tokenizer_path() -> str:
    """Directory of the bundled default tokenizer (GPT-2 BPE, vocabulary 50257, ``<|endoftext|>`` = 50256).

    Returns:
        An absolute directory path holding ``tokenizer.json`` and ``tokenizer_config.json``.
    """
    return default_tokenizer_dir()


def _hub_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return True
    return bool(constants.HF_HUB_OFFLINE)


def _from_hub(name: str) -> Tokenizer:
    hint = f"{name!r} is neither a {TOKENIZER_FILE} file nor a directory containing one"
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache
    except ImportError as err:
        raise FileNotFoundError(f"{hint}, and huggingface_hub is not installed to look it up") from err
    cached = try_to_load_from_cache(name, TOKENIZER_FILE)
    if isinstance(cached, str):
        return Tokenizer.from_file(cached)
    if _hub_offline():
        raise FileNotFoundError(f"{hint}; it is not in the Hugging Face cache and the hub is disabled (HF_HUB_OFFLINE)")
    try:
        path = hf_hub_download(name, TOKENIZER_FILE)
    except Exception as err:  # noqa: BLE001 - any hub failure means "not found" to the caller; keep the cause.
        raise FileNotFoundError(f"{hint}, and it could not be fetched from the Hugging Face hub: {err}") from err
    return Tokenizer.from_file(path)


def load_tokenizer(path_or_name: str | os.PathLike[str] | Tokenizer | None = None) -> Tokenizer:
    """Loads a ``tokenizers.Tokenizer``.

    Args:
        path_or_name: A ``tokenizer.json`` file, a directory containing one, a Hugging Face hub name (used only if
            the hub or its local cache is reachable), an already loaded ``Tokenizer`` (returned as is), or ``None``
            for the bundled default.

    Returns:
        The tokenizer.

    Raises:
        FileNotFoundError: Nothing loadable was found; the message says what was tried.
    """
    if isinstance(path_or_name, Tokenizer):
        return path_or_name
    if path_or_name is None:
        path_or_name = default_tokenizer_path()
    path = Path(path_or_name)
    if path.is_file():
        return Tokenizer.from_file(str(path))
    if path.is_dir():
        if (path / TOKENIZER_FILE).is_file():
            return Tokenizer.from_file(str(path / TOKENIZER_FILE))
        raise FileNotFoundError(f"directory {str(path)!r} has no {TOKENIZER_FILE}")
    name = str(path_or_name)
    if name.endswith(".json") or name.startswith((".", "~", os.sep)) or not _HUB_NAME.match(name):
        raise FileNotFoundError(f"tokenizer {name!r}: no such file or directory")
    return _from_hub(name)


def vocab_size(tok: Tokenizer) -> int:
    """Full vocabulary size, added tokens included: the default LTSC base id for this tokenizer."""
    return tok.get_vocab_size(with_added_tokens=True)


#: Where :func:`encode_batch` may encode: ``"auto"`` (tiktoken where it is proven to give the same ids, else
#: tokenizers), ``"tiktoken"`` (that, or an error saying why not) and ``"tokenizers"`` (always Hugging Face's).
TOKENIZER_BACKENDS = ("auto", "tiktoken", "tokenizers")

#: Pre-tokenizer patterns whose matches under the two regex engines (Oniguruma in tokenizers, fancy-regex in
#: tiktoken) are verified equal over every Unicode scalar value in several contexts, by
#: ``tests/pipelines/test_tiktoken_twin.py``: GPT-2's (the bundled tokenizer's, and ``ByteLevel(use_regex=True)``'s
#: built-in one), cl100k's as Hugging Face's Llama 3 tokenizer files write it, and o200k's as tiktoken defines it
#: (and ``TikTokenConverter(pattern=O200K_PATTERN)`` writes it). A tokenizer with any other pattern (Qwen2's, whose
#: ``\p{N}`` takes one digit, for one) keeps the tokenizers backend.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
CL100K_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
O200K_PATTERN = "|".join(
    (
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    )
)
VERIFIED_PATTERNS = (GPT2_PATTERN, CL100K_PATTERN, O200K_PATTERN)


class NotTiktokenEquivalent(ValueError):
    """The tokenizer's ids cannot be proven equal to tiktoken's: the message says which condition fails."""


def _byte_level_pattern(config: dict) -> str:
    """The split pattern of a byte-level pre-tokenizer that tiktoken reproduces exactly."""
    pre = config.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel":
        if pre.get("add_prefix_space") or not pre.get("use_regex", True):
            raise NotTiktokenEquivalent("ByteLevel pre-tokenizer with add_prefix_space or without its regex")
        return GPT2_PATTERN
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not steps or len(steps) != 2 or steps[0].get("type") != "Split" or steps[1].get("type") != "ByteLevel":
        raise NotTiktokenEquivalent(f"pre-tokenizer is not Split(regex) + ByteLevel: {pre.get('type')}")
    split, byte_level = steps
    pattern = (split.get("pattern") or {}).get("Regex")
    if pattern is None or split.get("behavior") != "Isolated" or split.get("invert"):
        raise NotTiktokenEquivalent("Split pre-tokenizer is not an isolating regex split")
    if byte_level.get("add_prefix_space") or byte_level.get("use_regex"):
        raise NotTiktokenEquivalent("ByteLevel step adds a prefix space or splits again")
    return pattern


def _merges_match_ranks(vocab: dict[str, int], merges: list) -> str | None:
    """Why Hugging Face's BPE over ``merges`` may differ from tiktoken's over ranks = ids (``None``: it cannot).

    tiktoken merges, at each step, the adjacent pair whose concatenation has the lowest rank (ties: leftmost);
    tokenizers the adjacent pair listed earliest in ``merges`` (ties: leftmost), and with ``ignore_merges`` both
    take a pre-token that is itself in the vocabulary whole. They pick the same pairs when the merges are exactly
    every split of every token into two tokens (tiktoken would merge any of them), listed in order of the merged
    token's id: what ``transformers``' ``TikTokenConverter`` writes.
    """
    listed = set()
    last = -1
    for merge in merges:
        left, right = merge.split(" ") if isinstance(merge, str) else merge
        target = vocab.get(left + right)
        if target is None:
            return f"merge {left!r} + {right!r} makes no token of the vocabulary"
        if target < last:
            return f"merges are not in the order of the merged token's id (at {left + right!r})"
        last = target
        listed.add((left, right))
    for token in vocab:
        for k in range(1, len(token)):
            if token[:k] in vocab and token[k:] in vocab and (token[:k], token[k:]) not in listed:
                return f"{token!r} splits into tokens {token[:k]!r} + {token[k:]!r} that no merge lists"
    return None


def _tiktoken_twin(config: dict):
    """A ``tiktoken.Encoding`` giving exactly the ids of the tokenizer file ``config``, or why not.

    ``config`` is a parsed ``tokenizer.json``; the reason is a :class:`NotTiktokenEquivalent`.
    """
    try:
        import tiktoken
    except ImportError as err:
        raise NotTiktokenEquivalent("tiktoken is not installed") from err
    if config.get("truncation") is not None or config.get("padding") is not None:
        raise NotTiktokenEquivalent("the tokenizer truncates or pads")
    model = config.get("model") or {}
    if config.get("normalizer") is not None:
        raise NotTiktokenEquivalent(f"the tokenizer normalizes text ({config['normalizer'].get('type')})")
    if model.get("type") != "BPE" or not model.get("ignore_merges"):
        raise NotTiktokenEquivalent("the model is not a BPE that takes in-vocabulary pre-tokens whole")
    if model.get("dropout") or model.get("byte_fallback") or model.get("continuing_subword_prefix"):
        raise NotTiktokenEquivalent("BPE with dropout, byte fallback or a subword prefix")
    if model.get("end_of_word_suffix"):
        raise NotTiktokenEquivalent("BPE with an end-of-word suffix")
    pattern = _byte_level_pattern(config)
    if pattern not in VERIFIED_PATTERNS:
        raise NotTiktokenEquivalent(f"split pattern {pattern!r} is not one verified against tiktoken")
    vocab: dict[str, int] = model["vocab"]
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    ranks: dict[bytes, int] = {}
    for token, i in vocab.items():
        try:
            ranks[bytes(byte_decoder[c] for c in token)] = i
        except KeyError:
            raise NotTiktokenEquivalent(f"token {i} ({token!r}) is not in the byte-level alphabet") from None
    if len(ranks) != len(vocab) or len(set(vocab.values())) != len(vocab):
        raise NotTiktokenEquivalent("two tokens share bytes or an id")
    if any(bytes([b]) not in ranks for b in range(256)):
        raise NotTiktokenEquivalent("not every byte is a token")
    why = _merges_match_ranks(vocab, model.get("merges") or [])
    if why is not None:
        raise NotTiktokenEquivalent(why)
    specials = {}
    for added in config.get("added_tokens") or []:
        if added.get("lstrip") or added.get("rstrip") or added.get("single_word"):
            raise NotTiktokenEquivalent(f"added token {added['content']!r} strips or matches whole words only")
        if added["content"] in vocab and vocab[added["content"]] != added["id"]:
            raise NotTiktokenEquivalent(f"added token {added['content']!r} has a second id")
        specials[added["content"]] = added["id"]
    # tokenizers matches added tokens leftmost-longest (special ones before the others), tiktoken leftmost in
    # no fixed order: the same only when no added token can overlap another.
    for a in specials:
        for b in specials:
            if a != b and (a in b or any(b.startswith(a[k:]) for k in range(1, len(a)))):
                raise NotTiktokenEquivalent(f"added tokens {a!r} and {b!r} can overlap")
    if set(specials.values()) & set(vocab.values()) - {vocab.get(c) for c in specials}:
        raise NotTiktokenEquivalent("an added token's id is a vocabulary token's")
    return tiktoken.Encoding("ltsc-twin", pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)


#: The tiktoken twin of each tokenizer object seen in this process (or why it has none), keyed by ``id(tok)``,
#: with the object's truncation, padding and vocabulary size when it was checked; the tokenizer is held too, so
#: its id is never reused for another while the entry lives.
_TWINS: dict[int, tuple[Tokenizer, tuple, object, str | None]] = {}

#: The same keyed by the SHA-256 of the tokenizer's whole serialized file (``Tokenizer.to_str()``, which holds
#: its truncation and padding too): a job loads its tokenizer more than once in one process (at plan time and in
#: each worker's setup), and the twin of a 200K vocabulary takes seconds to build, its file a third of a second
#: to serialize and hash.
_TWINS_BY_FILE: dict[str, tuple[object, str | None]] = {}


def _twin_of_file(tok: Tokenizer) -> tuple[object | None, str | None]:
    """:func:`tiktoken_twin` of ``tok``'s serialized file, built once per distinct file and process."""
    text = tok.to_str()
    key = hashlib.sha256(text.encode()).hexdigest()
    hit = _TWINS_BY_FILE.get(key)
    if hit is None:
        try:
            hit = (_tiktoken_twin(json.loads(text)), None)
        except NotTiktokenEquivalent as err:
            hit = (None, str(err))
        if len(_TWINS_BY_FILE) >= 8:
            _TWINS_BY_FILE.clear()
        _TWINS_BY_FILE[key] = hit
    return hit


def tiktoken_twin(tok: Tokenizer) -> tuple[object | None, str | None]:
    """The tiktoken encoder over ``tok``'s own ranks, split pattern and added tokens, where its ids are ``tok``'s.

    The conditions are checked, not assumed: no normalizer, truncation or padding; a byte-level BPE that takes
    in-vocabulary pre-tokens whole, whose merges are every two-token split of every token in the order of the
    merged token's id (as ``transformers``' ``TikTokenConverter`` writes them, and as the bundled GPT-2 has them);
    a split pattern from :data:`VERIFIED_PATTERNS`; added tokens that cannot overlap. About 0.7 s for a 50K
    vocabulary and 4 s for a 200K one, once per distinct tokenizer file and process (a second object loaded from
    the same file reuses it). A tokenizer object's result is kept while its truncation, padding and vocabulary
    size stay as they were: one that enables truncation or adds tokens afterwards is checked again.

    Returns:
        ``(encoding, None)``, or ``(None, reason)`` when the ids could differ or tiktoken is not installed.
    """
    if not isinstance(tok, Tokenizer):
        return None, f"not a tokenizers.Tokenizer but {type(tok).__name__}"
    state = (tok.truncation, tok.padding, tok.get_vocab_size(with_added_tokens=True))
    hit = _TWINS.get(id(tok))
    if hit is None or hit[0] is not tok or hit[1] != state:
        hit = (tok, state, *_twin_of_file(tok))
        if len(_TWINS) >= 8:
            _TWINS.clear()
        _TWINS[id(tok)] = hit
    return hit[2], hit[3]


def encoding_backend(tok: Tokenizer, backend: str = "auto") -> str:
    """The library :func:`encode_batch` uses for ``tok`` under ``backend``: ``"tiktoken"`` or ``"tokenizers"``.

    Raises:
        ValueError: ``backend`` is unknown, or ``"tiktoken"`` and tiktoken's ids could differ
            (:class:`NotTiktokenEquivalent`, with the reason).
    """
    if backend not in TOKENIZER_BACKENDS:
        raise ValueError(f"tokenizer backend must be one of {TOKENIZER_BACKENDS}, got {backend!r}")
    if backend == "tokenizers":
        return backend
    twin, why = tiktoken_twin(tok)
    if twin is None and backend == "tiktoken":
        raise NotTiktokenEquivalent(f"the tiktoken backend cannot give this tokenizer's ids: {why}")
    return "tokenizers" if twin is None else "tiktoken"


def _encode_threads() -> int:
    """Threads for the tiktoken backend, by the knobs that set Hugging Face tokenizers' own (Rayon) parallelism.

    ``RAYON_NUM_THREADS`` when set, one thread when ``TOKENIZERS_PARALLELISM`` is false, else every available CPU:
    so a setting that makes tokenizers serial makes tiktoken serial too.
    """
    rayon = os.environ.get("RAYON_NUM_THREADS", "").strip()
    if rayon.isdigit() and int(rayon) > 0:
        return int(rayon)
    if os.environ.get("TOKENIZERS_PARALLELISM", "").strip().lower() in {"0", "false", "no", "off"}:
        return 1
    return available_cpus()


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: The tiktoken backend's thread pools by size (tiktoken releases the GIL while it encodes), started on first use.
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _encode_all(encode, texts: list[str]) -> list:
    threads = min(_encode_threads(), len(texts))
    if threads < 2:
        return [encode(text) for text in texts]
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ltsc-tokenize")
    return list(_POOLS[threads].map(encode, texts))  # in order: the output does not depend on the threads


def encode_batch(tok: Tokenizer, texts: Sequence[str], *, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Encodes texts into one flat id array, like an Arrow ``list<int32>`` column.

    No special tokens are added (no BOS/EOS); special tokens written in the text (e.g. ``<|endoftext|>``) still map
    to their ids, and decoding gives the text back. Ids do not depend on the number of threads, nor on the backend:
    tiktoken (3-5x faster than tokenizers' own single-thread encode on the benchmark corpora) is used only where
    :func:`tiktoken_twin` proves it gives the same ids. Both backends encode texts in parallel threads, as many as
    ``RAYON_NUM_THREADS`` and ``TOKENIZERS_PARALLELISM`` allow (see :func:`_encode_threads`).

    Args:
        tok: The tokenizer.
        texts: The texts (``str``; ``None`` is refused).
        backend: One of :data:`TOKENIZER_BACKENDS` (see :func:`encoding_backend`).

    Returns:
        ``(values, offsets)``: int32 ids of all texts concatenated, and int64 offsets of length ``len(texts) + 1``
        with ``offsets[0] == 0``; text ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    Raises:
        TypeError: A text is not a ``str``.
        ValueError: See :func:`encoding_backend`.
    """
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")
    if encoding_backend(tok, backend) == "tiktoken":
        twin, _ = tiktoken_twin(tok)
        # Every added token written in a text is its own id, as in tokenizers (the twin has them as special tokens).
        ids = _encode_all(lambda text: twin.encode_to_numpy(text, allowed_special="all", disallowed_special=()), texts)
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)), out=offsets[1:])
        values = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32)
        return values, offsets
    # encode_batch_fast skips the character offsets that we do not use.
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    ids = [encoding.ids for encoding in encode(texts, add_special_tokens=False)]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)), out=offsets[1:])
    values = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1]))
    return values, offsets


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (openai/gpt-2 encoder.py).

    Every byte-level BPE vocabulary (GPT-2's, and the one ``scripts/build_tokenizer.py`` builds) writes token bytes
    as strings of these characters: printable Latin-1 bytes map to themselves, the other bytes to ``chr(256 + n)``.

    Returns:
        ``{byte: character}`` for all 256 bytes (a bijection).
    """
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def byte_level_token_bytes(tok: Tokenizer) -> dict[int, bytes]:
    """The exact bytes of every token of a byte-level BPE tokenizer (such as GPT-2).

    Decoding token by token with these bytes is exact even where a token ends inside a UTF-8 character, which
    ``Tokenizer.decode`` on a part of a sequence renders as U+FFFD.

    Args:
        tok: A tokenizer whose decoder is ``tokenizers.decoders.ByteLevel``.

    Returns:
        ``{id: bytes}`` for every id, added tokens (their UTF-8 content) included.

    Raises:
        ValueError: The tokenizer is not byte-level.
    """
    from tokenizers import decoders

    if not isinstance(tok.decoder, decoders.ByteLevel):
        raise ValueError(f"not a byte-level tokenizer (decoder is {type(tok.decoder).__name__})")
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    added = tok.get_added_tokens_decoder()
    out: dict[int, bytes] = {}
    for token, i in tok.get_vocab(with_added_tokens=True).items():
        if i in added:
            out[i] = added[i].content.encode("utf-8")
        else:
            try:
                out[i] = bytes(byte_decoder[c] for c in token)
            except KeyError as err:
                raise ValueError(f"token {i} ({token!r}) is not in the byte-level alphabet") from err
    return out


def _source_config(src: str | os.PathLike[str] | Tokenizer | None) -> dict:
    if isinstance(src, Tokenizer):
        return dict(_DEFAULT_CONFIG)
    path = Path(default_tokenizer_path() if src is None else src)
    config_path = (path if path.is_dir() else path.parent) / TOKENIZER_CONFIG_FILE
    if config_path.is_file():
        return json.loads(config_path.read_text("utf-8"))
    return dict(_DEFAULT_CONFIG)


def extend_tokenizer_files(
    src_path_or_tok: str | os.PathLike[str] | Tokenizer | None,
    out_dir: str | os.PathLike[str],
    *,
    base_id: int,
    pool_size: int,
) -> str:
    """Writes the tokenizer extended with the LTSC reserved tokens as special added tokens.

    ``<ltsc:dict>`` gets id ``base_id``, ``</ltsc:dict>`` ``base_id + 1`` and ``<ltsc:m{k}>`` ``base_id + 2 + k``
    (names from ``ltsc.reserved_token_names``). The output directory receives ``tokenizer.json``,
    ``tokenizer_config.json`` (the source's if it has one) and ``ltsc.json``; it loads with ``load_tokenizer`` and
    ``transformers.AutoTokenizer.from_pretrained``. A source that already holds exactly these tokens at these ids
    is accepted unchanged.

    Args:
        src_path_or_tok: The base tokenizer (anything ``load_tokenizer`` accepts, ``None`` for the bundled default);
            it is not modified.
        out_dir: Output directory (created if needed; existing files of the same names are replaced).
        base_id: First reserved id; must equal the base tokenizer's full vocabulary size.
        pool_size: Number of meta-tokens.

    Returns:
        ``out_dir`` as a string.

    Raises:
        ValueError: The reserved tokens would not get exactly the ids above (``base_id`` is not the vocabulary
            size, or a reserved name already exists at another id), or ``pool_size < 1``.
    """
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise ValueError(f"pool_size must be an int >= 1, got {pool_size!r}")
    if isinstance(base_id, bool) or not isinstance(base_id, int) or base_id < 1:
        raise ValueError(f"base_id must be an int >= 1, got {base_id!r}")
    # Work on a copy: the caller's tokenizer (maybe the pipeline's encoder) must keep its vocabulary.
    tok = Tokenizer.from_str(load_tokenizer(src_path_or_tok).to_str())
    names = reserved_token_names(pool_size)
    expected = {name: base_id + i for i, name in enumerate(names)}
    present = {name: tok.token_to_id(name) for name in names}
    misplaced = [name for name in names if present[name] is not None and present[name] != expected[name]]
    if misplaced:
        name = misplaced[0]
        raise ValueError(
            f"the tokenizer already has {len(misplaced)} LTSC token(s) at other ids (e.g. {name!r} = "
            f"{present[name]}, expected {expected[name]}); extend the original base tokenizer instead"
        )
    # Added tokens take consecutive ids from the current vocabulary size, in the order given.
    missing = [name for name in names if present[name] is None]
    size = vocab_size(tok)
    if missing and [expected[name] for name in missing] != list(range(size, size + len(missing))):
        if len(missing) == len(names):
            raise ValueError(
                f"base_id {base_id} does not match the tokenizer's vocabulary size {size} (added tokens included): "
                f"the LTSC tokens would get ids {size}..{size + len(names) - 1}, "
                f"not {base_id}..{base_id + len(names) - 1}"
            )
        raise ValueError(
            f"the tokenizer holds {len(names) - len(missing)} of the {len(names)} LTSC tokens and its vocabulary size "
            f"is {size}: the {len(missing)} missing ones cannot get ids from {expected[missing[0]]}"
        )
    if missing:
        tok.add_special_tokens([AddedToken(name, special=True, normalized=False) for name in missing])
    wrong = [name for name in names if tok.token_to_id(name) != expected[name]]
    if wrong:
        name = wrong[0]
        raise ValueError(
            f"{len(wrong)} LTSC token(s) got unexpected ids (e.g. {name!r} = {tok.token_to_id(name)}, "
            f"not {expected[name]})"
        )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / TOKENIZER_FILE), pretty=False)
    config = _source_config(src_path_or_tok)
    (out / TOKENIZER_CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")
    ltsc_config = {
        "format_version": 1,
        "base_id": base_id,
        "pool_size": pool_size,
        "open_token": names[0],
        "close_token": names[1],
        "meta_token_format": "<ltsc:m{k}>",
    }
    (out / LTSC_CONFIG_FILE).write_text(json.dumps(ltsc_config, indent=2) + "\n", "utf-8")
    return str(out)
