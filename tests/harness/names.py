"""Unique object names, so tests sharing one sandbox never collide."""

from __future__ import annotations

import random


def unique(prefix: str) -> str:
    """`prefix-` and 8 random hex digits."""
    return f"{prefix}-{random.randrange(16**8):08x}"


def suffixed(prefix: str) -> str:
    """`prefix` and 8 random hex digits, no separator (for names that take no `-`, or a prefix ending in `_`)."""
    return f"{prefix}{random.randrange(16**8):08x}"
