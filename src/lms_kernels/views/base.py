"""The base of the API views: authentication, JSON bodies, and errors as Jupyter Server's JSON.

Plain async Django views rather than DRF: the API is small, its shapes are Jupyter's rather than a
serializer's, and every request stays on the event loop except its database queries.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import classonlymethod
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from lms_common.jsoninput import JSONInputError, check_text, loads

from ..auth import authenticate_request
from ..exceptions import BadRequest, KernelServiceError, MessageTooLarge

__all__ = ["ApiView", "api_not_found", "check_text_input", "error_response", "json_response"]

logger = logging.getLogger(__name__)


def json_response(data, status: int = 200, headers: dict | None = None) -> JsonResponse:
    return JsonResponse(
        data, status=status, safe=False, headers=headers, json_dumps_params={"ensure_ascii": False}
    )


def check_text_input(field: str, value):
    """:class:`BadRequest` naming ``field`` unless ``value`` (from a body or a query) is ``None`` or text the
    database can store: no NUL character (PostgreSQL refuses it), no lone surrogate (no encoder takes it)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(_("'%(field)s' must be a string.") % {"field": field})
    problem = check_text(value)
    if problem is not None:
        raise BadRequest(
            _("'%(field)s' cannot hold %(problem)s.") % {"field": field, "problem": problem},
            code="invalid_text",
        )
    return value


def error_response(error: KernelServiceError) -> JsonResponse:
    return json_response(error.as_json(), status=error.status_code)


class ApiView(View):
    """Subclasses define ``async def get/post/patch/delete(self, request, user, **kwargs)``.

    CSRF is checked here, not by the middleware: a session-authenticated unsafe request must carry the
    token, a token-authenticated one need not (the view is ``csrf_exempt`` so the middleware lets it by).
    """

    http_method_names = ["get", "post", "patch", "delete"]

    @classonlymethod
    def as_view(cls, **initkwargs):
        return csrf_exempt(super().as_view(**initkwargs))

    async def dispatch(self, request, *args, **kwargs):
        handler = (
            getattr(self, request.method.lower(), None)
            if request.method.lower() in self.http_method_names
            else None
        )
        if handler is None:
            allowed = ", ".join(m.upper() for m in self.http_method_names if hasattr(self, m))
            return json_response(
                {
                    "message": _("Method %(method)s is not allowed here.") % {"method": request.method},
                    "reason": None,
                },
                status=405,
                headers={"Allow": allowed},
            )
        try:
            user = await authenticate_request(request)
            return await handler(request, user, *args, **kwargs)
        except KernelServiceError as exc:
            return error_response(exc)

    @staticmethod
    def json_body(request, *, required: bool = False) -> dict:
        """The request's JSON object; an empty body is ``{}`` unless ``required``.

        Bodies nesting deeper than :data:`lms_common.jsoninput.MAX_DEPTH`, holding a lone surrogate, ``NaN`` or a
        number out of range are refused here, with the reason, before anything acts on them.
        """
        try:
            body = request.body
        except RequestDataTooBig:
            raise MessageTooLarge(_("The request body is too large.")) from None
        if not body.strip():
            if required:
                raise BadRequest(_("No JSON data provided"))
            return {}
        try:
            data = loads(body)
        except JSONInputError as exc:
            # Jupyter Server's message, then what is wrong and where.
            raise BadRequest(f"{_('Invalid JSON in body of request')}: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest(_("The request body must be a JSON object."))
        return data


async def api_not_found(request, *args, **kwargs) -> HttpResponse:
    """Unknown paths under ``api/`` get Jupyter's JSON 404, not an HTML page."""
    return json_response({"message": _("Not found"), "reason": None}, status=404)
