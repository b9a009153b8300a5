"""The sandbox model server, started as a real process and driven over loopback HTTP.

Clients: `requests` for the raw wire format and the `openai` SDK for what applications really use.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
import requests

from harness.ports import free_port

CHAT = "markov-chat-small"
CODE = "markov-code-small"
EMBED = "hash-embed-small"
STARTUP_TIMEOUT_S = 20.0


@dataclass
class ModelServer:
    process: subprocess.Popen[bytes]
    url: str
    log_file: Path

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def sdk(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="x", max_retries=0, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_model_server(directory: Path, seed: int = 0, state_dir: Path | None = None) -> ModelServer:
    port = free_port()
    log_file = directory / f"models-{port}.log"
    locked = ["--state-dir", str(state_dir)] if state_dir else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maas_sandbox.models",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--log-file",
            str(log_file),
            *locked,
        ],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = ModelServer(process, f"http://127.0.0.1:{port}", log_file)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"model server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if requests.get(server.url + "/health", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            time.sleep(0.05)  # polling for readiness, not waiting out a period
    server.stop()
    raise RuntimeError(f"model server not ready after {STARTUP_TIMEOUT_S}s; log: {log_file.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    started = start_model_server(tmp_path_factory.mktemp("models"), seed=0)
    yield started
    started.stop()


def _tokenize(server: ModelServer, **body: Any) -> dict[str, Any]:
    response = server.post("/tokenize", body)
    assert response.status_code == 200, response.text
    return response.json()


def _sse_events(response: requests.Response) -> list[str]:
    assert response.headers["content-type"].startswith("text/event-stream")
    return [line[len("data: ") :] for line in response.iter_lines(decode_unicode=True) if line]


# --- cheap endpoints and the model list -------------------------------------------------------------


def test_health_is_empty_200_and_version_is_json(server: ModelServer) -> None:
    health = server.get("/health")
    assert (health.status_code, health.content) == (200, b"")
    version = server.get("/version")
    assert version.status_code == 200 and isinstance(version.json()["version"], str)
    assert "markov-chat-small" in server.log_file.read_text()  # --log-file receives the server log


def test_models_are_listed_over_http_and_by_the_sdk(server: ModelServer) -> None:
    body = server.get("/v1/models").json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == {CHAT, CODE, EMBED}
    assert all(m["object"] == "model" and m["max_model_len"] == 2048 for m in body["data"])
    client = server.sdk()
    assert sorted(model.id for model in client.models.list()) == sorted([CHAT, CODE, EMBED])
    assert client.models.retrieve(CODE).id == CODE


# --- generation ------------------------------------------------------------------------------------


def test_completion_usage_is_counted_by_the_tokenize_tokenizer(server: ModelServer) -> None:
    prompt = "The gateway checks the key and"
    response = server.post("/v1/completions", {"model": CHAT, "prompt": prompt, "max_tokens": 12, "temperature": 0})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("cmpl-") and body["object"] == "text_completion"
    assert body["system_fingerprint"].startswith("fp_")
    choice = body["choices"][0]
    assert choice["finish_reason"] in ("length", "stop") and choice["text"]
    usage = body["usage"]
    assert usage["prompt_tokens"] == _tokenize(server, model=CHAT, prompt=prompt)["count"]
    assert 1 <= usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    sdk = server.sdk().completions.create(model=CHAT, prompt=prompt, max_tokens=12, temperature=0)
    assert sdk.choices[0].text == choice["text"]
    assert sdk.usage is not None and sdk.usage.prompt_tokens == usage["prompt_tokens"]


def test_chat_through_the_sdk_reports_truthful_usage(server: ModelServer) -> None:
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is a token?"}]
    reply = server.sdk().chat.completions.create(model=CHAT, messages=messages, temperature=0)
    assert reply.id.startswith("chatcmpl-") and reply.object == "chat.completion"
    assert reply.model == CHAT and reply.system_fingerprint
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and "token" in choice.message.content
    assert choice.finish_reason == "stop"  # the chat model learned to end its turn
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == _tokenize(server, model=CHAT, messages=messages)["count"]
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_accepts_text_content_parts_like_a_plain_string(server: ModelServer) -> None:
    plain = server.post(
        "/v1/chat/completions", {"model": CHAT, "temperature": 0, "messages": [{"role": "user", "content": "Hello"}]}
    ).json()
    parts = server.post(
        "/v1/chat/completions",
        {
            "model": CHAT,
            "temperature": 0,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        },
    ).json()
    assert parts["choices"][0]["message"] == plain["choices"][0]["message"]


def test_chat_stream_with_usage_equals_the_non_streamed_answer(server: ModelServer) -> None:
    messages = [{"role": "user", "content": "How does streaming work?"}]
    client = server.sdk()
    full = client.chat.completions.create(model=CHAT, messages=messages, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model=CHAT, messages=messages, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    *content_chunks, usage_chunk = chunks
    assert usage_chunk.choices == [] and usage_chunk.usage == full.usage
    assert all(c.usage is None for c in content_chunks)
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")


def test_chat_stream_without_usage_has_no_usage_chunk_and_ends_with_done(server: ModelServer) -> None:
    body = {"model": CHAT, "messages": [{"role": "user", "content": "Hello"}], "temperature": 0, "stream": True}
    with server.post("/v1/chat/completions", body, stream=True) as response:
        events = _sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" not in c and c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["delta"] == {} and chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_completion_stream_sends_one_chunk_per_token(server: ModelServer) -> None:
    body = {"model": CODE, "prompt": "def list_models", "max_tokens": 20, "temperature": 0, "ignore_eos": True}
    full = server.post("/v1/completions", body).json()
    assert full["choices"][0]["finish_reason"] == "length" and full["usage"]["completion_tokens"] == 20
    stream_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    with server.post("/v1/completions", stream_body, stream=True) as response:
        events = _sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    usage_chunk = chunks.pop()
    assert usage_chunk["choices"] == [] and usage_chunk["usage"] == full["usage"]
    *token_chunks, final = chunks
    assert final["choices"][0] == {"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}
    assert len(token_chunks) == full["usage"]["completion_tokens"]
    assert "".join(c["choices"][0]["text"] for c in token_chunks) == full["choices"][0]["text"]


def test_max_tokens_and_stop_end_generation(server: ModelServer) -> None:
    base = {"model": CHAT, "prompt": "An API gateway", "temperature": 0, "ignore_eos": True}
    short = server.post("/v1/completions", {**base, "max_tokens": 3}).json()
    assert short["usage"]["completion_tokens"] == 3 and short["choices"][0]["finish_reason"] == "length"
    text = server.post("/v1/completions", {**base, "max_tokens": 30}).json()["choices"][0]["text"]
    stop_word = text.split()[3]
    stopped = server.post("/v1/completions", {**base, "max_tokens": 30, "stop": [stop_word]}).json()
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert stopped["choices"][0]["text"] == text[: text.index(stop_word)]


def test_a_list_of_prompts_gives_one_choice_each(server: ModelServer) -> None:
    prompts = ["A token is", "The portal"]
    body = server.post(
        "/v1/completions", {"model": CHAT, "prompt": prompts, "max_tokens": 4, "temperature": 0, "ignore_eos": True}
    ).json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    singles = [
        server.post(
            "/v1/completions", {"model": CHAT, "prompt": p, "max_tokens": 4, "temperature": 0, "ignore_eos": True}
        ).json()["choices"][0]["text"]
        for p in prompts
    ]
    assert [c["text"] for c in body["choices"]] == singles
    counts = [_tokenize(server, model=CHAT, prompt=p)["count"] for p in prompts]
    assert body["usage"] == {"prompt_tokens": sum(counts), "completion_tokens": 8, "total_tokens": sum(counts) + 8}


def test_echo_returns_the_prompt_before_the_completion(server: ModelServer) -> None:
    base = {"model": CHAT, "prompt": "A token is", "temperature": 0, "max_tokens": 5}
    plain = server.post("/v1/completions", base).json()["choices"][0]["text"]
    echoed = server.post("/v1/completions", {**base, "echo": True}).json()["choices"][0]["text"]
    assert echoed == "A token is" + plain


def test_sampling_is_seeded_and_greedy_is_fixed(server: ModelServer) -> None:
    base = {"model": CHAT, "prompt": "The model", "max_tokens": 25, "ignore_eos": True}

    def text(**extra: Any) -> str:
        return server.post("/v1/completions", {**base, **extra}).json()["choices"][0]["text"]

    assert text(temperature=1.0, seed=7) == text(temperature=1.0, seed=7)
    assert len({text(temperature=1.0, seed=s) for s in range(6)}) > 1
    assert text(temperature=0, seed=1) == text(temperature=0, seed=2)


def test_chat_and_code_models_differ(server: ModelServer) -> None:
    def reply(model: str) -> str:
        body = {"model": model, "messages": [{"role": "user", "content": "Write code"}], "temperature": 0}
        return server.post("/v1/chat/completions", body).json()["choices"][0]["message"]["content"]

    code = reply(CODE)
    assert code != reply(CHAT) and ("def " in code or "import " in code or "class " in code)


def test_same_seed_gives_same_answers_in_another_process(server: ModelServer, tmp_path: Path) -> None:
    body = {"model": CHAT, "messages": [{"role": "user", "content": "What is a plan?"}], "temperature": 0.9}
    twin = start_model_server(tmp_path, seed=0)
    other = start_model_server(tmp_path, seed=5)
    try:
        first = server.post("/v1/chat/completions", body).json()
        second = twin.post("/v1/chat/completions", body).json()
        assert first["choices"] == second["choices"] and first["usage"] == second["usage"]
        assert first["system_fingerprint"] == second["system_fingerprint"]
        assert other.post("/v1/chat/completions", body).json()["system_fingerprint"] != first["system_fingerprint"]
    finally:
        twin.stop()
        other.stop()


# --- embeddings, tokenize, detokenize ------------------------------------------------------------


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_are_normalised_deterministic_and_similar_for_similar_text(server: ModelServer) -> None:
    texts = ["The gateway checks the API key", "The gateway checks every API key", "bananas grow in warm places"]
    body = server.post("/v1/embeddings", {"model": EMBED, "input": texts}).json()
    assert body["object"] == "list" and body["model"] == EMBED
    vectors = [item["embedding"] for item in body["data"]]
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert all(len(v) == 256 and math.isclose(math.sqrt(_cosine(v, v)), 1.0, rel_tol=1e-9) for v in vectors)
    assert _cosine(vectors[0], vectors[1]) > 0.5 > abs(_cosine(vectors[0], vectors[2]))
    expected_tokens = sum(_tokenize(server, model=EMBED, prompt=t)["count"] for t in texts)
    assert body["usage"] == {"prompt_tokens": expected_tokens, "total_tokens": expected_tokens}
    again = server.post("/v1/embeddings", {"model": EMBED, "input": texts[0]}).json()
    assert again["data"][0]["embedding"] == vectors[0]


def test_embeddings_in_base64_and_through_the_sdk_match_floats(server: ModelServer) -> None:
    text = "Streaming lets the client read the answer"
    floats = server.post("/v1/embeddings", {"model": EMBED, "input": text}).json()["data"][0]["embedding"]
    encoded = server.post("/v1/embeddings", {"model": EMBED, "input": text, "encoding_format": "base64"})
    raw = base64.b64decode(encoded.json()["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(decoded) == 256 and all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, floats, strict=True))
    sdk = server.sdk().embeddings.create(model=EMBED, input=[text])
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(sdk.data[0].embedding, floats, strict=True))
    small = server.post("/v1/embeddings", {"model": EMBED, "input": text, "dimensions": 32}).json()
    assert len(small["data"][0]["embedding"]) == 32


def test_tokenize_and_detokenize_round_trip_any_text(server: ModelServer) -> None:
    text = "The gateway forwards zebra-crossing ünïcödé 🙂 tokens\n\tand    spaces."
    tokens = _tokenize(server, model=CHAT, prompt=text, return_token_strs=True)
    assert tokens["count"] == len(tokens["tokens"]) == len(tokens["token_strs"])
    assert tokens["max_model_len"] == 2048
    back = server.post("/detokenize", {"model": CHAT, "tokens": tokens["tokens"]})
    assert back.json() == {"prompt": text}
    assert _tokenize(server, prompt=text)["tokens"] == tokens["tokens"]  # model defaults to the chat model


def test_tokenize_messages_uses_the_chat_template(server: ModelServer) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    templated = _tokenize(server, model=CHAT, messages=messages)
    as_prompt = _tokenize(server, model=CHAT, prompt="<|user|>\nHi<|end|>\n<|assistant|>\n")
    assert templated["tokens"] == as_prompt["tokens"]
    without = _tokenize(server, model=CHAT, messages=messages, add_generation_prompt=False)
    assert without["count"] < templated["count"]


# --- errors ----------------------------------------------------------------------------------------

MALFORMED = [
    ("/v1/chat/completions", b"{not json", 400, None, None),
    ("/v1/chat/completions", b"[1, 2]", 400, None, None),
    (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "x"}]},
        400,
        "model",
        "missing_required_parameter",
    ),
    ("/v1/chat/completions", {"model": CHAT}, 400, "messages", "missing_required_parameter"),
    ("/v1/chat/completions", {"model": CHAT, "messages": "hi"}, 400, "messages", "invalid_type"),
    ("/v1/chat/completions", {"model": CHAT, "messages": []}, 400, "messages", "empty_array"),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "wizard", "content": "x"}]},
        400,
        "messages[0].role",
        "invalid_value",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user"}]},
        400,
        "messages[0].content",
        "missing_required_parameter",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        400,
        "messages[0].content[0]",
        "invalid_value",
    ),
    (
        "/v1/chat/completions",
        {"model": 5, "messages": [{"role": "user", "content": "x"}]},
        400,
        "model",
        "invalid_type",
    ),
    (
        "/v1/chat/completions",
        {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]},
        404,
        "model",
        "model_not_found",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "n": 2},
        400,
        "n",
        "unsupported_value",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        400,
        "max_tokens",
        "integer_below_min_value",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "max_tokens": 4096},
        400,
        "max_tokens",
        "integer_above_max_value",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"},
        400,
        "max_tokens",
        "invalid_type",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "max_tokens": True},
        400,
        "max_tokens",
        "invalid_type",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "temperature": 3},
        400,
        "temperature",
        "decimal_above_max_value",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
        400,
        "stream",
        "invalid_type",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}},
        400,
        "stream_options",
        "invalid_value",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x"}], "stop": 3},
        400,
        "stop",
        "invalid_type",
    ),
    (
        "/v1/chat/completions",
        {"model": EMBED, "messages": [{"role": "user", "content": "x"}]},
        400,
        "model",
        "model_not_supported",
    ),
    (
        "/v1/chat/completions",
        {"model": CHAT, "messages": [{"role": "user", "content": "x " * 2100}]},
        400,
        "messages",
        "context_length_exceeded",
    ),
    ("/v1/completions", {"model": CHAT}, 400, "prompt", "missing_required_parameter"),
    ("/v1/completions", {"model": CHAT, "prompt": {"a": 1}}, 400, "prompt", "invalid_type"),
    ("/v1/completions", {"model": CHAT, "prompt": [1, 99999]}, 400, "prompt", "invalid_value"),
    ("/v1/completions", {"model": CHAT, "prompt": "x", "max_tokens": -1}, 400, "max_tokens", "integer_below_min_value"),
    ("/v1/embeddings", {"model": EMBED}, 400, "input", "missing_required_parameter"),
    ("/v1/embeddings", {"model": EMBED, "input": []}, 400, "input", "invalid_type"),
    ("/v1/embeddings", {"model": EMBED, "input": ""}, 400, "input", "invalid_value"),
    (
        "/v1/embeddings",
        {"model": EMBED, "input": "x", "encoding_format": "hex"},
        400,
        "encoding_format",
        "invalid_value",
    ),
    ("/v1/embeddings", {"model": CHAT, "input": "x"}, 400, "model", "model_not_supported"),
    ("/tokenize", {"model": CHAT}, 400, "prompt", "missing_required_parameter"),
    ("/tokenize", {"model": "nope", "prompt": "x"}, 404, "model", "model_not_found"),
    ("/detokenize", {"model": CHAT, "tokens": ["a"]}, 400, "tokens", "invalid_type"),
]


@pytest.mark.parametrize(("path", "body", "status", "param", "code"), MALFORMED)
def test_malformed_requests_get_openai_errors(
    server: ModelServer, path: str, body: Any, status: int, param: str | None, code: str | None
) -> None:
    if isinstance(body, bytes):
        response = requests.post(server.url + path, data=body, timeout=10, headers={"Content-Type": "application/json"})
    else:
        response = server.post(path, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    assert (error["param"], error["code"]) == (param, code)


def test_wrong_method_and_unknown_path_are_json_errors(server: ModelServer) -> None:
    wrong = requests.get(server.url + "/v1/chat/completions", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    missing = requests.post(server.url + "/v1/nothing", json={}, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_sdk_raises_typed_errors(server: ModelServer) -> None:
    client = server.sdk()
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "x"}], n=3)
    assert bad.value.param == "n"


def test_server_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maas_sandbox.models", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "loopback" in result.stderr


# --- test-support features -------------------------------------------------------------------------


def test_delay_header_streams_chunks_incrementally(server: ModelServer) -> None:
    delay_ms, tokens = 60, 10
    body = {
        "model": CHAT,
        "prompt": "The gateway",
        "max_tokens": tokens,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
    }
    started = time.monotonic()
    arrivals: list[float] = []
    with requests.post(
        server.url + "/v1/completions",
        json=body,
        stream=True,
        timeout=10,
        headers={"X-Sandbox-Token-Delay-Ms": str(delay_ms)},
    ) as response:
        for line in response.iter_lines():
            if line:
                arrivals.append(time.monotonic() - started)
    gaps = len(arrivals) - 1  # tokens + final chunk + [DONE]
    assert gaps == tokens + 1
    assert arrivals[-1] - arrivals[0] >= 0.8 * gaps * delay_ms / 1000
    assert arrivals[0] < arrivals[-1] / 2  # the first chunk did not wait for the last
    bad = server.post("/v1/completions", body, headers={"X-Sandbox-Token-Delay-Ms": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-sandbox-token-delay-ms"


ADMIN = "admin-token-for-the-request-log"
PRODUCT_SECRET = "Shared_secret_sent_from_proxy_to_API_backend_0123456789abcdef"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """A model server run for a sandbox: its state dir holds the admin token and the accepted secret tokens."""
    from maas_sandbox.models.access import write_access_file

    state = tmp_path_factory.mktemp("state")
    (state / "credentials.json").write_text(json.dumps({"admin_token": ADMIN}))
    write_access_file(state, {PRODUCT_SECRET})
    started = start_model_server(tmp_path_factory.mktemp("models"), seed=0, state_dir=state)
    started.state_dir = state  # type: ignore[attr-defined]
    yield started
    started.stop()


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def _gateway(token: str = PRODUCT_SECRET) -> dict[str, str]:
    return {"X-3scale-proxy-secret-token": token}


def test_without_a_state_dir_the_request_log_is_not_served(server: ModelServer) -> None:
    for method, path in (("GET", "/sandbox/last-request"), ("GET", "/sandbox/requests"),
                         ("DELETE", "/sandbox/requests")):
        assert requests.request(method, server.url + path, timeout=10).status_code == 404


def test_locked_server_refuses_calls_without_a_products_secret_token(locked: ModelServer) -> None:
    body = {"model": CHAT, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    for headers in ({}, _gateway("Shared_secret_sent_from_proxy_to_API_backend_forged00000000"), _admin()):
        refused = locked.post("/v1/chat/completions", body, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["error"]["code"] == "direct_access_refused"
        assert "3scale gateway" in refused.json()["error"]["message"]
    assert locked.get("/v1/models").status_code == 403
    with pytest.raises(openai.PermissionDeniedError, match="gateway"):
        locked.sdk().models.list()
    assert locked.post("/v1/chat/completions", body, headers=_gateway()).status_code == 200
    assert locked.get("/health").status_code == 200  # the kubelet's probe path stays open


def test_a_product_deployed_later_is_accepted_at_once(locked: ModelServer) -> None:
    """The gateway rewrites the access file before forwarding a new configuration's first request."""
    from maas_sandbox.models.access import write_access_file

    newer = "another_products_secret_token_" + "x" * 20
    assert locked.get("/v1/models", headers=_gateway(newer)).status_code == 403
    write_access_file(locked.state_dir, {PRODUCT_SECRET, newer})  # type: ignore[attr-defined]
    assert locked.get("/v1/models", headers=_gateway(newer)).status_code == 200
    write_access_file(locked.state_dir, {PRODUCT_SECRET})  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5  # a removed product's token is refused within RECHECK_S (0.25 s)
    while locked.get("/v1/models", headers=_gateway(newer)).status_code != 403:
        assert time.monotonic() < deadline, "a removed product's secret token is still accepted"
        time.sleep(0.05)


def test_request_log_needs_the_admin_token(locked: ModelServer) -> None:
    for method, path in (("GET", "/sandbox/last-request"), ("GET", "/sandbox/requests"),
                         ("DELETE", "/sandbox/requests"), ("GET", "/sandbox/models")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, _gateway()):
            assert requests.request(method, locked.url + path, headers=headers, timeout=10).status_code == 401
    models = requests.get(locked.url + "/sandbox/models", headers=_admin(), timeout=10).json()
    assert {m["id"] for m in models["data"]} == {CHAT, CODE, EMBED}


def test_request_counters_and_last_request(locked: ModelServer) -> None:
    server = locked
    admin = _admin()
    assert requests.delete(server.url + "/sandbox/requests", headers=admin, timeout=10).json() == {
        "total": 0, "counts": {}}
    server.get("/health")
    server.get("/health")
    raw_body = b'{"model": "markov-chat-small", "prompt": "Hi", "max_tokens": 2}'
    requests.post(
        server.url + "/v1/completions?trace=1",
        data=raw_body,
        timeout=10,
        headers={"Authorization": "Bearer secret-key", "Content-Type": "application/json", **_gateway()},
    )
    requests.put(server.url + "/v1/models", headers=_gateway(), timeout=10)
    counts = server.get("/sandbox/requests", headers=admin).json()
    assert counts == {"total": 4, "counts": {"GET /health": 2, "POST /v1/completions": 1, "PUT /v1/models": 1}}

    requests.post(
        server.url + "/v1/completions?trace=1",
        data=raw_body,
        timeout=10,
        headers={"Authorization": "Bearer secret-key", "Content-Type": "application/json", **_gateway()},
    )
    last = server.get("/sandbox/last-request", headers=admin).json()
    assert (last["method"], last["path"], last["query_string"]) == ("POST", "/v1/completions", "trace=1")
    assert last["headers"]["authorization"] == "Bearer secret-key"
    assert last["body"] == raw_body.decode() and last["body_bytes"] == len(raw_body)
    assert server.get("/sandbox/requests", headers=admin).json()["total"] == 5  # reading the log is not counted
    server.get("/v1/models")  # refused: not served, not recorded
    assert server.get("/sandbox/requests", headers=admin).json()["total"] == 5

    requests.delete(server.url + "/sandbox/requests", headers=admin, timeout=10)
    assert server.get("/sandbox/last-request", headers=admin).status_code == 404
