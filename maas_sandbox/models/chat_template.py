"""The chat prompt template shared by chat completions and /tokenize.

Each message becomes ``<|{role}|>\\n{content}<|end|>\\n`` and the prompt ends with the generation
prompt ``<|assistant|>\\n``. Example for one user message "Hi"::

    <|user|>
    Hi<|end|>
    <|assistant|>

The chat model's training dialogues are rendered with this same template, so it learns to answer
after ``<|assistant|>`` and to stop with ``<|end|>``.
"""

from __future__ import annotations

from collections.abc import Sequence

ROLES = ("system", "developer", "user", "assistant", "tool")
GENERATION_PROMPT = "<|assistant|>\n"


def render_message(role: str, content: str) -> str:
    return f"<|{role}|>\n{content}<|end|>\n"


def render_chat(messages: Sequence[tuple[str, str]], add_generation_prompt: bool = True) -> str:
    """Render (role, content) pairs; roles must come from ROLES (validated by the caller)."""
    text = "".join(render_message(role, content) for role, content in messages)
    return text + GENERATION_PROMPT if add_generation_prompt else text
