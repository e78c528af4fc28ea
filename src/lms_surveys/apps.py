import warnings

from django.apps import AppConfig
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
    name = "lms_surveys"
    label = "lms_surveys"
    verbose_name = _("Surveys")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)


class SurveyConfig(DjangoSurveyAndReportConfig):
    """django-survey-and-report with the primary key type its migrations were written with.

    Put ``"lms_surveys.apps.SurveyConfig"`` in ``INSTALLED_APPS`` instead of ``"survey"``.
    """

    default_auto_field = "django.db.models.AutoField"
