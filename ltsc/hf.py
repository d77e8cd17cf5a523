"""Training adapter for Hugging Face ``transformers`` / ``datasets`` (optional; install ``ltsc[beam,train]``).

What a fine-tuning script needs around an ``ltsc-pipeline`` output directory ``OUT``:

- :func:`load_compressed`: the records as a ``datasets.Dataset``, the extended tokenizer from ``OUT/tokenizer`` and
  the codec settings (:class:`LtscConfig`, from ``OUT/stats.json``, checked against ``OUT/tokenizer/ltsc.json``).
- :func:`extend_tokenizer`: add ``<ltsc:dict>``, ``</ltsc:dict>``, ``<ltsc:m0>``... to a base tokenizer at the ids
  the codec uses, or refuse it.
- :func:`add_meta_embeddings`: grow a model's embedding matrix for those tokens, new rows set to the mean embedding.
- :class:`LtscCollator`: pad compressed prompts, append uncompressed responses, mask prompt and padding in ``labels``.
- :func:`decompress_dataset`: the original token ids back, batch by batch, for audits and baselines.

``transformers``, ``datasets``, ``pyarrow`` and ``torch`` are imported inside the functions that use them, so
``import ltsc.hf`` costs nothing and the core package keeps its layer rule (tests/test_layers.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ltsc.codec import DEFAULT_STRATEGY, STRATEGIES, Codec, reserved_token_names

if TYPE_CHECKING:
    import datasets
    import transformers

__all__ = [
    "CompressedDataset",
    "LtscCollator",
    "LtscConfig",
    "add_meta_embeddings",
    "decompress_dataset",
    "extend_tokenizer",
    "load_compressed",
    "reserved_token_ids",
]

STATS_FILE = "stats.json"
SUCCESS_FILE = "_SUCCESS"
TOKENIZER_DIR = "tokenizer"
LTSC_TOKENIZER_CONFIG = "ltsc.json"
IGNORE_INDEX = -100
"""Label value ignored by PyTorch's cross-entropy (``ignore_index``) and thus by every ``transformers`` LM loss."""

_OPEN, _CLOSE = reserved_token_names(1)[:2]
_META_PREFIX, _META_SUFFIX = "<ltsc:m", ">"


# ---------------------------------------------------------------------------------------------------------------- #
# Codec settings of an output directory
# ---------------------------------------------------------------------------------------------------------------- #
@dataclass(frozen=True, slots=True, kw_only=True)
class LtscConfig:
    """The codec settings a compressed dataset was written with.

    Attributes:
        base_id: First reserved id (``<ltsc:dict>``); the base tokenizer's full vocabulary size.
        pool_size: Number of meta-tokens ``<ltsc:m0>`` ... ``<ltsc:m{pool_size - 1}>``.
        format_version: LTSC format version (only 1 exists).
        hierarchical: Definitions may use earlier meta-tokens (decoding needs to know).
        strategy: The pipeline's strategy, ``"none"`` when ``input_ids`` were written uncompressed, ``None`` unknown.
        seed: Global seed of the meta-id assignment.
    """

    base_id: int
    pool_size: int
    format_version: int = 1
    hierarchical: bool = False
    strategy: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("base_id", "pool_size", "format_version", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.base_id < 1:
            raise ValueError(f"base_id must be >= 1, got {self.base_id}")
        if self.pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {self.pool_size}")
        if self.format_version != 1:
            raise ValueError(f"unsupported LTSC format version {self.format_version} (this ltsc reads version 1)")
        if not isinstance(self.hierarchical, bool):
            raise TypeError(f"hierarchical must be a bool, got {type(self.hierarchical).__name__}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")

    @property
    def vocab_size(self) -> int:
        """Size of the extended vocabulary: ``base_id + 2 + pool_size``."""
        return self.base_id + 2 + self.pool_size

    @property
    def compressed(self) -> bool:
        """Whether ``input_ids`` hold compressed records (``False`` for the pipeline's ``--strategy none``)."""
        return self.strategy != "none"

    def codec(self) -> Codec:
        """A :class:`~ltsc.Codec` that decodes (and re-encodes the same way as) the dataset's records."""
        strategy = self.strategy if self.strategy in STRATEGIES else DEFAULT_STRATEGY
        return Codec(
            base_id=self.base_id,
            pool_size=self.pool_size,
            strategy=strategy,
            seed=self.seed,
            hierarchical=self.hierarchical,
        )

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> LtscConfig:
        """Reads the settings from the content of an output's ``stats.json``.

        Raises:
            KeyError: ``base_id`` or ``pool_size`` is missing.
        """
        run = stats.get("config") or {}
        return cls(
            base_id=int(stats["base_id"]),
            pool_size=int(stats["pool_size"]),
            format_version=int(stats.get("format_version", 1)),
            hierarchical=bool(run.get("hierarchical", False)),
            strategy=run.get("strategy"),
            seed=int(run.get("seed", 0)),
        )


@dataclass(frozen=True, slots=True)
class CompressedDataset:
    """What :func:`load_compressed` returns.

    Attributes:
        dataset: The records (``datasets.Dataset``, or a ``DatasetDict`` with one ``"train"`` split).
        tokenizer: The extended tokenizer from ``OUT/tokenizer`` (``None`` when not loaded).
        config: The codec settings.
        stats: The content of ``OUT/stats.json`` (``token_reduction``, ``attention_reduction``, ...).
        path: The output directory.
    """

    dataset: datasets.Dataset | datasets.DatasetDict
    tokenizer: transformers.PreTrainedTokenizerBase | None
    config: LtscConfig
    stats: dict[str, Any] = field(repr=False)
    path: str

    @property
    def codec(self) -> Codec:
        """The codec that decodes :attr:`dataset`'s ``input_ids``."""
        return self.config.codec()


# ---------------------------------------------------------------------------------------------------------------- #
# Tokenizer
# ---------------------------------------------------------------------------------------------------------------- #
def _meta_tokens(vocab: Mapping[str, int]) -> dict[str, int]:
    return {
        name: i
        for name, i in vocab.items()
        if name.startswith(_META_PREFIX) and name.endswith(_META_SUFFIX) and name[len(_META_PREFIX) : -1].isdigit()
    }


def reserved_token_ids(tokenizer: transformers.PreTrainedTokenizerBase) -> tuple[int, int]:
    """Finds the LTSC tokens in a tokenizer and checks that they follow format v1.

    Args:
        tokenizer: A ``transformers`` tokenizer (fast or slow).

    Returns:
        ``(base_id, pool_size)``: ``<ltsc:dict>`` is ``base_id``, ``</ltsc:dict>`` ``base_id + 1`` and
        ``<ltsc:m{k}>`` ``base_id + 2 + k`` for ``k < pool_size``.

    Raises:
        ValueError: The tokenizer has no LTSC tokens, or they are not at those ids.
    """
    vocab = tokenizer.get_vocab()
    base = vocab.get(_OPEN)
    if base is None:
        raise ValueError(f"the tokenizer has no {_OPEN} token: extend it first (ltsc.hf.extend_tokenizer)")
    metas = _meta_tokens(vocab)
    pool_size = len(metas)
    if pool_size == 0:
        raise ValueError(f"the tokenizer has {_OPEN} but no meta-tokens <ltsc:m0>...")
    expected = dict(zip(reserved_token_names(pool_size), range(base, base + 2 + pool_size), strict=True))
    got = {name: vocab.get(name) for name in expected}
    wrong = [name for name, i in expected.items() if got[name] != i]
    if wrong:
        name = wrong[0]
        raise ValueError(
            f"the tokenizer's LTSC tokens do not follow format v1: {name!r} has id {got[name]}, expected "
            f"{expected[name]} ({_OPEN} = {base}, {len(metas)} meta-tokens)"
        )
    return base, pool_size


def extend_tokenizer(
    tokenizer: transformers.PreTrainedTokenizerBase,
    pool_size: int,
    *,
    base_id: int | None = None,
) -> transformers.PreTrainedTokenizerBase:
    """Adds the LTSC reserved tokens to ``tokenizer`` as special tokens, at the ids the codec uses.

    ``<ltsc:dict>`` gets id ``B``, ``</ltsc:dict>`` ``B + 1`` and ``<ltsc:m{k}>`` ``B + 2 + k``, where ``B`` is
    ``len(tokenizer)`` before the call (the base tokenizer's full vocabulary, added tokens included: the codec's
    default base id). The tokens are added with ``special_tokens=True``: never split, never normalized, skipped by
    ``decode(..., skip_special_tokens=True)``; this matches the ``OUT/tokenizer`` the pipeline writes.

    The tokenizer is **modified in place** and returned (like ``tokenizer.add_special_tokens``); every check runs
    before anything is added, so a refused tokenizer is left unchanged. ``copy.deepcopy`` it first to keep the
    original. A tokenizer that already holds exactly these tokens at these ids is returned unchanged.

    Args:
        tokenizer: A ``transformers`` tokenizer (``PreTrainedTokenizerFast`` or a slow one).
        pool_size: Number of meta-tokens (the pipeline's ``--pool-size``).
        base_id: The base id the data was compressed with (``stats.json``'s ``base_id``); checked against
            ``len(tokenizer)``. ``None``: ``len(tokenizer)``.

    Returns:
        ``tokenizer`` itself.

    Raises:
        ValueError: The tokens would not get exactly these ids: ``base_id`` differs from ``len(tokenizer)`` (e.g.
            a pad token was added after the data was compressed), the tokenizer already has LTSC tokens in another
            layout (other base id or pool size), or its ids have gaps so new ids would not start at
            ``len(tokenizer)``.
    """
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise ValueError(f"pool_size must be an int >= 1, got {pool_size!r}")
    if base_id is not None and (isinstance(base_id, bool) or not isinstance(base_id, int) or base_id < 1):
        raise ValueError(f"base_id must be an int >= 1 or None, got {base_id!r}")
    names = reserved_token_names(pool_size)
    vocab = tokenizer.get_vocab()
    if _OPEN in vocab or _CLOSE in vocab or _meta_tokens(vocab):
        # Already extended: accept exactly the layout asked for, nothing else.
        try:
            found = reserved_token_ids(tokenizer)
        except ValueError as err:
            raise ValueError(f"the tokenizer already has LTSC tokens, not in format v1 layout: {err}") from err
        if found == (base_id if base_id is not None else found[0], pool_size):
            return tokenizer
        raise ValueError(
            f"the tokenizer is already extended with base_id {found[0]} and pool_size {found[1]}, not base_id "
            f"{base_id if base_id is not None else 'len(tokenizer)'} and pool_size {pool_size}; extend the original "
            "base tokenizer instead"
        )
    size = len(tokenizer)
    if base_id is not None and base_id != size:
        raise ValueError(
            f"base_id {base_id} does not match the tokenizer's vocabulary size {size} (added tokens included): the "
            f"LTSC tokens would get ids {size}..{size + len(names) - 1}, not {base_id}..{base_id + len(names) - 1}. "
            "Use the tokenizer the data was compressed with, before any token was added to it"
        )
    ids = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
    if ids.size != size or (ids.size and (int(ids.max()) != size - 1 or np.unique(ids).size != size)):
        top = int(ids.max()) if ids.size else -1
        raise ValueError(
            f"the tokenizer's ids are not exactly 0..{size - 1} (it maps {ids.size} tokens to "
            f"{np.unique(ids).size} distinct ids up to {top}), so added tokens would not get ids from "
            f"len(tokenizer) = {size}, the codec's base id"
        )
    from transformers import AddedToken

    tokenizer.add_tokens([AddedToken(name, special=True, normalized=False) for name in names], special_tokens=True)
    got = reserved_token_ids(tokenizer)
    if got != (size, pool_size):  # pragma: no cover - the checks above make this unreachable for known tokenizers
        raise ValueError(f"LTSC tokens got ids from {got[0]} (pool {got[1]}), expected from {size}")
    return tokenizer


# ---------------------------------------------------------------------------------------------------------------- #
# Loading an output directory
# ---------------------------------------------------------------------------------------------------------------- #
def _read_config(out: Path) -> tuple[LtscConfig, dict[str, Any]]:
    stats_path = out / STATS_FILE
    if not stats_path.is_file():
        raise FileNotFoundError(f"{out} has no {STATS_FILE}: not an ltsc-pipeline output (or not finished)")
    stats = json.loads(stats_path.read_text("utf-8"))
    try:
        config = LtscConfig.from_stats(stats)
    except KeyError as err:
        raise ValueError(f"{stats_path} lacks {err.args[0]!r}: written by an older ltsc-pipeline?") from err
    tok_config = out / TOKENIZER_DIR / LTSC_TOKENIZER_CONFIG
    if tok_config.is_file():
        recorded = json.loads(tok_config.read_text("utf-8"))
        for key in ("base_id", "pool_size", "format_version"):
            if key in recorded and recorded[key] != getattr(config, key):
                raise ValueError(
                    f"{tok_config} says {key} = {recorded[key]} but {stats_path} says {getattr(config, key)}: "
                    "the directory mixes two runs"
                )
    return config, stats


def load_compressed(
    path: str | os.PathLike[str],
    *,
    split: str | None = "train",
    tokenizer: bool = True,
    cache_dir: str | None = None,
    keep_in_memory: bool | None = None,
    require_complete: bool = True,
) -> CompressedDataset:
    """Loads an ``ltsc-pipeline`` output directory for training.

    Parquet outputs are read with ``datasets.load_dataset("parquet", ...)`` (memory-mapped through the datasets
    cache), Arrow outputs (``--format arrow``) with ``datasets.load_from_disk``. Part files are read in name order,
    so row order is the same on every load.

    Args:
        path: The pipeline's ``--output`` directory (local; copy remote outputs first).
        split: ``"train"`` (the only split the pipeline writes) for a ``Dataset``, ``None`` for a ``DatasetDict``.
        tokenizer: Load ``OUT/tokenizer`` with ``transformers.AutoTokenizer`` and check its LTSC tokens.
        cache_dir: The datasets cache directory (``None``: the default).
        keep_in_memory: Passed to ``datasets`` (copy the records into memory instead of memory-mapping).
        require_complete: Refuse a directory without ``_SUCCESS`` (an unfinished or failed run).

    Returns:
        A :class:`CompressedDataset`: ``dataset``, ``tokenizer``, ``config`` (base id, pool size, ...) and ``stats``.

    Raises:
        FileNotFoundError: ``path`` is not a finished pipeline output, or has no ``tokenizer/`` while ``tokenizer``
            is asked for.
        ValueError: Inconsistent metadata, no records, an unknown split, or a tokenizer whose LTSC tokens are not at
            the recorded ids.
    """
    import datasets

    out = Path(path)
    if not out.is_dir():
        raise FileNotFoundError(f"{out} is not a directory")
    if require_complete and not (out / SUCCESS_FILE).exists():
        raise FileNotFoundError(
            f"{out} has no {SUCCESS_FILE}: the pipeline did not finish (or some record failed verification); pass "
            "require_complete=False to load it anyway"
        )
    if split not in (None, "train"):
        raise ValueError(f"ltsc-pipeline outputs have one split, 'train'; got split={split!r}")
    config, stats = _read_config(out)
    data_dir = out / "data"
    if stats.get("format", "parquet") == "arrow":
        ds = datasets.load_from_disk(str(data_dir), keep_in_memory=keep_in_memory)
        result = ds if split else datasets.DatasetDict({"train": ds})
    else:
        names = stats.get("data_files") or sorted(p.name for p in data_dir.glob("*.parquet"))
        files = [str(data_dir / name) for name in names]
        if not files:
            raise ValueError(f"{out} holds no records (no part files in {data_dir})")
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise FileNotFoundError(f"{missing[0]} is listed in {STATS_FILE} but missing")
        result = datasets.load_dataset(
            "parquet", data_files={"train": files}, split=split, cache_dir=cache_dir, keep_in_memory=keep_in_memory
        )
    tok = None
    if tokenizer:
        from transformers import AutoTokenizer

        if not (out / TOKENIZER_DIR).is_dir():
            raise FileNotFoundError(
                f"{out} has no {TOKENIZER_DIR}/ (the pipeline writes none when --base-id differs from the tokenizer's "
                "vocabulary size); pass tokenizer=False and extend your tokenizer with extend_tokenizer"
            )
        tok = AutoTokenizer.from_pretrained(str(out / TOKENIZER_DIR))
        found = reserved_token_ids(tok)
        if found != (config.base_id, config.pool_size):
            raise ValueError(
                f"{out / TOKENIZER_DIR} has the LTSC tokens from id {found[0]} with {found[1]} meta-tokens, but the "
                f"data was written with base_id {config.base_id} and pool_size {config.pool_size}"
            )
    return CompressedDataset(dataset=result, tokenizer=tok, config=config, stats=stats, path=str(out))


# ---------------------------------------------------------------------------------------------------------------- #
# Decompression (audits, uncompressed baselines)
# ---------------------------------------------------------------------------------------------------------------- #
def _decompress_table(table, *, codec: Codec, column: str, output_column: str, length_column: str | None):
    """``datasets.map`` function over an Arrow batch: the whole column goes through one ``decompress_batch`` call."""
    import pyarrow as pa

    arr = table.column(column).combine_chunks()
    if arr.null_count:
        raise ValueError(f"column {column!r} has {arr.null_count} null record(s)")
    # A sliced list array keeps its parent's offsets: rebase them onto the slice of the child values.
    offsets = np.asarray(arr.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    values = arr.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    out_values, out_offsets = codec.decompress_batch(values, offsets)
    if length_column is not None:
        expected = table.column(length_column).to_numpy()
        got = np.diff(out_offsets)
        bad = np.flatnonzero(got != expected)
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"record {i} of a batch decompresses to {int(got[i])} ids but its {length_column!r} is "
                f"{int(expected[i])}: the data and the codec settings do not match"
            )
    if out_offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError("a batch decompresses to more than 2**31 ids: lower batch_size")
    ids = pa.ListArray.from_arrays(pa.array(out_offsets.astype(np.int32)), pa.array(out_values, pa.int32()))
    if output_column in table.column_names:
        return table.set_column(table.schema.get_field_index(output_column), output_column, ids)
    return table.append_column(output_column, ids)


def decompress_dataset(
    ds: datasets.Dataset | datasets.DatasetDict | CompressedDataset,
    codec: Codec | None = None,
    *,
    column: str = "input_ids",
    output_column: str | None = None,
    length_column: str | None = "original_length",
    batch_size: int = 1000,
    num_proc: int | None = None,
    load_from_cache_file: bool | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """Restores the original token ids of every record (``datasets.map(batched=True)``, one codec call per batch).

    Each batch is read in Arrow format; its list column becomes flat int32 values + int64 offsets by numpy views
    of the Arrow buffers (no Python loop over records) and goes through :meth:`Codec.decompress_batch`. The result
    keeps every other column and the dataset's format.

    Args:
        ds: A dataset with a compressed ``column``, or what :func:`load_compressed` returned.
        codec: The codec the data was written with; ``None`` takes it from ``ds`` when ``ds`` is a
            :class:`CompressedDataset` (a plain ``Dataset`` does not record base id and pool size).
        column: The compressed list column.
        output_column: Where to write the original ids (``None``: replace ``column``).
        length_column: A column holding each record's original length, checked against the result (``None`` or a
            column the dataset lacks: no check).
        batch_size: Records per codec call.
        num_proc: Processes for ``datasets.map``.
        load_from_cache_file: Passed to ``datasets.map``.

    Returns:
        A ``Dataset`` (or ``DatasetDict``) whose ``output_column`` holds the original ids as ``list<int32>``.

    Raises:
        TypeError: ``codec`` is needed but not given.
        ValueError: A record is not valid format v1 (``LtscFormatError``, naming the record in its batch) or does
            not decompress to its recorded length.
    """
    import datasets

    if isinstance(ds, CompressedDataset):
        codec = codec or ds.codec
        ds = ds.dataset
    if codec is None:
        raise TypeError(
            "decompress_dataset needs the codec the data was written with: pass codec=load_compressed(OUT).codec, "
            "or pass the CompressedDataset itself"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(ds, datasets.DatasetDict):
        return datasets.DatasetDict(
            {
                name: decompress_dataset(
                    split,
                    codec,
                    column=column,
                    output_column=output_column,
                    length_column=length_column,
                    batch_size=batch_size,
                    num_proc=num_proc,
                    load_from_cache_file=load_from_cache_file,
                )
                for name, split in ds.items()
            }
        )
    if column not in ds.column_names:
        raise ValueError(f"no column {column!r} (columns: {ds.column_names})")
    fmt = ds.format
    out = ds.with_format("arrow").map(
        _decompress_table,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        load_from_cache_file=load_from_cache_file,
        fn_kwargs={
            "codec": codec,
            "column": column,
            "output_column": output_column or column,
            "length_column": length_column if length_column in ds.column_names else None,
        },
        desc="ltsc decompress",
    )
    columns = fmt["columns"]
    if columns is not None and set(columns) == set(ds.column_names):
        columns = None
    return out.with_format(
        fmt["type"], columns=columns, output_all_columns=fmt["output_all_columns"], **fmt["format_kwargs"]
    )


# ---------------------------------------------------------------------------------------------------------------- #
# Collator
# ---------------------------------------------------------------------------------------------------------------- #
def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class LtscCollator:
    """Batches records for causal-LM training: compressed prompt, uncompressed response, labels, attention mask.

    Each record's sequence is ``input_ids`` (the compressed prompt, dictionary included), then its response ids
    when the record has a ``response_column`` field (the pipeline's ``--response-column``: tokenized, never
    compressed), then ``eos_token_id`` if set. Sequences are right-padded to the longest in the batch.

    ``labels`` are the sequence itself (the model shifts them, as every ``transformers`` causal LM does) with
    ``label_pad_id`` on padding and, for records with a response and ``mask_prompt``, on the prompt, so only the
    response (and EOS) is learned, as the paper trains. Records without a response are learned whole, dictionary
    included. ``attention_mask`` is 1 on real tokens, 0 on padding.

    Attributes:
        pad_token_id: Id written on padding positions of ``input_ids`` (masked everywhere else).
        input_column: Feature holding the compressed ids.
        response_column: Feature holding the response ids (``None``: never look for one).
        eos_token_id: Appended after the response (or the whole sequence), and learned.
        mask_prompt: Mask the prompt in ``labels`` when a response is present.
        max_length: Cut sequences longer than this from the right (response end first). ``None``: no cut.
        pad_to_multiple_of: Round the padded length up to a multiple of this.
        label_pad_id: Label of ignored positions (PyTorch's ``ignore_index``).
        return_tensors: ``"pt"`` (torch ``int64`` tensors), ``"np"`` (numpy ``int64``), or ``None``: torch when it
            is installed, else numpy.
    """

    pad_token_id: int
    input_column: str = "input_ids"
    response_column: str | None = "response_ids"
    eos_token_id: int | None = None
    mask_prompt: bool = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_id: int = IGNORE_INDEX
    return_tensors: str | None = None

    def __post_init__(self) -> None:
        for name in ("pad_token_id", "label_pad_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.pad_token_id < 0:
            raise ValueError(f"pad_token_id must be >= 0, got {self.pad_token_id}")
        if self.eos_token_id is not None and (isinstance(self.eos_token_id, bool) or self.eos_token_id < 0):
            raise ValueError(f"eos_token_id must be an id >= 0 or None, got {self.eos_token_id!r}")
        for name in ("max_length", "pad_to_multiple_of"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1 or None, got {value!r}")
        if self.return_tensors not in (None, "pt", "np"):
            raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {self.return_tensors!r}")
        if not self.input_column:
            raise ValueError("input_column must be a column name")

    def _one(self, feature: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        prompt = np.asarray(feature[self.input_column], dtype=np.int64).reshape(-1)
        response = feature.get(self.response_column) if self.response_column else None
        eos = np.array([self.eos_token_id] if self.eos_token_id is not None else [], dtype=np.int64)
        if response is None:
            ids = np.concatenate([prompt, eos])
            labels = ids.copy()
        else:
            response = np.asarray(response, dtype=np.int64).reshape(-1)
            ids = np.concatenate([prompt, response, eos])
            labels = ids.copy()
            if self.mask_prompt:
                labels[: prompt.size] = self.label_pad_id
        if self.max_length is not None:
            ids, labels = ids[: self.max_length], labels[: self.max_length]
        return ids, labels

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Collates a list of records (dicts with at least ``input_column``).

        Returns:
            ``{"input_ids", "attention_mask", "labels"}``, each ``(batch, length)`` int64.

        Raises:
            ValueError: An empty batch.
            ImportError: ``return_tensors="pt"`` without torch installed.
        """
        if not features:
            raise ValueError("cannot collate an empty batch")
        pairs = [self._one(f) for f in features]
        lengths = np.fromiter((ids.size for ids, _ in pairs), dtype=np.int64, count=len(pairs))
        width = int(lengths.max()) if lengths.size else 0
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = np.full((len(pairs), width), self.pad_token_id, dtype=np.int64)
        labels = np.full((len(pairs), width), self.label_pad_id, dtype=np.int64)
        for row, (ids, lab) in enumerate(pairs):
            input_ids[row, : ids.size] = ids
            labels[row, : lab.size] = lab
        attention_mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        kind = self.return_tensors or ("pt" if _torch_available() else "np")
        if kind == "pt":
            import torch

            return {k: torch.from_numpy(v) for k, v in batch.items()}
        return batch


# ---------------------------------------------------------------------------------------------------------------- #
# Model
# ---------------------------------------------------------------------------------------------------------------- #
def add_meta_embeddings(
    model: transformers.PreTrainedModel,
    tokenizer: transformers.PreTrainedTokenizerBase,
    *,
    pad_to_multiple_of: int | None = None,
    overwrite_existing_rows: bool = False,
) -> range:
    """Gives a model embedding rows for the LTSC tokens, initialised with the mean of the existing embeddings.

    The embedding matrix is resized (``model.resize_token_embeddings``) to cover the tokenizer's LTSC ids. Each new
    row of the input embeddings is set to the mean of rows ``[0, base_id)`` (the base vocabulary's trained rows);
    if the output embeddings are not tied to the input ones, their new rows (and bias) get the mean of their own
    base rows. A mean start keeps the first logits and hidden states in range, unlike random rows (Hewitt, "Initializing
    new word embeddings for pretrained language models", 2021). The model is modified in place.

    Args:
        model: A ``transformers`` model with input embeddings covering at least ``base_id`` rows.
        tokenizer: The extended tokenizer (:func:`extend_tokenizer`, or ``load_compressed(...).tokenizer``).
        pad_to_multiple_of: Passed to ``resize_token_embeddings`` (rows added for padding are not LTSC rows).
        overwrite_existing_rows: Also set LTSC rows that already existed (a model whose embedding matrix was padded
            beyond its vocabulary). Off by default, so calling this twice never erases trained meta-token rows.

    Returns:
        The ids whose rows were set (empty when the model already had every LTSC row and
        ``overwrite_existing_rows`` is off).

    Raises:
        ValueError: The tokenizer has no valid LTSC tokens, or the model has fewer rows than the base vocabulary.
    """
    import torch

    base_id, pool_size = reserved_token_ids(tokenizer)
    reserved = range(base_id, base_id + 2 + pool_size)
    old_rows = model.get_input_embeddings().weight.shape[0]
    if old_rows < base_id:
        raise ValueError(
            f"the model has {old_rows} embedding rows, fewer than the tokenizer's base vocabulary ({base_id}): it "
            "does not belong to this tokenizer"
        )
    if old_rows < reserved.stop or pad_to_multiple_of is not None:
        model.resize_token_embeddings(
            max(old_rows, reserved.stop), pad_to_multiple_of=pad_to_multiple_of, mean_resizing=False
        )
    start = base_id if overwrite_existing_rows else max(base_id, old_rows)
    rows = range(start, reserved.stop) if start < reserved.stop else range(0)
    if not rows:
        return rows
    inp = model.get_input_embeddings()
    out = model.get_output_embeddings()
    with torch.no_grad():
        weight = inp.weight
        weight[rows.start : rows.stop] = weight[:base_id].float().mean(dim=0).to(weight.dtype)
        if out is not None and out.weight.data_ptr() != weight.data_ptr():
            ow = out.weight
            ow[rows.start : rows.stop] = ow[:base_id].float().mean(dim=0).to(ow.dtype)
            bias = getattr(out, "bias", None)
            if bias is not None:
                bias[rows.start : rows.stop] = bias[:base_id].float().mean().to(bias.dtype)
    return rows
