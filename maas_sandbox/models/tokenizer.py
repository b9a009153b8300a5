"""A deterministic word-piece tokenizer with byte fallback.

Text is split by one regular expression into pieces (words with an optional leading space, runs of
digits, runs of punctuation, whitespace). Pieces seen in the training corpus get their own id; any
other piece is written as its UTF-8 bytes, one byte token each, so every string round-trips exactly
through encode/decode (the same idea as SentencePiece's byte fallback).

Id layout: special tokens first, then the 256 byte tokens, then corpus pieces ordered by descending
frequency (ties by the piece itself), so the vocabulary is the same on every start.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

END = "<|end|>"
SPECIAL_TOKENS: tuple[str, ...] = (
    END,
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|tool|>",
    "<|developer|>",
)

_SPECIAL_PATTERN = "|".join(re.escape(token) for token in SPECIAL_TOKENS)
# Every character is whitespace, a word character (letter/underscore or digit) or punctuation, so
# the alternation below covers any input; whitespace before a word stays with the word, except the
# last space of a run which joins the next word (so "    def" is "   " + " def").
PIECE_PATTERN = re.compile(rf"{_SPECIAL_PATTERN}| ?[^\W\d]+| ?\d{{1,3}}| ?[^\s\w]+|\s+(?!\S)|\s+")
BYTE_OFFSET = len(SPECIAL_TOKENS)
FIRST_PIECE_ID = BYTE_OFFSET + 256


def split_pieces(text: str) -> list[str]:
    """Split text into tokenizer pieces; ''.join(result) == text."""
    return PIECE_PATTERN.findall(text)


class PieceTokenizer:
    """Maps text to token ids and back; built once from corpus texts."""

    def __init__(self, corpus_texts: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        for text in corpus_texts:
            counts.update(piece for piece in split_pieces(text) if piece not in SPECIAL_TOKENS)
        ordered = sorted(counts, key=lambda piece: (-counts[piece], piece))
        self._id_to_text: list[str] = list(SPECIAL_TOKENS) + [f"<0x{b:02X}>" for b in range(256)] + ordered
        self._piece_to_id: dict[str, int] = {piece: i for i, piece in enumerate(self._id_to_text)}
        # The byte-token display names must never be produced by encode as whole pieces.
        for b in range(256):
            self._piece_to_id.pop(f"<0x{b:02X}>", None)
        for i, token in enumerate(SPECIAL_TOKENS):
            self._piece_to_id[token] = i

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_text)

    def special_id(self, token: str) -> int:
        return SPECIAL_TOKENS.index(token)

    @property
    def end_id(self) -> int:
        return 0

    def is_special(self, token_id: int) -> bool:
        return 0 <= token_id < BYTE_OFFSET

    def is_byte(self, token_id: int) -> bool:
        return BYTE_OFFSET <= token_id < FIRST_PIECE_ID

    def piece_id(self, piece: str) -> int | None:
        return self._piece_to_id.get(piece)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        lookup = self._piece_to_id
        for piece in split_pieces(text):
            token_id = lookup.get(piece)
            if token_id is not None:
                ids.append(token_id)
            else:
                ids.extend(BYTE_OFFSET + b for b in piece.encode("utf-8"))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Inverse of encode; byte tokens are joined before UTF-8 decoding (invalid bytes → U+FFFD)."""
        parts: list[str] = []
        pending = bytearray()
        for token_id in ids:
            if self.is_byte(token_id):
                pending.append(token_id - BYTE_OFFSET)
                continue
            if pending:
                parts.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
            parts.append(self._id_to_text[token_id])
        if pending:
            parts.append(pending.decode("utf-8", errors="replace"))
        return "".join(parts)

    def token_text(self, token_id: int) -> str:
        """Display text of one id (byte tokens as <0xNN>)."""
        return self._id_to_text[token_id]

    def valid_id(self, token_id: int) -> bool:
        return 0 <= token_id < len(self._id_to_text)
