import warnings

from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _

# django-survey-and-report warns at import time that its optional Sankey diagrams (pandas) are missing; the
# LaTeX/PDF exporter that uses them is not part of what we build on.
warnings.filterwarnings("ignore", message="Cannot import 'sankey'", category=UserWarning)

try:
    from survey.apps import DjangoSurveyAndReportConfig
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "lms_surveys needs django-survey-and-report: pip install 'groundup-lms[surveys]'"
    ) from exc


class LmsSurveysConfig(AppConfig):
    # This module also defines SurveyConfig (and imports its parent): without ``default = True`` Django would
    # not pick this class for "lms_surveys" and would fall back to a bare AppConfig (no ready(), no receivers).
    default = True
    name = "lms_surveys"
    label = "lms_surveys"
    verbose_name = _("Surveys")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_save
        from survey.models import Answer

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            receivers,
        )

        post_save.connect(receivers.rerate_answer, sender=Answer, dispatch_uid="lms_surveys.rerate_answer")

        if apps.is_installed("lms_core"):
            # The one place lms_surveys listens to lms_core (a documented, optional dependency).
            from lms_core import signals as core_signals

            core_signals.content_completed.connect(
                receivers.invite_after_content, dispatch_uid="lms_surveys.invite_after_content"
            )
            core_signals.enrollment_completed.connect(
                receivers.invite_after_course, dispatch_uid="lms_surveys.invite_after_course"
            )


class SurveyConfig(DjangoSurveyAndReportConfig):
    """django-survey-and-report with the primary key type its migrations were written with.

    Put ``"lms_surveys.apps.SurveyConfig"`` in ``INSTALLED_APPS`` instead of ``"survey"``.
    """

    default_auto_field = "django.db.models.AutoField"
