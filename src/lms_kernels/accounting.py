"""GPU-seconds: totals of :class:`~lms_kernels.models.GpuUsage` records, per user and per group.

A record is one kernel's use of one GPU; its ``seconds`` are set when the GPU is released. A record still
open (the kernel holds the GPU now) counts the time so far. Sums are done by the database for closed
records and in Python for open ones (there are at most as many open records as GPU slots).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet, Sum

__all__ = ["Share", "Totals", "shares", "totals"]

#: Most entries of a per-user or per-group breakdown.
MAX_SHARES = 1000


@dataclass(frozen=True)
class Totals:
    seconds: float
    records: int
    running: int  # records still open: GPUs held now


@dataclass(frozen=True)
class Share:
    key: object  # a user id (or None: a deleted user) or a group
    seconds: float
    records: int


def totals(records: QuerySet, now: datetime) -> Totals:
    closed = records.filter(ended__isnull=False).aggregate(seconds=Sum("seconds"), records=Count("pk"))
    open_seconds, running = 0.0, 0
    for started in records.filter(ended__isnull=True).values_list("started", flat=True):
        open_seconds += max((now - started).total_seconds(), 0.0)
        running += 1
    return Totals(
        seconds=(closed["seconds"] or 0.0) + open_seconds,
        records=(closed["records"] or 0) + running,
        running=running,
    )


def shares(records: QuerySet, field: str, now: datetime, limit: int = MAX_SHARES) -> list[Share]:
    """GPU-seconds per value of ``field`` (``"owner"`` or ``"group"``), largest first."""
    seconds: dict[object, float] = {}
    counts: dict[object, int] = {}
    closed = records.filter(ended__isnull=False).values(field).annotate(s=Sum("seconds"), n=Count("pk"))
    for row in closed.order_by():
        seconds[row[field]] = row["s"] or 0.0
        counts[row[field]] = row["n"]
    for key, started in records.filter(ended__isnull=True).values_list(field, "started"):
        seconds[key] = seconds.get(key, 0.0) + max((now - started).total_seconds(), 0.0)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(seconds, key=lambda key: (-seconds[key], str(key)))
    return [Share(key, seconds[key], counts[key]) for key in ordered[:limit]]
