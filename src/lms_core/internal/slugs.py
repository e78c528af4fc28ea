"""Slugs from titles that keep Hangul and other non-ASCII letters (``넘파이 기초`` → ``넘파이-기초``)."""

from django.utils.text import slugify


def unique_slug(title: str, queryset, *, max_length: int = 80, fallback: str = "item") -> str:
    """A slug for ``title`` that no row of ``queryset`` has yet (``-2``, ``-3``… appended when needed)."""
    base = slugify(title, allow_unicode=True)[:max_length].strip("-") or fallback
    slug, n = base, 1
    taken = set(queryset.filter(slug__startswith=base).values_list("slug", flat=True))
    while slug in taken:
        n += 1
        suffix = f"-{n}"
        slug = base[: max_length - len(suffix)] + suffix
    return slug
