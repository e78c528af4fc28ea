"""``{% load lms_avatars %}``: avatar URLs in templates, the same as the REST API hands out.

``{% avatar_url user %}`` (the default size) or ``{% avatar_url user 64 %}`` (one of ``AVATAR_SIZES``): the
user's uploaded picture where ``LMS_CORE["PICTURE_URL"]`` gives one, otherwise their identicon, addressed by
its opaque key (see :mod:`lms_core.avatars`). Build avatar URLs with this tag rather than ``{% url %}``, which
would need the key.
"""

from django import template

from .. import avatars

register = template.Library()


@register.simple_tag
def avatar_url(user, size=None):
    return avatars.avatar_url(user, size)
