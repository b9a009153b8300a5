"""Issue 28 item 5: one absurd usage number from a model answer must not erase other applications' usage.

Before the fix a model answering `total_tokens: 1e300` made the 0.5 s write-behind fail with OverflowError, and
because the flush had cleared its buffer first, every other call of that flush vanished from analytics and
billing; `2^63−1` was stored as is. Now each request's usage of a metric is bounded (MAX_DELTA, documented in
docs/reliability.md) before it is counted, and a failing flush writes row by row (maas_sandbox/backend/engine.py).
Figures: the honest application keeps all its tokens; the absurd answers count at most MAX_DELTA each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from maas_sandbox.backend import engine
from maas_sandbox.control import SandboxInfo

from harness.admin import Admin
from harness.sandbox import running
from harness.usage_upstream import UsageProduct, build_usage_product, usage_upstream

MAX_DELTA = getattr(engine, "MAX_DELTA", 10**9)  # the module's bound (a plain figure on older commits)


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxInfo, UsageProduct]]:
    with usage_upstream() as url, running(tmp_path_factory.mktemp("writebehind") / "state") as info:
        admin = Admin(info)
        admin.freeze_clock()
        yield info, build_usage_product(admin, url)


def test_an_absurd_usage_number_does_not_erase_the_other_writes_of_its_flush(product) -> None:
    info, p = product
    (honest, honest_key), (huge, huge_key), (max64, max64_key) = p.new_app(), p.new_app(), p.new_app()
    sent = 0
    for _ in range(5):  # interleaved within one write-behind window (0.5 s)
        assert p.call(honest_key, '{"total_tokens": 10}').status_code == 200
        sent += 10
        assert p.call(huge_key, '{"prompt_tokens": 1, "total_tokens": 1e300}').status_code == 200
        assert p.call(max64_key, f'{{"total_tokens": {2**63 - 1}}}').status_code == 200
    time.sleep(1.5)  # three flushes

    admin = Admin(info)
    assert admin.usage(honest, "total_tokens") == sent, "the honest application's usage was lost"
    assert 0 < admin.usage(huge, "total_tokens") <= 5 * MAX_DELTA
    assert 0 < admin.usage(max64, "total_tokens") <= 5 * MAX_DELTA
    # and the write-behind keeps working afterwards
    assert p.call(honest_key, '{"total_tokens": 7}').status_code == 200
    time.sleep(1.0)
    assert admin.usage(honest, "total_tokens") == sent + 7


@pytest.mark.parametrize("usage", ['{"total_tokens": -5}', '{"total_tokens": "12"}', '{"total_tokens": 1e400}',
                                  '{"total_tokens": 3.9}'])
def test_odd_usage_values_count_as_bounded_whole_numbers(product, usage: str) -> None:
    info, p = product
    app, key = p.new_app()
    assert p.call(key, usage).status_code == 200
    time.sleep(1.0)
    assert 0 <= Admin(info).usage(app, "total_tokens") <= MAX_DELTA
