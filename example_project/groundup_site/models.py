"""The example project's page models."""

from django.template import engines

from lms_cms_blocks.pages import AbstractLessonPage


class LessonPage(AbstractLessonPage):
    """A lesson of the learner site (served under /lessons/<slug>/; API type ``groundup_site.LessonPage``)."""

    template = "groundup_site/lesson_page.html"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        # The Jupyter cells' page setup comes with lms_cms_blocks' learner-side runtime (template library
        # lms_jupyter); until that is installed the page renders without it.
        context["lms_jupyter_available"] = "lms_jupyter" in engines["django"].engine.template_libraries
        context["lesson_progress"] = lesson_progress(request, self)
        return context


def lesson_progress(request, page) -> dict | None:
    """The signed-in learner's progress on the course content this lesson teaches (same slug), or ``None`` when
    they are not enrolled in a course with it; ``just_completed`` lists contents completed by the last request."""
    from .integrations import exercise_blocks, learner_content

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    found = learner_content(user, page.slug)
    if found is None:
        return None
    content, progress = found
    return {
        "content": content,
        "completed": progress is not None and progress.state == "completed",
        "percent": progress.percent if progress else 0,
        "exercises": len(exercise_blocks(page)),
        "just_completed": request.session.pop("groundup_just_completed", []),
    }
