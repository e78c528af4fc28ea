"""``{% load lms_surveys %}``: ``{% lms_surveys_after_completion %}`` writes the script that opens a content's
survey after the learner completes it (see ``static/lms_surveys/after-completion.js``)."""

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def lms_surveys_after_completion():
    api = reverse("lms_surveys:api-survey", args=[0]).removesuffix("surveys/0/")
    return format_html(
        '<script src="{}" data-api="{}" data-page="{}" defer></script>',
        static("lms_surveys/after-completion.js"),
        api,
        reverse("lms_surveys:take", args=[0]),
    )
