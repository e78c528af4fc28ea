"""Template tags of the runnable Jupyter block.

``{% lms_jupyter_page_setup page %}``, once near the end of a lesson page's ``<body>``: the page's config for the
learner-side bundle (kernel service URLs, the session path, the cell-state API, the CSRF token, translated
strings) as ``<script type="application/json" id="lms-jupyter-config">``, plus the bundle's ``<link>`` and
``<script>``. ``{% lms_jupyter_cell_data value %}``, inside the block's template: the block's code, environment,
hidden setup/check code and precomputed outputs as JSON for the bundle.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from ..conf import app_settings

register = template.Library()

#: The characters that could end a <script> element or start HTML, escaped in JSON (as Django's json_script).
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _script_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str).translate(_JSON_ESCAPES)


def _strings() -> dict[str, Any]:
    return {
        "run": _("Run"),
        "runTitle": _("Run (Shift+Enter)"),
        "interrupt": _("Interrupt"),
        "restart": _("Restart"),
        "reset": _("Reset to original"),
        "editorLabel": _("Code"),
        "restartConfirm": _("Restart the kernel? Every variable of this lesson's code is lost."),
        "resetConfirm": _("Put back the original code? Your changes to this cell are lost."),
        "resetDone": _("Original code restored"),
        "unsaved": _("Unsaved changes…"),
        "saving": _("Saving…"),
        "saved": _("Saved"),
        "notSaved": _("Not saved"),
        "notLoaded": _("Your saved code could not be loaded, so changes are not saved"),
        "outputsTooLarge": _(
            "These outputs (%(size)s MB) were too large to keep (at most %(limit)s MB); run the cell again to see them."
        ),
        "setupFailed": _("The hidden setup code of this cell failed; ask the lesson's author."),
        "runFailed": _("The code could not run"),
        "restartFailed": _("The kernel could not restart"),
        "checkPassed": _("✓ Check passed"),
        "checkFailed": _("✗ Not yet:"),
        "status": {
            "none": _("No kernel yet"),
            "unknown": _("Connecting…"),
            "starting": _("Starting…"),
            "queued": _("Waiting for a free kernel: number %(position)s in the queue"),
            "idle": _("Idle"),
            "busy": _("Busy"),
            "restarting": _("Restarting…"),
            "autorestarting": _("Restarting…"),
            "terminating": _("Shutting down…"),
            "dead": _("Kernel stopped"),
            "connecting": _("Connecting…"),
            "disconnected": _("Disconnected"),
            "error": _("Error"),
        },
    }


def page_config(request, page) -> dict[str, Any]:
    """The config the learner-side bundle reads (documented in the runtime docs)."""
    authenticated = bool(request is not None and request.user.is_authenticated)
    page_id = getattr(page, "pk", None)
    cells_url = None
    if page_id is not None:
        try:
            cells_url = reverse("lms_cms_blocks:cells-list", kwargs={"page_id": page_id})
        except NoReverseMatch:
            cells_url = None  # the project does not include lms_cms_blocks.urls: nothing is saved
    session_key = (
        page_id if page_id is not None else (request.path.strip("/") if request is not None else "page")
    )
    return {
        "kernelBaseUrl": app_settings.KERNEL_SERVICE_URL,
        "kernelWsUrl": app_settings.KERNEL_WEBSOCKET_URL,
        "sessionPath": app_settings.SESSION_PATH.format(page_id=session_key),
        "pageTitle": str(getattr(page, "title", "") or ""),
        "pageId": page_id,
        "cellsApiUrl": cells_url,
        "csrfToken": get_token(request) if request is not None else "",
        "authenticated": authenticated,
        "limits": {
            "sourceMaxBytes": app_settings.CELL_SOURCE_MAX_BYTES,
            "outputsMaxBytes": app_settings.CELL_OUTPUTS_MAX_BYTES,
        },
        "i18n": _strings(),
    }


@register.simple_tag(takes_context=True)
def lms_jupyter_page_setup(context, page=None):
    request = context.get("request")
    config = page_config(request, page)
    return format_html(
        '<script type="application/json" id="lms-jupyter-config">{}</script>\n'
        '<link rel="stylesheet" href="{}">\n'
        '<script src="{}" defer></script>',
        mark_safe(_script_json(config)),  # noqa: S308 - JSON with <, > and & escaped
        static("lms_cms_blocks/lms-jupyter.css"),
        static("lms_cms_blocks/lms-jupyter.js"),
    )


def _outputs(value: Any) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            return []
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, dict)]
    return []


def _get(value: Any, key: str) -> Any:
    try:
        return value.get(key)
    except AttributeError:
        return getattr(value, key, None)


@register.simple_tag
def lms_jupyter_cell_data(value):
    """The block's data for the bundle. The hidden setup and check code are in it: they run in the learner's
    kernel, from the learner's browser (see the trust model in the runtime docs)."""
    environment = _get(value, "environment")
    environment = getattr(environment, "slug", environment)
    data = {
        "source": str(_get(value, "source") or ""),
        "environment": str(environment or "python3"),
        "setup_code": str(_get(value, "setup_code") or ""),
        "check_code": str(_get(value, "check_code") or ""),
        "outputs": _outputs(_get(value, "outputs")),
    }
    return format_html(
        '<script type="application/json" class="lms-jupyter-cell-data">{}</script>',
        mark_safe(_script_json(data)),  # noqa: S308 - JSON with <, > and & escaped
    )
