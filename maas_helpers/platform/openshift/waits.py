"""Waiting and explaining: the step deadline every wait shares, condition readers, and what is stuck.

A notebook step has one timeout (`Deadline`); every inner wait polls until that deadline, sleeping at most
the time left, so a step ends within its timeout plus one poll. On timeout the message names what is stuck:
image pulls, crash loops (last log line), unschedulable pods, claims that bind to nothing and why.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from maas_helpers.kube import Kube

IMAGE_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CRASH_REASONS = {"CrashLoopBackOff", "CreateContainerConfigError", "RunContainerError"}

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Deadline:
    """The end of one notebook step: shared by every wait inside it."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = float(seconds)
        self.start = clock()
        self.end = self.start + self.seconds

    def left(self) -> float:
        return max(0.0, self.end - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self.end

    def elapsed(self) -> int:
        return int(self.clock() - self.start)

    def describe(self) -> str:
        return f"{int(self.seconds)} s (the step's timeout)"


def cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def is_true(obj: dict[str, Any] | None, ctype: str) -> bool:
    c = cond(obj, ctype)
    return bool(c and str(c.get("status")) == "True")


def false_conditions(obj: dict[str, Any] | None, types: tuple[str, ...] | None = None) -> list[str]:
    """``Type=False (Reason): message`` for every False condition (HasErrors: when True)."""
    out = []
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        ctype, status = c.get("type"), str(c.get("status"))
        if types is not None and ctype not in types:
            continue
        if (status == "False" and ctype != "HasErrors") or (ctype == "HasErrors" and status == "True"):
            reason = f" ({c['reason']})" if c.get("reason") else ""
            out.append(f"{ctype}={status}{reason}: {c.get('message') or 'no message'}")
    return out


def rolled_out(d: dict[str, Any]) -> bool:
    """A Deployment whose controller saw its latest spec and has every replica updated and ready."""
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    want = spec.get("replicas", 1)
    return (
        (status.get("observedGeneration") or 0) >= (meta.get("generation") or 0)
        and (status.get("updatedReplicas") or 0) >= want
        and (status.get("readyReplicas") or 0) >= want
    )


def decode(secret: dict[str, Any] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in ((secret or {}).get("data") or {}).items()}


def image_pull_errors(kube: Kube, ns: str) -> str:
    found = []
    for pod in kube.list("v1", "Pod", ns):
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        statuses += (pod.get("status") or {}).get("initContainerStatuses") or []
        for cs in statuses:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in IMAGE_PULL_REASONS:
                found.append(f"{pod['metadata']['name']} {waiting['reason']} {cs.get('image', '')}".strip())
    return ", ".join(found)


def pending_claims(kube: Kube, ns: str) -> list[dict[str, Any]]:
    return [
        p for p in kube.list("v1", "PersistentVolumeClaim", ns) if (p.get("status") or {}).get("phase") == "Pending"
    ]


def describe_pending_claims(claims: list[dict[str, Any]]) -> str:
    """Why each Pending claim may not bind, by its own access mode: RWX needs a shared-file class, RWO does not."""
    rwx: list[str] = []
    rwo: list[str] = []
    for p in claims:
        spec = p.get("spec") or {}
        text = f"{p['metadata']['name']} ({spec.get('storageClassName') or 'default class'})"
        (rwx if "ReadWriteMany" in (spec.get("accessModes") or []) else rwo).append(text)
    parts = []
    if rwx:
        parts.append(
            "PVC Pending (ReadWriteMany): " + ", ".join(rwx) + " — needs an RWX StorageClass such as ODF CephFS"
        )
    if rwo:
        parts.append(
            "PVC Pending (ReadWriteOnce): " + ", ".join(rwo)
            + " — the StorageClass cannot provision it (check that it exists, or set database_storage_class)"
        )
    return "; ".join(parts)


def pod_problems(kube: Kube, ns: str, deployments: list[str] | None = None) -> str:
    """Why pods are stuck: image pulls, crash loops (with the last log line), unschedulable or waiting
    for a volume claim. ``deployments`` limits it to pods whose name starts with one of them."""
    found = []
    waiting_claims = {p["metadata"]["name"] for p in pending_claims(kube, ns)}
    for pod in kube.list("v1", "Pod", ns):
        name = pod["metadata"]["name"]
        if deployments is not None and not any(name.startswith(f"{d}-") for d in deployments):
            continue
        status = pod.get("status") or {}
        for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in IMAGE_PULL_REASONS:
                found.append(f"pod {name} {reason} {cs.get('image', '')}".strip())
            elif reason in CRASH_REASONS:
                log = kube.pod_log(name, ns, cs.get("name"))
                found.append(f"pod {name} {reason}" + (f", last log line: {log.splitlines()[-1]}" if log else ""))
        if status.get("phase") == "Pending":
            claims = [
                v["persistentVolumeClaim"]["claimName"]
                for v in (pod.get("spec") or {}).get("volumes") or []
                if v.get("persistentVolumeClaim")
            ]
            stuck = [c for c in claims if c in waiting_claims]
            sched = next(
                (c for c in status.get("conditions") or []
                 if c.get("type") == "PodScheduled" and str(c.get("status")) == "False"),
                None,
            )
            if stuck:
                found.append(f"pod {name} Pending on PVC {', '.join(stuck)} (no StorageClass can bind it)")
            elif sched:
                found.append(f"pod {name} Pending: {sched.get('message') or sched.get('reason', '')}")
    return "; ".join(found)
