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
        return context
