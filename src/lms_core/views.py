import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_cache_control
from django.views.decorators.http import condition, require_safe

from .avatars import identicon_png
from .conf import app_settings


def _avatar_etag(request, pk):
    look = repr((app_settings.AVATAR_SIZE, app_settings.AVATAR_FOREGROUND, app_settings.AVATAR_BACKGROUND))
    return f"{pk}-{hashlib.sha1(look.encode(), usedforsecurity=False).hexdigest()[:12]}"


@require_safe
@login_required
@condition(etag_func=_avatar_etag)
def avatar(request, pk):
    """The identicon of user ``pk`` as a PNG (any signed-in user may see anyone's avatar, as on a forum)."""
    user = get_object_or_404(get_user_model(), pk=pk, is_active=True)
    response = HttpResponse(identicon_png(f"user:{user.pk}"), content_type="image/png")
    patch_cache_control(response, private=True, max_age=86400)
    return response
