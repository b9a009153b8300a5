"""Result objects every helper step returns: what it did to which object, rendered for Jupyter and for logs.

Rendering never changes state. Secrets never appear here (callers pass masked values).
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    PLANNED_CREATE = "would create"
    PLANNED_UPDATE = "would update"
    PLANNED_DELETE = "would delete"
    APPLIED = "applied"  # cluster objects sent with server-side apply
    WAITED = "ready"
    SKIPPED = "skipped"  # not applicable for this target (e.g. operator install in the sandbox)
    FAILED = "failed"


WRITES = {Change.CREATED, Change.UPDATED, Change.DELETED, Change.APPLIED}


@dataclass(frozen=True)
class FieldChange:
    """One field of one object: what 3scale holds → what the catalogue wants."""

    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        if all(isinstance(v, str | int | float | bool) or v is None for v in (self.old, self.new)):
            return f"{self.field}: {self.old!r} → {self.new!r}"
        return f"{self.field} changed"


@dataclass
class Action:
    kind: str  # "backend", "product", "mapping rule", "Subscription", ...
    name: str  # human name or system name of the object
    change: Change
    detail: str = ""  # e.g. "private_endpoint: old → new"
    link: str | None = None  # where a learner can see the object (admin portal / console URL)
    changes: tuple[FieldChange, ...] = ()  # field-level old → new (reconcile's planners fill it in)
    writes: tuple[Any, ...] = field(default=(), repr=False)  # the Admin API requests (reconcile.actions.Write)

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.change.value:<13} {self.kind}: {self.name}{extra}"


@dataclass
class StepResult:
    title: str
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, name: str, change: Change, detail: str = "", link: str | None = None) -> Action:
        action = Action(kind, name, change, detail, link)
        self.actions.append(action)
        return action

    def extend(self, other: StepResult) -> StepResult:
        self.actions.extend(other.actions)
        self.notes.extend(other.notes)
        return self

    @property
    def counts(self) -> Counter[str]:
        return Counter(a.change.value for a in self.actions)

    @property
    def writes(self) -> int:
        return sum(1 for a in self.actions if a.change in WRITES)

    @property
    def changed(self) -> bool:
        return any(
            a.change in WRITES or a.change in (Change.PLANNED_CREATE, Change.PLANNED_UPDATE, Change.PLANNED_DELETE)
            for a in self.actions
        )

    @property
    def in_sync(self) -> bool:
        """True when nothing was (or would be) written: the desired state already holds."""
        return not self.changed and not any(a.change is Change.FAILED for a in self.actions)

    def fold(self, kind: str, where: str) -> StepResult:
        """A copy whose `kind` rows become one summary row with their counts, for when a table `where` shows
        them; the row keeps a write's change, so a written row still shows as written."""
        folded = [a for a in self.actions if a.kind == kind]
        if not folded:
            return self
        changes = [a.change for a in folded]
        change = next((c for c in (Change.CREATED, Change.UPDATED, Change.DELETED, Change.APPLIED, Change.FAILED)
                       if c in changes), changes[0])
        counts = ", ".join(f"{n} {c}" for c, n in sorted(Counter(c.value for c in changes).items()))
        row = Action(kind, f"{len(folded)} {kind}s", change, f"{counts}: {where}")
        rest = [a for a in self.actions if a.kind != kind]
        return StepResult(self.title, [*rest, row], list(self.notes))

    def summary(self) -> str:
        if not self.actions:
            return f"{self.title}: nothing to do"
        parts = ", ".join(f"{n} {c}" for c, n in sorted(self.counts.items()))
        if not self.changed:
            parts += " — no changes"
        return f"{self.title}: {parts}"

    def __str__(self) -> str:
        lines = [self.summary()] + [f"  {a}" for a in self.actions] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for a in self.actions:
            name = html.escape(a.name)
            if a.link:
                name = f'<a href="{html.escape(a.link)}" target="_blank">{name}</a>'
            rows.append(
                f'<tr class="maas-{a.change.name.lower()}"><td>{html.escape(a.change.value)}</td>'
                f"<td>{html.escape(a.kind)}</td><td>{name}</td><td>{html.escape(a.detail)}</td></tr>"
            )
        notes = "".join(f"<p><em>{html.escape(n)}</em></p>" for n in self.notes)
        return (
            f"<div class='maas-result'><strong>{html.escape(self.summary())}</strong>"
            "<table><thead><tr><th>change</th><th>kind</th><th>object</th><th>detail</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{notes}</div>"
        )


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 write`, `2 writes`, `0 writes`: a count with its noun agreeing (`many` for irregular plurals)."""
    return f"{count} {word if count == 1 else many or word + 's'}"
