"""``/api/sessions``: a kernel per learner and path (e.g. a lesson), reused when the page is reloaded."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from .. import services
from ..exceptions import BadRequest
from ..serializers import session_model
from .base import ApiView, check_text_input, json_response

__all__ = ["SessionDetailView", "SessionListView"]


def _string_field(body: dict, field: str, *, required: bool, default: str = "") -> str:
    if field not in body or body[field] is None:
        if required:
            raise BadRequest(_("Missing field in JSON data: %(field)s") % {"field": field})
        return default
    value = body[field]
    if not isinstance(value, str):
        raise BadRequest(_("'%(field)s' must be a string.") % {"field": field})
    services.check_session_field(field, value)
    # What the database cannot store (PostgreSQL refuses NUL in text; no encoder takes a lone surrogate) is
    # refused here, before a kernel is started for the session: failing at the insert would orphan it.
    return check_text_input(field, value)


def _kernel_reference(body: dict) -> dict:
    """The body's ``kernel`` object (``{}`` if none), its ``id`` and ``name`` checked."""
    kernel = body.get("kernel") or {}
    if not isinstance(kernel, dict):
        raise BadRequest(_("'kernel' must be an object."))
    for key in ("id", "name"):
        check_text_input(f"kernel.{key}", kernel.get(key))
    return kernel


def _checked_changes(body: dict) -> dict:
    """A ``PATCH`` body with its ``path``, ``name`` and ``type`` checked (all before any kernel is started)."""
    for field in ("path", "name", "type"):
        if field in body:
            if body[field] is None:
                raise BadRequest(_("'%(field)s' must be a string.") % {"field": field})
            _string_field(body, field, required=True)
    if body.get("kernel") is not None:
        _kernel_reference(body)
    return body


class SessionListView(ApiView):
    http_method_names = ["get", "post"]

    async def get(self, request, user):
        return json_response([session_model(session) for session in await services.list_sessions(user)])

    async def post(self, request, user):
        body = self.json_body(request, required=True)
        notebook = body.get("notebook")
        if isinstance(notebook, dict):  # the deprecated shape Jupyter Server still accepts
            body.setdefault("path", notebook.get("path") or notebook.get("name"))
            body.setdefault("type", "notebook")
        path = _string_field(body, "path", required=True)
        type_ = _string_field(body, "type", required=True)
        name = _string_field(body, "name", required=False)
        kernel = _kernel_reference(body)
        session, _created = await services.create_session(
            user, path=path, name=name, type=type_, kernel_id=kernel.get("id"), kernel_name=kernel.get("name")
        )
        location = reverse("lms_kernels:session-detail", kwargs={"session_id": session.id})
        return json_response(session_model(session), status=201, headers={"Location": location})


class SessionDetailView(ApiView):
    http_method_names = ["get", "patch", "delete"]

    async def get(self, request, user, session_id):
        return json_response(session_model(await services.get_session(user, session_id)))

    async def patch(self, request, user, session_id):
        body = _checked_changes(self.json_body(request, required=True))
        session = await services.get_session(user, session_id)
        session = await services.update_session(user, session, body)
        return json_response(session_model(session))

    async def delete(self, request, user, session_id):
        await services.delete_session(await services.get_session(user, session_id))
        return HttpResponse(status=204)
