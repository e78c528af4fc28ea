"""From lms_core's learning contents to the Wagtail lesson pages that teach them (by slug, the documented convention)."""

from django.apps import apps


def lesson_urls(contents) -> dict[str, str]:
    """``{content slug: URL of the live lesson page with that slug}`` for the contents that have one (one query)."""
    slugs = {content.slug for content in contents if content.slug}
    if not slugs or not apps.is_installed("wagtail"):
        return {}
    from wagtail.models import Page

    urls = {}
    for page in Page.objects.live().public().filter(slug__in=slugs).specific(defer=True):
        url = page.get_url()
        if url:
            urls.setdefault(page.slug, url)
    return urls
