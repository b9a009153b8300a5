"""APIcast's default ("strict") authorization cache, as the gateway sees it from outside.

APIcast (gateway/src/apicast/proxy.lua `authorize` / `post_action`, backend/cache_handler.lua `strict`) keys
the cache by service, credentials and usage. A miss calls backend's authrep before proxying and caches a 200.
A hit proxies at once and reports in post_action; a non-200 answer there deletes the entry. So after a key is
changed (or its application suspended), the first request with the old key that was already authorised for
the same usage is still served, and the next one is refused.

The sandbox's backend is in-process, so the "later" authrep runs before proxying; its answer decides only
whether the entry stays. Limits are the one deliberate difference: an over-limit request is refused even on a
hit (exact counts, docs/sandbox.md), where APIcast would serve it and refuse the next.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

Key = tuple[str, int, str, tuple[tuple[str, int], ...]]
MAX_ENTRIES = 10_000  # APIcast's `api_keys` shared dict is bounded too (by memory); oldest entries go first


class AuthCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Key, None] = OrderedDict()
        self._max = max_entries

    @staticmethod
    def key(environment: str, service_id: int, user_key: str, usage: Mapping[str, int]) -> Key:
        return environment, service_id, user_key, tuple(sorted(usage.items()))

    def known(self, key: Key) -> bool:
        """A hit (the key was authorised for this usage and nothing refused it since)."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return True
        return False

    def authorised(self, key: Key) -> None:
        entries = self._entries
        if key in entries:  # the common case: a key authorised before, now the most recently used
            entries.move_to_end(key)
            return
        entries[key] = None
        while len(entries) > self._max:
            entries.popitem(last=False)

    def refused(self, key: Key) -> None:
        self._entries.pop(key, None)
