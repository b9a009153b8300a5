"""Issue 28 item 10: the thousand-token remainder of an llm-metrics `per: 1000` rule survives `sandbox down/up` and
`kill -9`. Before the fix it lived in the gateway's memory only (1,128 tokens over a restart billed 0 units; 1,692
over a kill -9 billed 0). Now it is kept with the usage and written by the same write-behind transaction
(maas_sandbox/backend/engine.py, table usage_carry), so it is as durable as the usage itself (a kill -9 loses at
most the last flush interval of both, docs/reliability.md). As in llm_metrics_usage.lua, the units billed over
time are floor(total tokens / 1000).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from maas_sandbox import control

from harness.admin import Admin
from harness.sandbox import restart, start
from harness.usage_upstream import build_usage_product, usage_upstream


def test_the_remainder_survives_down_up_and_kill_9(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with usage_upstream() as url:
        info = start(state)
        try:
            admin = Admin(info)
            admin.freeze_clock()
            product = build_usage_product(admin, url)
            app, key = product.new_app()

            assert product.call(key, '{"total_tokens": 600}').status_code == 200  # 600: 0 units, 600 carried
            control.down(state)
            info = restart(state)
            admin = Admin(info)
            admin.freeze_clock()  # the test clock is not kept over a restart
            assert product.call(key, '{"total_tokens": 528}').status_code == 200  # 1,128 in all: 1 unit
            time.sleep(1.0)
            assert admin.usage(app, "total_tokens_k") == 1, "the remainder was lost over down/up"

            assert product.call(key, '{"total_tokens": 700}').status_code == 200  # 1,828: still 1, 828 carried
            time.sleep(1.5)  # the write-behind ran: what a kill -9 may lose is older than this
            os.kill(info.pid, signal.SIGKILL)
            info = restart(state)
            admin = Admin(info)
            admin.freeze_clock()  # the test clock is not kept over a restart
            assert product.call(key, '{"total_tokens": 500}').status_code == 200  # 2,328: 2 units
            time.sleep(1.0)
            assert admin.usage(app, "total_tokens") == 2328
            assert admin.usage(app, "total_tokens_k") == 2, "the remainder was lost over kill -9"
        finally:
            control.down(state)
