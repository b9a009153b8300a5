"""Auth fuzz: many requests with missing, malformed, wrong, suspended, deleted and other products' keys,
odd paths, methods and headers, against a sandbox whose model server counts what it receives.

Claim checked: no request reaches the model without a valid live key, and every response carries the
status and body 3scale (porta-generated config) gives for its case (reference apicast-gateway.md §1, §3, §4):

- production listener of a product never promoted → 404, empty body (no config for that host);
- CORS preflight (OPTIONS + Origin + Access-Control-Request-Method) → 204, empty, before any auth;
- credentials absent (or not extractable from the configured location) → 403 `Authentication parameters missing`;
- credentials present, no mapping rule for method + normalised path → 404 `No Mapping Rule matched`;
- credentials present, rule matched, key unknown / app suspended / app deleted / other product's → 403
  `Authentication failed`;
- malformed HTTP → 400 and the connection closed (what nginx answers).

`python benchmarks/auth_fuzz.py --requests 100000` runs the long version; tests/security runs 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import secrets
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote as q

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness, tests/harness/

from maas_sandbox import control  # noqa: E402

from harness import loopback as lb  # noqa: E402 - benchmarks/ is not a package

PORTA_TYPE = "text/plain; charset=us-ascii"
MISSING = (403, b"Authentication parameters missing")
FAILED = (403, b"Authentication failed")
NO_MATCH = (404, b"No Mapping Rule matched")
DARK = (404, b"")
PREFLIGHT = (204, b"")
MALFORMED = (400, b"")

# (raw path as sent, matches `GET /v1/models` after nginx normalisation, matches `POST /v1/chat/completions`)
PATHS: list[tuple[str, bool, bool]] = [
    ("/v1/models", True, False),
    ("/v1/models/", True, False),
    ("/v1/models/markov-chat-small", True, False),
    ("/v1/%6Dodels", True, False),
    ("/v1/./models", True, False),
    ("/v1//models", True, False),
    ("/x/../v1/models", True, False),
    ("/v1/chat/completions/../../models", True, False),
    ("/v1/models;param=1", True, False),
    ("/v1/models/" + "a" * 6000, True, False),
    ("/v1/models?q=" + "b" * 4000, True, False),
    ("/v1/chat/completions", False, True),
    ("/v1/chat/%63ompletions", False, True),
    ("/v1/chat//completions?stream=true", False, True),
    ("/", False, False),
    ("/../../etc/passwd", False, False),
    ("/%2e%2e/%2e%2e/etc/passwd", False, False),
    ("/v1/models/../../admin/api/services.json", False, False),
    ("/V1/MODELS", False, False),
    ("/v1/model", False, False),
    ("/v2/models", False, False),
    ("/v1/embeddings", False, False),
    ("/admin/api/services.json?access_token=x", False, False),
    ("/" + "c" * 7000, False, False),
]
# Paths a valid request may use: they reach the model and the model answers 200. The gateway forwards the
# normalised path it matched, so encoded, doubled and dot-segment spellings are served as `/v1/models`.
VALID_PATHS = [
    "/v1/models", "/v1/%6Dodels", "/v1/models?q=1", "/x/../v1/models", "/v1//models", "/v1/./models",
    "/v1/chat/completions/../../models",
]
# TRACE is left out: nginx answers it 405 itself, before any 3scale logic.
METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"]
MALFORMED_REQUESTS = [
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"GET /v1/models HTTP/9.9\r\nHost: x\r\n\r\n",
    b"G@T /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/mo dels HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
]


@dataclass(frozen=True)
class Case:
    kind: str
    port: int
    raw: bytes
    status: int
    body: bytes | None  # None: a valid request, the model's own answer is not checked beyond the status
    valid: bool
    head: bool = False


@dataclass
class World:
    """Products, each listener's port, and keys by what they are."""

    info: control.SandboxInfo
    ports: dict[str, int]  # product label → production port (staging for "staging")
    live: dict[str, list[str]]
    dead: dict[str, list[str]]  # suspended and deleted apps' keys, per product
    location: dict[str, str]  # credentials location per product


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def build_world(info: control.SandboxInfo) -> World:
    admin = lb.Admin(info)
    products = {
        "authorization": lb.build_product(admin, credentials="authorization"),
        "query": lb.build_product(admin, credentials="query", auth_user_key="user_key"),
        "headers": lb.build_product(admin, credentials="headers", auth_user_key="user_key"),
        "dark": lb.build_product(admin, credentials="authorization", promote=False),
    }
    world = World(info, {}, {}, {}, {})
    for label, product in products.items():
        world.ports[label] = _port(product.production)
        world.location[label] = "authorization" if label == "dark" else label
        world.live[label] = [product.new_app().key for _ in range(2)]
        suspended, deleted = product.new_app(), product.new_app()
        product.suspend(suspended)
        product.delete(deleted)
        world.dead[label] = [suspended.key, deleted.key]
    # Staging of the authorization product: same config, its own listener.
    world.ports["staging"] = _port(products["authorization"].staging)
    world.location["staging"] = "authorization"
    world.live["staging"] = world.live["authorization"]
    world.dead["staging"] = world.dead["authorization"]
    return world


# -- credentials -----------------------------------------------------------------------------------------
@dataclass
class Presented:
    """Where a credential is placed: query suffix, headers and an urlencoded form body."""

    outcome: str  # "missing" | "failed" | "valid"
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    form: str = ""
    why: str = ""  # for a failed credential: what kind of wrong key


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def present(world: World, label: str, rng: random.Random) -> Presented:
    location = world.location[label]
    live = rng.choice(world.live[label])
    dead = rng.choice(world.dead[label])
    own = "authorization" if label == "staging" else label  # staging is the authorization product's other listener
    other_label = rng.choice([x for x in ("authorization", "query", "headers", "dark") if x != own])
    other = rng.choice(world.live[other_label])
    why, wrong = rng.choice([
        ("unknown", secrets.token_hex(16)), ("suspended-or-deleted", dead), ("other-product", other),
        ("mangled", live.upper()), ("mangled", live + "0"), ("mangled", live[:-1]), ("injection", "' OR 1=1 --"),
    ])
    if location == "authorization":
        variants: list[Callable[[], Presented]] = [
            lambda: Presented("missing"),
            lambda: Presented("missing", headers=[("Authorization", "")]),
            lambda: Presented("missing", headers=[("Authorization", "Bearer")]),
            lambda: Presented("missing", headers=[("Authorization", f"bearer {live}")]),
            lambda: Presented("missing", headers=[("Authorization", f"Token {live}")]),
            lambda: Presented("missing", headers=[("Authorization", "Basic !!not-base64!!")]),
            lambda: Presented("missing", headers=[("Authorization", "Basic " + _b64(":"))]),
            lambda: Presented("missing", query=f"user_key={live}"),
            lambda: Presented("missing", headers=[("User-Key", live)]),
            lambda: Presented("failed", headers=[("Authorization", f"Bearer {wrong}")]),
            lambda: Presented("failed", headers=[("Authorization", "Basic " + _b64(f"{wrong}:"))]),
            lambda: Presented("failed", headers=[("Authorization", "Basic " + _b64(f"{wrong}:{live}"))]),
            lambda: Presented(
                "failed", headers=[("Authorization", f"Bearer {wrong}"), ("Authorization", f"Bearer {live}")]
            ),
            lambda: Presented("valid", headers=[("Authorization", f"Bearer {live}")]),
            lambda: Presented("valid", headers=[("Authorization", "Basic " + _b64(f"{live}:"))]),
            lambda: Presented("valid", headers=[("Authorization", "Basic " + _b64(f":{live}"))]),
        ]
    elif location == "query":
        variants = [
            lambda: Presented("missing"),
            lambda: Presented("missing", headers=[("Authorization", f"Bearer {live}")]),
            lambda: Presented("missing", query=f"userkey={live}"),
            lambda: Presented("failed", query="user_key="),
            lambda: Presented("failed", query=f"user_key={q(wrong)}"),
            lambda: Presented("failed", query=f"USER_KEY={q(wrong)}"),
            lambda: Presented("failed", query=f"user_key={q(wrong)}&user_key={live}"),
            lambda: Presented("failed", form=f"user_key={q(wrong)}"),
            lambda: Presented("valid", query=f"user_key={live}"),
            lambda: Presented("valid", query=f"User_Key={live}"),
        ]
    else:  # headers, name user_key
        variants = [
            lambda: Presented("missing"),
            lambda: Presented("missing", query=f"user_key={live}"),
            lambda: Presented("missing", headers=[("Authorization", f"Bearer {live}")]),
            lambda: Presented("missing", headers=[("User-Keys", live)]),
            lambda: Presented("failed", headers=[("User-Key", wrong)]),
            lambda: Presented("failed", headers=[("user_key", wrong)]),
            lambda: Presented("failed", headers=[("User-Key", wrong), ("User-Key", live)]),
            lambda: Presented("valid", headers=[("User-Key", live)]),
            lambda: Presented("valid", headers=[("USER_KEY", live)]),
        ]
    chosen = rng.choice(variants)()
    if chosen.outcome == "failed":
        chosen.why = why
    if chosen.outcome == "valid" and rng.random() > 0.35:
        return present(world, label, rng)  # keep valid traffic a small share (about 3 %) of the fuzz
    return chosen


# -- odd but harmless headers (never change the outcome) --------------------------------------------------
def noise(rng: random.Random) -> list[tuple[str, str]]:
    pool = [
        ("X-3scale-proxy-secret-token", "forged"),
        ("X-3scale-Debug", secrets.token_hex(8)),
        ("X-Forwarded-For", "10.0.0.1, 127.0.0.1"),
        ("X-Junk", "j" * 3000),
        ("Accept", "*/*"),
        ("Cookie", "session=" + secrets.token_hex(8)),
        ("X-Original-URL", "/v1/models"),
        ("Content-Type", "application/json"),
    ]
    return rng.sample(pool, rng.randrange(0, 3))


def _expected(label: str, method: str, path_matches: tuple[bool, bool], cred: Presented) -> tuple[int, bytes]:
    if label == "dark":
        return DARK
    if cred.outcome == "missing":
        return MISSING
    models, chat = path_matches
    if not ((method == "GET" and models) or (method == "POST" and chat)):
        return NO_MATCH
    return FAILED if cred.outcome == "failed" else (200, b"")


def make_case(world: World, rng: random.Random) -> Case:
    roll = rng.random()
    label = rng.choices(["authorization", "query", "headers", "dark", "staging"], [35, 25, 20, 10, 10])[0]
    port = world.ports[label]
    if roll < 0.01:
        return Case("malformed", port, rng.choice(MALFORMED_REQUESTS), *MALFORMED, valid=False)
    if roll < 0.04:
        raw = lb.request_bytes(
            "OPTIONS", rng.choice(PATHS)[0],
            [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")],
        )
        status, body = DARK if label == "dark" else PREFLIGHT
        return Case(f"preflight/{label}", port, raw, status, body, valid=False)
    cred = present(world, label, rng)
    method = "POST" if cred.form else rng.choice(METHODS)
    path, models, chat = rng.choice(PATHS)
    if cred.outcome == "failed" and not cred.form and rng.random() < 0.6:
        # most wrong keys go to a path a rule matches, where the key itself is what gets checked
        method, (path, models, chat) = rng.choice([("GET", PATHS[0]), ("GET", PATHS[3]), ("POST", PATHS[11])])
    status, body = _expected(label, method, (models, chat), cred)
    if status == 200:
        method, path = "GET", rng.choice(VALID_PATHS)  # valid traffic: only paths the model answers with 200
    headers = list(cred.headers) + noise(rng)
    payload = b""
    if cred.form:
        headers = [h for h in headers if h[0] != "Content-Type"] + [
            ("Content-Type", "application/x-www-form-urlencoded")
        ]
        payload = cred.form.encode()
    elif method == "POST" and rng.random() < 0.5:
        payload = b'{"model": "markov-chat-small", "messages": [{"role": "user", "content": "hi"}]}'
    target = path
    if cred.query:
        target += ("&" if "?" in target else "?") + cred.query
    raw = lb.request_bytes(method, target, headers, payload)
    kind = {DARK: "dark", MISSING: "missing", NO_MATCH: "no-match", FAILED: "failed"}.get((status, body), "valid")
    if kind == "failed":
        kind = f"failed/{cred.why}"
    expected_body = None if status == 200 else body
    return Case(f"{kind}/{label}", port, raw, status, expected_body, status == 200, head=method == "HEAD")


# -- running ---------------------------------------------------------------------------------------------
@dataclass
class FuzzResult:
    sent: int = 0
    valid_sent: int = 0
    model_received: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    stray_head_bodies: int = 0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.model_received == self.valid_sent

    def report(self) -> str:
        lines = [
            f"auth fuzz: {self.sent} requests in {self.seconds:.1f} s ({self.rate:.0f} req/s)",
            f"  valid requests sent {self.valid_sent}, requests the model received {self.model_received}",
            f"  mismatched responses {len(self.mismatches)}; HEAD answers carrying a body {self.stray_head_bodies}",
        ]
        lines += [f"  {kind:<42} {n:>6}" for kind, n in sorted(self.kinds.items())]
        lines += [f"  MISMATCH {m}" for m in self.mismatches[:20]]
        return "\n".join(lines)


def _check(case: Case, reply: lb.Reply) -> str | None:
    if reply.status != case.status:
        return f"{case.kind}: expected {case.status}, got {reply.status}: {case.raw[:160]!r}"
    if case.body is not None and not case.head and reply.body != case.body:
        return f"{case.kind}: body {reply.body[:80]!r} != {case.body!r}: {case.raw[:160]!r}"
    if case.body and not case.head and reply.headers.get("content-type") != PORTA_TYPE:
        return f"{case.kind}: content-type {reply.headers.get('content-type')!r}: {case.raw[:120]!r}"
    return None


async def _worker(cases: list[Case], result: FuzzResult) -> None:
    conns: dict[int, lb.RawConnection] = {}
    try:
        for case in cases:
            conn = conns.setdefault(case.port, lb.RawConnection("127.0.0.1", case.port))
            reply = await asyncio.wait_for(conn.exchange(case.raw, head=case.head), 30)
            if case.status == MALFORMED[0]:
                await conn.close()  # nginx closes after a 400; never reuse
            result.sent += 1
            result.kinds[case.kind] += 1
            if case.head and reply.extra:
                result.stray_head_bodies += 1
            problem = _check(case, reply)
            if problem is not None:
                result.mismatches.append(problem)
    finally:
        for conn in conns.values():
            await conn.close()


async def run_cases(cases: list[Case], concurrency: int) -> FuzzResult:
    result = FuzzResult(valid_sent=sum(c.valid for c in cases))
    clock = lb.Stopwatch()
    await asyncio.gather(*(_worker(cases[i::concurrency], result) for i in range(concurrency)))
    result.seconds = clock.seconds
    return result


def fuzz(world: World, requests_total: int, concurrency: int, seed: int = 8) -> FuzzResult:
    rng = random.Random(seed)
    cases = [make_case(world, rng) for _ in range(requests_total)]
    before = lb.model_requests(world.info)
    result = asyncio.run(run_cases(cases, concurrency))
    result.model_received = lb.model_requests(world.info) - before
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maas-fuzz-") as tmp:
        info = lb.start_sandbox(Path(tmp) / "state")
        try:
            world = build_world(info)
            result = fuzz(world, args.requests, args.concurrency, args.seed)
        finally:
            control.down(info.state_dir)
    print(result.report())
    leaked = result.model_received - result.valid_sent
    print(lb.bench_line("auth fuzz requests", result.sent, "req", ok=result.ok))
    print(lb.bench_line("auth fuzz leaked to model", leaked, "req", target="0", ok=leaked == 0))
    print(lb.bench_line("auth fuzz wrong status/body", len(result.mismatches), "resp", target="0",
                        ok=not result.mismatches))
    print(lb.bench_line("auth fuzz rate", round(result.rate), "req/s"))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
