"""Per-process server state: the served models, the response-id counter and the request log."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .catalogue import ServedModel, build_catalogue
from .errors import OpenAIError, model_not_found
from .request_log import RequestLog


@dataclass
class ServerState:
    seed: int
    models: dict[str, ServedModel]
    request_log: RequestLog = field(default_factory=RequestLog)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def build(cls, seed: int) -> ServerState:
        return cls(seed, build_catalogue(seed))

    def next_id(self, prefix: str) -> str:
        """Deterministic per process: the n-th generation request gets the n-th id."""
        return f"{prefix}-sandbox{next(self._ids):012d}"

    def model(self, name: str) -> ServedModel:
        found = self.models.get(name)
        if found is None:
            raise model_not_found(name)
        return found

    def text_model(self, name: str) -> ServedModel:
        found = self.model(name)
        if not found.generates_text:
            raise OpenAIError(
                400, f"The model `{name}` does not support text generation.", "model", "model_not_supported"
            )
        return found

    def embedding_model(self, name: str) -> ServedModel:
        found = self.model(name)
        if found.generates_text:
            raise OpenAIError(400, f"The model `{name}` does not support embeddings.", "model", "model_not_supported")
        return found
