"""Data that ships with the package: the default tokenizer and a small sample corpus.

Both live next to this file (``tokenizers/gpt2/``, ``sample/``) and are declared as package data, so they are present
in the sdist, the wheel and editable installs. Nothing here reads the network or any path outside the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEFAULT_TOKENIZER", "default_sample_dir", "default_sample_input", "default_tokenizer_dir"]

DEFAULT_TOKENIZER = "gpt2"
"""Name of the bundled default tokenizer (GPT-2 byte-level BPE, MIT; see ``tokenizers/gpt2/NOTICE``)."""

SAMPLE_GLOB = "sample-*.parquet"


def _asset(*parts: str) -> Path:
    # The package is installed as plain files (pip, editable or Dataflow's --setup_file), never zipped, so the
    # resource is a real path that Beam workers and `tokenizers` can open.
    path = Path(str(resources.files(__name__).joinpath(*parts)))
    if not path.exists():
        raise FileNotFoundError(f"bundled asset {'/'.join(parts)!r} is missing from {path.parent} (broken install?)")
    return path


def default_tokenizer_dir() -> str:
    """Directory of the bundled GPT-2 tokenizer (``tokenizer.json`` + ``tokenizer_config.json``).

    Returns:
        An absolute path, loadable with ``pipelines.tokenizer.load_tokenizer`` or
        ``transformers.AutoTokenizer.from_pretrained``.
    """
    return str(_asset("tokenizers", DEFAULT_TOKENIZER))


def default_sample_dir() -> str:
    """Directory holding the bundled sample corpus (3 Parquet shards, columns ``id``, ``source``, ``text``)."""
    return str(_asset("sample"))


def default_sample_input() -> str:
    """Glob matching the bundled sample shards: the default input of ``ltsc-pipeline``.

    Returns:
        An absolute glob such as ``.../pipelines/assets/sample/sample-*.parquet``.
    """
    return str(Path(default_sample_dir()) / SAMPLE_GLOB)
