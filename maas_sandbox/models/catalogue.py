"""The models this server serves, each built at start from text files shipped in ``corpus/``."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from importlib import resources

from .chat_template import render_chat
from .ngram import NGramModel
from .tokenizer import PieceTokenizer

MAX_MODEL_LEN = 2048
CHAT_MODEL = "markov-chat-small"
CODE_MODEL = "markov-code-small"
EMBEDDING_MODEL = "hash-embed-small"
OWNED_BY = "maas-sandbox"
CODE_REQUEST = render_chat([("user", "Write Python code.")])


@dataclass
class ServedModel:
    name: str
    tokenizer: PieceTokenizer
    generator: NGramModel | None  # None for the embedding model
    fingerprint: str
    seed_material: str
    max_model_len: int = MAX_MODEL_LEN
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def generates_text(self) -> bool:
        return self.generator is not None

    def card(self) -> dict[str, object]:
        """The /v1/models entry (vLLM adds root, parent and max_model_len to OpenAI's fields)."""
        return {
            "id": self.name,
            "object": "model",
            "created": self.created,
            "owned_by": OWNED_BY,
            "root": self.name,
            "parent": None,
            "max_model_len": self.max_model_len,
        }


def read_corpus(name: str) -> str:
    return resources.files(__package__).joinpath("corpus", name).read_text(encoding="utf-8")


def _dialogues(text: str) -> list[tuple[str, str]]:
    pairs = re.findall(r"^user: (.+)\nassistant: (.+)$", text, flags=re.MULTILINE)
    return [(question.strip(), answer.strip()) for question, answer in pairs]


def _paragraphs(text: str, separator: str) -> list[str]:
    return [part.strip("\n") for part in text.split(separator) if part.strip()]


def _turn(tokenizer: PieceTokenizer, prompt: str, answer: str) -> tuple[list[int], int]:
    """A chat turn as a training sequence whose prompt part is context only."""
    prompt_ids = tokenizer.encode(prompt)
    return prompt_ids + tokenizer.encode(answer) + [tokenizer.end_id], len(prompt_ids)


def _fingerprint(seed: int, *texts: str) -> str:
    digest = hashlib.sha256(str(seed).encode())
    for text in texts:
        digest.update(text.encode())
    return "fp_" + digest.hexdigest()[:10]


def build_chat_model(seed: int) -> ServedModel:
    prose, dialogues = read_corpus("chat_prose.txt"), read_corpus("chat_dialogues.txt")
    # Dialogues are rendered with the same template chat requests use, so the model learns the turn.
    paragraphs = _paragraphs(prose, "\n\n")
    turns = [(render_chat([("user", question)]), answer) for question, answer in _dialogues(dialogues)]
    tokenizer = PieceTokenizer(paragraphs + [prompt + answer for prompt, answer in turns])
    sequences = [(tokenizer.encode(text) + [tokenizer.end_id], 0) for text in paragraphs]
    sequences += [_turn(tokenizer, prompt, answer) for prompt, answer in turns]
    return ServedModel(
        CHAT_MODEL,
        tokenizer,
        NGramModel(tokenizer, sequences),
        _fingerprint(seed, prose, dialogues),
        f"{seed}|{CHAT_MODEL}",
    )


def build_code_model(seed: int) -> ServedModel:
    code = read_corpus("code.txt")
    snippets = _paragraphs(code, "\n\n\n")  # two blank lines separate top-level definitions
    tokenizer = PieceTokenizer(snippets + [CODE_REQUEST])
    sequences = [(tokenizer.encode(snippet + "\n") + [tokenizer.end_id], 0) for snippet in snippets]
    # Also learn each snippet as a chat answer, so chat requests to the code model answer with code.
    sequences += [_turn(tokenizer, CODE_REQUEST, snippet + "\n") for snippet in snippets]
    return ServedModel(
        CODE_MODEL,
        tokenizer,
        NGramModel(tokenizer, sequences),
        _fingerprint(seed, code),
        f"{seed}|{CODE_MODEL}",
    )


def build_embedding_model(seed: int) -> ServedModel:
    texts = [read_corpus(name) for name in ("chat_prose.txt", "chat_dialogues.txt", "code.txt")]
    return ServedModel(
        EMBEDDING_MODEL, PieceTokenizer(texts), None, _fingerprint(seed, *texts), f"{seed}|{EMBEDDING_MODEL}"
    )


def build_catalogue(seed: int = 0) -> dict[str, ServedModel]:
    models = [build_chat_model(seed), build_code_model(seed), build_embedding_model(seed)]
    return {model.name: model for model in models}
