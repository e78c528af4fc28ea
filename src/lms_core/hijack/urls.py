"""django-hijack's acquire/release URLs, with a bad ``user_pk`` answered 404 instead of a server error.

django-hijack looks the user up with the posted ``user_pk`` as it is, so ``user_pk=abc`` raises a
``ValueError`` (a 500) before any permission check. Include these URLs instead of ``hijack.urls``; the namespace
is still ``hijack``, so django-hijack's templates (the banner's release form, the admin buttons) keep working::

    path("hijack/", include("lms_core.hijack.urls")),
"""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from hijack import views

__all__ = ["AcquireUserView", "app_name", "urlpatterns"]

app_name = "hijack"


class AcquireUserView(views.AcquireUserView):
    def get_object(self, queryset=None):
        try:
            field = self.model._meta.pk
            pk = field.to_python(self.request.POST["user_pk"])
            field.run_validators(pk)  # the database's integer range: a huge number is not a user either
        except ValidationError as exc:
            raise Http404(_("No such user.")) from exc
        return get_object_or_404(self.model, pk=pk)


urlpatterns = [
    path("acquire/", AcquireUserView.as_view(), name="acquire"),
    path("release/", views.ReleaseUserView.as_view(), name="release"),
]
