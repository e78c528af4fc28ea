"""django-hijack's acquire/release URLs, with bad input answered by a 4xx and a message, never a server error.

django-hijack looks the user up with the posted ``user_pk`` as it is, so ``user_pk=abc`` or an empty one raises
a ``ValueError`` (a 500) before any permission check, and its refusals are bare status codes. Include these URLs
instead of ``hijack.urls``; the namespace is still ``hijack``, so django-hijack's templates (the banner's release
form, the admin buttons) keep working::

    path("hijack/", include("lms_core.hijack.urls")),

What ``POST acquire/`` answers, besides the redirect of a successful start (the text is plain, translated):

* ``400``: no ``user_pk``, or one that is not a user's id (``abc``, empty, ``1.5``, out of the id's range);
* ``404``: no such user (a well-formed id that nobody has);
* ``403``: the signed-in user may not impersonate that user (see :func:`lms_core.hijack.can_hijack`);
* a redirect to the login page for an anonymous visitor, whatever they posted.
"""

from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseNotFound
from django.urls import path
from django.utils.translation import gettext as _
from hijack import views

__all__ = ["AcquireUserView", "app_name", "urlpatterns"]

app_name = "hijack"


def _plain(response_class: type[HttpResponse], message: str) -> HttpResponse:
    return response_class(message, content_type="text/plain; charset=utf-8")


class _Refused(Exception):  # an answer, raised from inside django-hijack's dispatch
    def __init__(self, response: HttpResponse):
        super().__init__(response.status_code)
        self.response = response


class AcquireUserView(views.AcquireUserView):
    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST" and "user_pk" not in request.POST:
            return _plain(HttpResponseBadRequest, _("Say which user to impersonate (user_pk)."))
        try:
            return super().dispatch(request, *args, **kwargs)
        except _Refused as refused:
            return refused.response

    def get_object(self, queryset=None):
        if hasattr(self, "_hijacked"):
            return self._hijacked
        raw = self.request.POST.get("user_pk", "")
        field = self.model._meta.pk
        try:
            pk = field.to_python(raw.strip() or None)
            if pk is None:
                raise ValidationError("empty")
            field.run_validators(pk)  # the database's integer range: a huge number is not a user either
        except ValidationError:
            raise _Refused(
                _plain(HttpResponseBadRequest, _("“%(value)s” is not a user's id.") % {"value": raw[:40]})
            ) from None
        try:
            self._hijacked = self.model._default_manager.get(pk=pk)
        except self.model.DoesNotExist:
            raise _Refused(_plain(HttpResponseNotFound, _("No such user."))) from None
        return self._hijacked

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return super().handle_no_permission()  # to the login page
        return _plain(
            HttpResponseForbidden,
            _(
                "You may not impersonate this user. Staff members need the permission to impersonate "
                "learners; only superusers may impersonate staff members or superusers; nobody impersonates "
                "themselves, an inactive user, or anyone while already impersonating."
            ),
        )


urlpatterns = [
    path("acquire/", AcquireUserView.as_view(), name="acquire"),
    path("release/", views.ReleaseUserView.as_view(), name="release"),
]
