"""``GET api/gpu-usage``: GPU-seconds of a user (yourself by default), of a group, or of everyone.

Query parameters (all optional):

``user``
    A username, or ``*`` for every user; default: yourself.
``group``
    Only this group's usage (e.g. a course key); default: every group.
``since``, ``until``
    Only records that started in ``[since, until)``: ISO 8601 dates or date-times (naive ones in the current
    time zone), within the years 1 to 9999 once in UTC.

A parameter that is not what it should be, out of range, or holds a NUL character is a ``400`` that names it.
``limit``, ``offset``
    Which records to list, newest first (``limit`` 1-500, default 100); totals cover all of them.

Who may see what is the adapter's ``can_view_gpu_usage`` (default: staff everything, others their own);
a refusal is a ``403``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .. import accounting
from ..adapters import get_adapter
from ..exceptions import BadRequest, PermissionDenied
from ..models import GpuUsage
from .base import ApiView, check_text_input, json_response

__all__ = ["GpuUsageView"]

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


def _isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(params, name: str) -> str | None:
    return check_text_input(name, params.get(name)) or None


def _moment(params, name: str) -> datetime | None:
    raw = _text(params, name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            value = datetime.combine(day, time.min) if day else None
    except ValueError:
        value = None
    if value is None:
        raise BadRequest(_("'%(name)s' must be an ISO 8601 date or date-time.") % {"name": name})
    try:
        # In UTC, as the database compares it: 0001-01-01T00:00+14:00 is before the first moment there is.
        value = timezone.make_aware(value) if timezone.is_naive(value) else value
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadRequest(
            _("'%(name)s' is out of range: give a moment between the years 1 and 9999 in UTC.")
            % {"name": name}
        ) from None


def _number(params, name: str, default: int, low: int, high: int) -> int:
    raw = _text(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadRequest(
            _("'%(name)s' must be a whole number from %(low)d to %(high)d.")
            % {"name": name, "low": low, "high": high}
        )
    return value


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _report(request_user, params) -> dict:
    user_model = get_user_model()
    who = _text(params, "user")
    group = _text(params, "group")
    since, until = _moment(params, "since"), _moment(params, "until")
    limit = _number(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _number(params, "offset", 0, 0, 10**9)
    adapter = get_adapter()
    if who is None or who == request_user.get_username():
        owner = request_user
    elif who == "*":
        owner = None
    else:
        owner = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: who}).first()
        if owner is None:
            if not adapter.can_view_gpu_usage(request_user, owner=None, group=group):
                raise PermissionDenied(_("You may only see your own GPU usage."))
            raise BadRequest(_("No such user: %(user)s") % {"user": who}, code="no_such_user")
    if not adapter.can_view_gpu_usage(request_user, owner=owner, group=group):
        raise PermissionDenied(_("You may only see your own GPU usage."))

    records = GpuUsage.objects.all()
    if owner is not None:
        records = records.filter(owner=owner)
    if group is not None:
        records = records.filter(group=group)
    if since is not None:
        records = records.filter(started__gte=since)
    if until is not None:
        records = records.filter(started__lt=until)
    now = timezone.now()
    total = accounting.totals(records, now)
    by_group = accounting.shares(records, "group", now)
    report = {
        "user": who if who == "*" else _username(owner),
        "group": group,
        "since": _isoformat(since),
        "until": _isoformat(until),
        "total_seconds": round(total.seconds, 3),
        "running": total.running,
        "count": total.records,
        "limit": limit,
        "offset": offset,
        "by_group": [
            {"group": share.key, "seconds": round(share.seconds, 3), "records": share.records}
            for share in by_group
        ],
    }
    if owner is None:
        by_owner = accounting.shares(records, "owner", now)
        names = dict(
            user_model._default_manager.filter(
                pk__in=[s.key for s in by_owner if s.key is not None]
            ).values_list("pk", user_model.USERNAME_FIELD)
        )
        report["by_user"] = [
            {"user": names.get(share.key), "seconds": round(share.seconds, 3), "records": share.records}
            for share in by_owner
        ]
    rows = records.select_related("owner").order_by("-started", "-pk")[offset : offset + limit]
    report["records"] = [
        {
            "kernel_id": str(row.kernel_id),
            "user": _username(row.owner),
            "group": row.group,
            "environment": row.environment,
            "device": row.device,
            "started": _isoformat(row.started),
            "ended": _isoformat(row.ended),
            "seconds": round(row.seconds_until(now), 3),
            "running": row.ended is None,
        }
        for row in rows
    ]
    return report


class GpuUsageView(ApiView):
    http_method_names = ["get"]

    async def get(self, request, user):
        return json_response(await sync_to_async(_report)(user, request.GET))
