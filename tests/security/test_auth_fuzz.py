"""Auth fuzz (issue 8): 10,000 hostile or odd requests; none may reach the model without a valid live key,
and each gets 3scale's status and body for its case. The long run is `python benchmarks/auth_fuzz.py`."""

from __future__ import annotations

import asyncio

import auth_fuzz as af
import pytest

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb

REQUESTS = 10_000
CONCURRENCY = 128


@pytest.fixture(scope="module")
def world(secured: SandboxInfo) -> af.World:
    return af.build_world(secured)


def test_no_request_reaches_the_model_without_a_valid_live_key(world: af.World) -> None:
    result = af.fuzz(world, REQUESTS, CONCURRENCY, seed=8)
    print(result.report())
    assert result.sent == REQUESTS
    assert result.valid_sent > 0, "the fuzz must include valid traffic, or a dead model counter would pass"
    assert result.model_received == result.valid_sent, "requests reached the model without a valid live key"
    assert result.mismatches == []
    assert result.stray_head_bodies == 0, "answers to HEAD carried a body"
    seen = {kind.split("/")[0] for kind in result.kinds} | {"/".join(k.split("/")[:2]) for k in result.kinds}
    for required in (
        "missing", "no-match", "dark", "preflight", "malformed", "valid", "failed/unknown",
        "failed/suspended-or-deleted", "failed/other-product", "failed/mangled", "failed/injection",
    ):
        assert required in seen, f"the fuzz never produced a {required} case"


def test_a_key_stops_working_once_its_application_is_suspended(world: af.World) -> None:
    """APIcast's strict authorization cache (gateway/src/apicast/proxy.lua authorize/post_action,
    backend/cache_handler.lua): a key already authorised for this request is served once more after its
    application is suspended (the cached hit reports afterwards and the refusal evicts it); the next is refused."""
    admin = lb.Admin(world.info)
    product = lb.build_product(admin)
    app = product.new_app()
    port = af._port(product.production)
    get = lb.request_bytes("GET", "/v1/models", [("Authorization", f"Bearer {app.key}")])

    async def one() -> lb.Reply:
        conn = lb.RawConnection("127.0.0.1", port)
        try:
            return await conn.exchange(get)
        finally:
            await conn.close()

    assert asyncio.run(one()).status == 200
    product.suspend(app)
    assert asyncio.run(one()).status == 200  # the cached authorisation, reported afterwards: evicted
    reply = asyncio.run(one())
    assert (reply.status, reply.body) == af.FAILED
    reply = asyncio.run(one())
    assert (reply.status, reply.body) == af.FAILED  # and stays refused
    admin.call("PUT", f"/admin/api/accounts/{product.account_id}/applications/{app.id}/resume.json")
    assert asyncio.run(one()).status == 200


def test_head_requests_get_no_body(world: af.World) -> None:
    port = world.ports["authorization"]
    raw = lb.request_bytes("HEAD", "/v1/models", [])

    async def one() -> lb.Reply:
        conn = lb.RawConnection("127.0.0.1", port)
        try:
            return await conn.exchange(raw, head=True)
        finally:
            await conn.close()

    reply = asyncio.run(one())
    assert reply.status == 403
    assert reply.extra == b"", f"HEAD answer carried a body: {reply.extra!r}"
