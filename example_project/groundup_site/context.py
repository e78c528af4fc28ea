"""Template context of every page of the example site."""


def navigation(request):
    """``teaches``: whether to show the "Teaching" link (a query, run only when a template reads it)."""

    def teaches() -> bool:
        from lms_core.api.permissions import visible_cohorts

        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and visible_cohorts(user).exists())

    return {"teaches": teaches}
