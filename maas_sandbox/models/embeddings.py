"""Feature-hashing text embeddings: a signed bag of words and word pairs, L2-normalised.

Each lower-cased word (and each pair of neighbouring words) is hashed with BLAKE2b to a dimension and
a sign; the counts are damped with 1 + log(count) and the vector is scaled to length 1. Texts that
share words therefore get a positive cosine similarity. No meaning beyond shared words is captured.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections import Counter
from functools import lru_cache

DEFAULT_DIMENSIONS = 256
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return value % dimensions, (1.0 if (value >> 63) & 1 else -1.0)


def embed_text(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    words = _WORD.findall(text.lower())
    features: Counter[str] = Counter(f"w:{w}" for w in words)
    features.update(f"p:{a} {b}" for a, b in zip(words, words[1:], strict=False))
    vector = [0.0] * dimensions
    for feature, count in features.items():
        index, sign = _slot(feature, dimensions)
        vector[index] += sign * (1.0 + math.log(count))
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        # No words at all (e.g. only punctuation): a fixed unit vector keeps the result normalised.
        vector[0] = 1.0
        return vector
    return [x / norm for x in vector]


def to_base64(vector: list[float]) -> str:
    """Little-endian float32, as OpenAI returns for encoding_format=base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
