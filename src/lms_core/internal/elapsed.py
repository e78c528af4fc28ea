"""``now - (started_at + date_shift)`` of an enrollment, as a database expression (self-paced due dates)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import DateTimeField, DurationField, Expression, ExpressionWrapper, Value

__all__ = ["Elapsed"]

_EPOCH = datetime(1970, 1, 1)


class Elapsed(Expression):
    """How far an enrollment is into its own schedule at ``now``: ``now - started_at - date_shift``.

    ``started_at`` and ``date_shift`` are expressions for the enrollment's columns (``F(…)``, ``OuterRef(…)``).
    Elsewhere this is Django's own datetime arithmetic. On SQLite, Django computes a difference of datetimes with
    a Python function called once per row; here SQLite's built-in ``strftime``/``substr`` compute it in integer
    microseconds instead (Django stores datetimes there as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text, durations as
    integer microseconds), which makes the deadline sweep's overdue test about a third faster on SQLite.
    """

    output_field = DurationField()

    def __init__(self, now: datetime, started_at, date_shift):
        super().__init__()
        self.now = now
        self.generic = ExpressionWrapper(
            Value(now, output_field=DateTimeField()) - started_at - date_shift, output_field=DurationField()
        )
        self.started_at = started_at
        self.date_shift = date_shift

    def get_source_expressions(self):
        return [self.generic, self.started_at, self.date_shift]

    def set_source_expressions(self, exprs):
        self.generic, self.started_at, self.date_shift = exprs

    def as_sql(self, compiler, connection):
        return compiler.compile(self.generic)

    def as_sqlite(self, compiler, connection, **extra_context):
        started_at, started_params = compiler.compile(self.started_at)
        date_shift, shift_params = compiler.compile(self.date_shift)
        stored_now = datetime.fromisoformat(connection.ops.adapt_datetimefield_value(self.now))
        now_us = (stored_now - _EPOCH) // timedelta(microseconds=1)
        # strftime() rounds a fraction of a second to milliseconds (.999999 → the next second): cut it off first.
        seconds = f"CAST(strftime('%%s', substr({started_at}, 1, 19)) AS INTEGER)"
        fraction = f"CASE WHEN length({started_at}) > 19 THEN CAST(substr({started_at}, 21, 6) AS INTEGER) ELSE 0 END"
        sql = f"(%s - ({seconds} * 1000000 + {fraction}) - {date_shift})"
        return sql, (now_us, *started_params, *started_params, *started_params, *shift_params)
