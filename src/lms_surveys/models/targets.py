"""What a survey is about: a learning content or a course, as a real link or as a plain key.

The link is a generic relation (``target_type`` + ``key``) so that this app's migrations are the same whether
or not ``lms_core`` is installed. With ``lms_core``, ``target_type`` is ``lms_core.LearningContent`` or
``lms_core.Course`` and ``key`` is that object's primary key; without it, ``target_type`` is empty and ``key`` is
whatever the institution identifies its contents by (a page slug, an external id).
"""

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from survey.models import Survey


class Scope(models.TextChoices):
    CONTENT = "content", _("Learning content")
    COURSE = "course", _("Course")


#: The lms_core model each scope links to when lms_core is installed.
CORE_MODELS = {Scope.CONTENT: ("lms_core", "learningcontent"), Scope.COURSE: ("lms_core", "course")}


def core_installed() -> bool:
    return apps.is_installed("lms_core")


class ContentSurveyQuerySet(models.QuerySet):
    def for_target(self, scope: str, key) -> "ContentSurveyQuerySet":
        return self.filter(scope=scope, key=str(key))

    def of_course(self, course_key) -> "ContentSurveyQuerySet":
        """Surveys of the course itself and of its contents."""
        course_key = str(course_key)
        return self.filter(
            models.Q(scope=Scope.COURSE, key=course_key)
            | models.Q(scope=Scope.CONTENT, course_key=course_key)
        )


class ContentSurvey(models.Model):
    """Attaches one survey of django-survey-and-report to one learning content or course."""

    survey = models.OneToOneField(
        Survey, on_delete=models.CASCADE, related_name="lms_target", verbose_name=_("survey")
    )
    scope = models.CharField(_("about"), max_length=20, choices=Scope.choices, default=Scope.CONTENT)
    target_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("linked model"),
        help_text=_("Set when lms_core is installed; empty for a plain key."),
    )
    key = models.CharField(
        _("key"),
        max_length=200,
        help_text=_("The linked object's id, or without lms_core the key your site gives the content."),
    )
    target = GenericForeignKey("target_type", "key")
    course_key = models.CharField(
        _("course key"),
        max_length=200,
        blank=True,
        db_index=True,
        help_text=_("The content's course, for course reports (filled in from lms_core when installed)."),
    )
    title = models.CharField(
        _("title"),
        max_length=200,
        blank=True,
        help_text=_("Shown to learners and in reports; filled in from lms_core when installed."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ContentSurveyQuerySet.as_manager()

    class Meta:
        ordering = ["scope", "course_key", "key"]
        verbose_name = _("survey attachment")
        verbose_name_plural = _("survey attachments")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="lms_surveys_one_survey_per_target"),
        ]

    def __str__(self):
        return f"{self.survey} → {self.get_scope_display()} {self.title or self.key}"

    def resolve(self):
        """Fill ``target_type``, ``course_key`` and ``title`` from lms_core (when installed); return the object."""
        if not core_installed():
            return None
        model = apps.get_model(*CORE_MODELS[self.scope])
        try:
            obj = model._default_manager.get(pk=int(self.key))
        except (ValueError, model.DoesNotExist):
            raise ValidationError(
                {
                    "key": _("No %(model)s has the id %(key)r.")
                    % {"model": model._meta.verbose_name, "key": self.key}
                }
            ) from None
        self.target_type = ContentType.objects.get_for_model(model)
        self.title = self.title or str(obj)[:200]
        self.course_key = str(obj.course_id if self.scope == Scope.CONTENT else obj.pk)
        return obj

    def clean(self):
        self.key = (self.key or "").strip()
        if not self.key:
            raise ValidationError({"key": _("Give the content or course this survey is about.")})
        if core_installed():
            self.resolve()
        elif self.scope == Scope.COURSE:
            self.course_key = self.key

    @property
    def display_title(self) -> str:
        return self.title or self.key


class SurveyInvitation(models.Model):
    """A learner was offered a survey (they completed its content or course); pending until they answer."""

    target = models.ForeignKey(
        ContentSurvey, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("survey")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lms_survey_invitations",
        verbose_name=_("learner"),
    )
    cohort_key = models.CharField(_("cohort key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("offered"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        constraints = [
            models.UniqueConstraint(fields=["target", "user"], name="lms_surveys_invitation_unique")
        ]

    def __str__(self):
        return f"{self.user} · {self.target}"
