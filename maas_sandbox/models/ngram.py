"""A word-piece n-gram language model with back-off, trained at start from the shipped corpus.

The model keeps, for every context of up to ``order - 1`` previous tokens seen in training, the
counts of the tokens that followed it. To predict, it uses the longest context of the recent tokens
it has seen, backing off to shorter ones (down to plain token frequencies).

Small biases keep greedy output readable and tied to the prompt: tokens that occur as words in the
prompt are boosted (and, less, tokens whose usual next word is such a word), words already generated
are damped (a repetition penalty), and the first token may not end the answer. All are
deterministic, so temperature 0 is plain arg-max over the biased counts.

Training sequences may carry a context-only prefix (a chat prompt): those tokens shape contexts but
are never learned as outputs, so the model does not learn to end after a user's words.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .tokenizer import PieceTokenizer

PROMPT_WORD_BOOST = 8.0
LOOKAHEAD_BOOST = 3.0
MAX_LOOKAHEAD_CANDIDATES = 64
MIN_BOOSTED_WORD_LENGTH = 4


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    ignore_eos: bool = False


@dataclass(frozen=True)
class Generation:
    token_ids: tuple[int, ...]  # every generated id, including a final <|end|>
    pieces: tuple[str, ...]  # visible text per generated token, cut at a stop string ('' allowed)
    text: str
    finish_reason: str  # "stop" or "length"


class NGramModel:
    def __init__(
        self, tokenizer: PieceTokenizer, sequences: Iterable[tuple[Sequence[int], int]], order: int = 3
    ) -> None:
        """``sequences`` holds (token ids, index of the first id to learn as an output)."""
        self.tokenizer = tokenizer
        self.order = order
        counts: list[defaultdict[tuple[int, ...], Counter[int]]] = [defaultdict(Counter) for _ in range(order)]
        for sequence, first_output in sequences:
            for position in range(first_output, len(sequence)):
                token_id = sequence[position]
                for length in range(order):
                    if position >= length:
                        counts[length][tuple(sequence[position - length : position])][token_id] += 1
        # Candidates sorted by count (desc) then id, so iteration order never depends on hashing.
        self._tables: list[dict[tuple[int, ...], tuple[tuple[int, int], ...]]] = [
            {
                context: tuple(sorted(followers.items(), key=lambda item: (-item[1], item[0])))
                for context, followers in table.items()
            }
            for table in counts
        ]
        self._is_word = [
            any(ch.isalpha() for ch in tokenizer.token_text(i)) and not tokenizer.is_special(i)
            for i in range(tokenizer.vocab_size)
        ]

    def candidates(self, history: Sequence[int]) -> tuple[tuple[int, int], ...]:
        for length in range(min(self.order - 1, len(history)), -1, -1):
            context = tuple(history[len(history) - length :]) if length else ()
            found = self._tables[length].get(context)
            if found:
                return found
        return ()

    def _prompt_words(self, prompt_ids: Sequence[int]) -> set[int]:
        return {
            token_id
            for token_id in prompt_ids
            if self._is_word[token_id] and len(self.tokenizer.token_text(token_id).strip()) >= MIN_BOOSTED_WORD_LENGTH
        }

    def generate(self, prompt_ids: Sequence[int], params: SamplingParams, seed_material: str) -> Generation:
        end_id = self.tokenizer.end_id
        boosted = self._prompt_words(prompt_ids)
        used: Counter[int] = Counter()
        rng = random.Random(_stable_seed(seed_material, params.seed, prompt_ids)) if params.temperature else None
        history = list(prompt_ids[-(self.order - 1) :]) if self.order > 1 else []
        generated: list[int] = []
        pieces: list[str] = []
        text = ""
        longest_stop = max((len(s) for s in params.stop), default=0)
        finish_reason = "length"
        while len(generated) < params.max_tokens:
            token_id = self._choose(history, boosted, used, params, rng, first=not generated)
            generated.append(token_id)
            history = (history + [token_id])[-(self.order - 1) :] if self.order > 1 else []
            if token_id == end_id:
                pieces.append("")
                finish_reason = "stop"
                break
            used[token_id] += 1
            piece = self.tokenizer.token_text(token_id)
            before = len(text)
            text += piece
            pieces.append(piece)
            cut = _find_stop(text, params.stop, max(0, before - longest_stop))
            if cut is not None:
                text = text[:cut]
                pieces = _cut_pieces(pieces, cut)
                finish_reason = "stop"
                break
        return Generation(tuple(generated), tuple(pieces), text, finish_reason)

    def _choose(
        self,
        history: Sequence[int],
        boosted: set[int],
        used: Counter[int],
        params: SamplingParams,
        rng: random.Random | None,
        first: bool,
    ) -> int:
        end_id = self.tokenizer.end_id
        weighted: list[tuple[float, int]] = []
        candidates = self.candidates(history)
        look_ahead = bool(boosted) and len(candidates) <= MAX_LOOKAHEAD_CANDIDATES and self.order > 2
        for token_id, count in candidates:
            if token_id == end_id and (params.ignore_eos or first):
                continue
            if self.tokenizer.is_special(token_id) and token_id != end_id:
                continue  # role markers are prompt structure, never output
            weight = float(count)
            if token_id in boosted:
                weight *= PROMPT_WORD_BOOST
            elif look_ahead and self._leads_to(history[-1:], token_id, boosted):
                weight *= LOOKAHEAD_BOOST
            if self._is_word[token_id]:
                weight /= 1 + used[token_id]
            weighted.append((weight, token_id))
        if not weighted:  # only possible with ignore_eos after a context that always ended
            weighted = [(float(c), t) for t, c in self._tables[0][()] if not self.tokenizer.is_special(t)]
        if rng is None:
            return max(weighted, key=lambda item: (item[0], -item[1]))[1]
        return _sample(weighted, params.temperature, params.top_p, rng)

    def _leads_to(self, last: Sequence[int], token_id: int, boosted: set[int]) -> bool:
        followers = self._tables[2].get((*last, token_id), ())
        return any(follower in boosted for follower, _ in followers)


def _sample(weighted: list[tuple[float, int]], temperature: float, top_p: float, rng: random.Random) -> int:
    scaled = sorted(((w ** (1.0 / temperature), t) for w, t in weighted), key=lambda item: (-item[0], item[1]))
    total = sum(w for w, _ in scaled)
    if top_p < 1.0:
        kept: list[tuple[float, int]] = []
        mass = 0.0
        for w, t in scaled:
            kept.append((w, t))
            mass += w / total
            if mass >= top_p:
                break
        scaled = kept
        total = sum(w for w, _ in scaled)
    point = rng.random() * total
    for w, t in scaled:
        point -= w
        if point < 0:
            return t
    return scaled[-1][1]


def _stable_seed(material: str, request_seed: int | None, prompt_ids: Sequence[int]) -> int:
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{material}|{request_seed}|".encode())
    digest.update(",".join(map(str, prompt_ids)).encode())
    return int.from_bytes(digest.digest(), "big")


def _find_stop(text: str, stops: Sequence[str], start: int) -> int | None:
    found = [index for s in stops if (index := text.find(s, start)) != -1]
    return min(found) if found else None


def _cut_pieces(pieces: list[str], length: int) -> list[str]:
    cut: list[str] = []
    remaining = length
    for piece in pieces:
        cut.append(piece[: max(0, remaining)])
        remaining -= len(piece)
    return cut
