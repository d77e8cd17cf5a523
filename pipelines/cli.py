"""The ``ltsc`` command: inspect how one text compresses, and print the version.

Usage::

    ltsc inspect [--tokenizer PATH] [--strategy NAME] [--pool-size N] [--max-len N] [--seed N] [FILE]
    ltsc version

``inspect`` tokenizes FILE (or stdin) with the bundled GPT-2 tokenizer unless told otherwise, compresses it with
``ltsc.Codec``, checks the round trip, and prints the lengths, the reductions, every dictionary entry decoded to
text, and the body with meta-tokens shown as ``⟨mK⟩``. ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

__all__ = ["Inspection", "build_parser", "inspect_text", "main"]

META_OPEN, META_CLOSE = "⟨", "⟩"


@dataclass(frozen=True, slots=True)
class EntryView:
    """One dictionary entry as shown by ``inspect``.

    Attributes:
        k: Meta-token number (id ``base_id + 2 + k``).
        meta_id: The meta-token's id.
        definition: The definition as written, base-token text repr-escaped and meta references as ``⟨mK⟩``.
        text: The full expansion decoded to text.
        length: Definition length in tokens (L).
        uses: Uses in the body (K).
        savings: ``(L - 1) * K - (L + 1)`` tokens.
    """

    k: int
    meta_id: int
    definition: str
    text: str
    length: int
    uses: int
    savings: int


@dataclass(frozen=True, slots=True)
class Inspection:
    """What ``ltsc inspect`` reports for one text.

    Attributes:
        original_length: Tokens before compression.
        compressed_length: Tokens after compression, dictionary and delimiters included.
        dictionary_length: Tokens of the dictionary section, delimiters included (0 when nothing paid).
        entries: The dictionary entries, in order.
        body_parts: The body as runs: ``(text, False)`` for base tokens, ``("⟨mK⟩", True)`` for meta-tokens.
        round_trip: Whether decompression gave back exactly the original ids.
        base_id: The base id used.
    """

    original_length: int
    compressed_length: int
    dictionary_length: int
    entries: tuple[EntryView, ...]
    body_parts: tuple[tuple[str, bool], ...]
    round_trip: bool
    base_id: int

    @property
    def body(self) -> str:
        """The body rendered with meta-tokens as ``⟨mK⟩``."""
        return "".join(part for part, _ in self.body_parts)

    @property
    def reduction(self) -> float:
        """Token reduction ``1 - c / o`` (0 for an empty input)."""
        return 1.0 - self.compressed_length / self.original_length if self.original_length else 0.0

    @property
    def attention_reduction(self) -> float:
        """Attention-cost reduction ``1 - c**2 / o**2`` (0 for an empty input)."""
        if not self.original_length:
            return 0.0
        return 1.0 - (self.compressed_length / self.original_length) ** 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "original_length": self.original_length,
            "compressed_length": self.compressed_length,
            "dictionary_length": self.dictionary_length,
            "reduction": self.reduction,
            "attention_reduction": self.attention_reduction,
            "round_trip": self.round_trip,
            "base_id": self.base_id,
            "entries": [
                {
                    "k": e.k,
                    "meta_id": e.meta_id,
                    "definition": e.definition,
                    "text": e.text,
                    "length": e.length,
                    "uses": e.uses,
                    "savings": e.savings,
                }
                for e in self.entries
            ],
            "body": self.body,
        }


class _Renderer:
    """Turns ids into text; byte-exact for byte-level BPE (a split UTF-8 character shows as a backslash escape)."""

    def __init__(self, tok: Any, *, base_id: int) -> None:
        from tokenizers import decoders

        self._tok = tok
        self._base_id = base_id
        self._bytes: dict[int, bytes] | None = None
        if isinstance(tok.decoder, decoders.ByteLevel):
            from pipelines.tokenizer import byte_level_token_bytes

            self._bytes = byte_level_token_bytes(tok)

    def text(self, ids: Sequence[int]) -> str:
        if self._bytes is None:
            return self._tok.decode(list(ids), skip_special_tokens=False)
        return b"".join(self._bytes[i] for i in ids).decode("utf-8", errors="backslashreplace")

    def meta(self, meta_id: int) -> str:
        return f"{META_OPEN}m{meta_id - self._base_id - 2}{META_CLOSE}"

    def mixed(self, ids: Sequence[int], *, escape: bool) -> list[tuple[str, bool]]:
        """Splits ids into runs: (text of base tokens, False) and (⟨mK⟩, True)."""
        parts: list[tuple[str, bool]] = []
        run: list[int] = []
        for i in ids:
            if i >= self._base_id + 2:
                if run:
                    parts.append((self._show(run, escape=escape), False))
                    run = []
                parts.append((self.meta(i), True))
            else:
                run.append(i)
        if run:
            parts.append((self._show(run, escape=escape), False))
        return parts

    def _show(self, ids: list[int], *, escape: bool) -> str:
        text = self.text(ids)
        return repr(text) if escape else text


def inspect_text(
    text: str,
    *,
    tokenizer: Any = None,
    strategy: str | None = None,
    pool_size: int = 512,
    max_len: int | None = None,
    seed: int = 0,
    hierarchical: bool = False,
) -> Inspection:
    """Compresses one text and describes the result.

    Args:
        text: The text.
        tokenizer: A ``tokenizers.Tokenizer`` or anything ``pipelines.tokenizer.load_tokenizer`` accepts
            (``None``: the bundled GPT-2 tokenizer).
        strategy: Codec strategy (``None``: ``ltsc.DEFAULT_STRATEGY``).
        pool_size: Meta-token pool size.
        max_len: Longest subsequence a meta-token may stand for (``None``: the strategy's default).
        seed: Global seed of the meta-id assignment.
        hierarchical: Allow definitions that use earlier meta-tokens.

    Returns:
        The inspection; its lengths are those of ``Codec.compress`` on the tokenized text.
    """
    from ltsc import DEFAULT_STRATEGY, Codec
    from pipelines.tokenizer import encode_batch, load_tokenizer, vocab_size

    tok = load_tokenizer(tokenizer)
    base_id = vocab_size(tok)
    codec = Codec(
        base_id=base_id,
        pool_size=pool_size,
        strategy=strategy or DEFAULT_STRATEGY,
        max_len=max_len,
        seed=seed,
        hierarchical=hierarchical,
    )
    ids, _ = encode_batch(tok, [text], backend="tokenizers")  # one text: the same ids without tiktoken's set-up
    compressed = codec.compress(ids)
    round_trip = bool(np.array_equal(codec.decompress(compressed), ids))
    render = _Renderer(tok, base_id=base_id)
    entries = tuple(
        EntryView(
            k=int(e.meta_id) - base_id - 2,
            meta_id=int(e.meta_id),
            definition="".join(part for part, _ in render.mixed(e.definition.tolist(), escape=True)),
            text=render.text(e.expansion.tolist()),
            length=len(e.definition),
            uses=int(e.uses),
            savings=int(e.savings),
        )
        for e in codec.dictionary(compressed)
    )
    dictionary_length = 0
    if compressed.size and compressed[0] == codec.open_id:
        dictionary_length = int(np.flatnonzero(compressed == codec.close_id)[0]) + 1
    body_parts = tuple(render.mixed(compressed[dictionary_length:].tolist(), escape=False))
    return Inspection(
        original_length=int(ids.size),
        compressed_length=int(compressed.size),
        dictionary_length=dictionary_length,
        entries=entries,
        body_parts=body_parts,
        round_trip=round_trip,
        base_id=base_id,
    )


def _definition_cell(entry: EntryView) -> str:
    # Hierarchical definitions mention earlier meta-tokens: show the full expansion too.
    plain = repr(entry.text)
    return entry.definition if entry.definition == plain else f"{entry.definition} = {plain}"


def _summary_lines(result: Inspection) -> list[str]:
    return [
        f"original length: {result.original_length} tokens",
        f"compressed length: {result.compressed_length} tokens "
        f"(dictionary {result.dictionary_length}, body {result.compressed_length - result.dictionary_length})",
        f"reduction: {100 * result.reduction:.2f}%",
        f"attention reduction: {100 * result.attention_reduction:.2f}% (1 - c²/o²)",
        f"dictionary entries: {len(result.entries)}",
        f"round trip: {'ok' if result.round_trip else 'FAILED'}",
    ]


def _print_plain(result: Inspection, out: TextIO, *, max_entries: int | None) -> None:
    for line in _summary_lines(result):
        print(line, file=out)
    if result.entries:
        print("\ndictionary (meta, length, uses, savings, definition):", file=out)
        for e in result.entries[:max_entries]:
            meta = f"{META_OPEN}m{e.k}{META_CLOSE}"
            print(f"  {meta}\t{e.length}\t{e.uses}\t{e.savings}\t{_definition_cell(e)}", file=out)
        if max_entries is not None and len(result.entries) > max_entries:
            print(f"  ... {len(result.entries) - max_entries} more", file=out)
    print(f"\nbody ({META_OPEN}mK{META_CLOSE} = meta-token K):", file=out)
    print(result.body, file=out)


def _print_rich(result: Inspection, out: TextIO, *, max_entries: int | None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=True)
    for line in _summary_lines(result):
        key, _, value = line.partition(": ")
        console.print(Text.assemble((key + ": ", "bold"), value))
    if result.entries:
        table = Table(title="dictionary", show_lines=False)
        for name, justify in (("meta", "left"), ("len", "right"), ("uses", "right"), ("savings", "right")):
            table.add_column(name, justify=justify, no_wrap=True)
        table.add_column("definition", overflow="fold")
        for e in result.entries[:max_entries]:
            table.add_row(
                Text(f"{META_OPEN}m{e.k}{META_CLOSE}", style="bold cyan"),
                str(e.length),
                str(e.uses),
                str(e.savings),
                Text(_definition_cell(e)),
            )
        console.print(table)
        if max_entries is not None and len(result.entries) > max_entries:
            console.print(f"... {len(result.entries) - max_entries} more entries")
    console.print()
    console.print(Text(f"body ({META_OPEN}mK{META_CLOSE} = meta-token K):", style="bold"))
    body = Text()
    for part, is_meta in result.body_parts:
        body.append(part, style="bold cyan" if is_meta else None)
    console.print(body)


def _version() -> str:
    from importlib import metadata

    import ltsc

    try:
        installed = metadata.version("ltsc")
    except metadata.PackageNotFoundError:
        installed = None
    version = getattr(ltsc, "__version__", installed or "unknown")
    note = "" if installed in (None, version) else f", installed metadata says {installed}"
    import numba

    return (
        f"ltsc {version} (python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}{note})"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``ltsc`` argument parser."""
    parser = argparse.ArgumentParser(prog="ltsc", description="Lossless Token Sequence Compression tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    inspect = sub.add_parser("inspect", help="compress one text and show the dictionary and body")
    inspect.add_argument("file", nargs="?", type=Path, help="UTF-8 text file (default: stdin)")
    inspect.add_argument("--tokenizer", help="tokenizer.json, a directory holding one, or a hub name")
    inspect.add_argument("--strategy", default=None, help="codec strategy (default: ltsc.DEFAULT_STRATEGY)")
    inspect.add_argument("--pool-size", type=int, default=512, help="meta-token pool size (default 512)")
    inspect.add_argument("--max-len", type=int, default=None, help="longest subsequence per meta-token")
    inspect.add_argument("--seed", type=int, default=0, help="global seed of the meta-id assignment")
    inspect.add_argument("--hierarchical", action="store_true", help="definitions may use earlier meta-tokens")
    inspect.add_argument("--max-entries", type=int, default=None, help="show at most N dictionary entries")
    output = inspect.add_mutually_exclusive_group()
    output.add_argument("--plain", action="store_true", help="plain text output even if rich is installed")
    output.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _read_input(path: Path | None) -> str:
    # Bytes, not text mode: universal newlines would turn \r\n into \n and the inspection would not be lossless.
    data = sys.stdin.buffer.read() if path is None else path.read_bytes()
    return data.decode("utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``ltsc`` command.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 if the round trip failed, 2 on bad input.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        print(_version())
        return 0

    from ltsc import STRATEGIES

    if args.strategy is not None and args.strategy not in STRATEGIES:
        parser.error(f"--strategy must be one of {', '.join(STRATEGIES)}, got {args.strategy!r}")
    try:
        text = _read_input(args.file)
    except (OSError, UnicodeDecodeError) as err:
        parser.error(f"cannot read {args.file or 'stdin'}: {err}")
    try:
        result = inspect_text(
            text,
            tokenizer=args.tokenizer,
            strategy=args.strategy,
            pool_size=args.pool_size,
            max_len=args.max_len,
            seed=args.seed,
            hierarchical=args.hierarchical,
        )
    except (FileNotFoundError, ValueError, TypeError) as err:
        parser.error(str(err))

    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        use_rich = not args.plain
        if use_rich:
            try:
                import rich  # noqa: F401
            except ImportError:
                use_rich = False
        printer = _print_rich if use_rich else _print_plain
        printer(result, sys.stdout, max_entries=args.max_entries)
    return 0 if result.round_trip else 1


if __name__ == "__main__":
    sys.exit(main())
