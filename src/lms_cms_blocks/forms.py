"""The admin's notebook upload form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

from .conf import app_settings
from .kernelspecs import available_kernelspecs
from .notebooks import lesson_page_models

__all__ = ["NotebookImportForm"]


class NotebookImportForm(forms.Form):
    notebook = forms.FileField(label=_("Notebook (.ipynb)"))
    parent = forms.ModelChoiceField(
        label=_("Parent page"),
        queryset=Page.objects.none(),
        help_text=_("The new lesson is created as a draft under this page."),
    )
    page_type = forms.ChoiceField(label=_("Page type"))
    title = forms.CharField(
        label=_("Title"), required=False, max_length=255, help_text=_("Blank: the notebook's first heading.")
    )
    environment = forms.CharField(
        label=_("Environment"),
        required=False,
        help_text=_("Blank: the notebook's own kernel."),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["notebook"].help_text = _(
            "At most %(size).1f MB, %(images)s images and %(pixels)s megapixels of images in all."
        ) % {
            "size": app_settings.NOTEBOOK_MAX_BYTES / 1e6,
            "images": app_settings.NOTEBOOK_MAX_IMAGES,
            "pixels": f"{app_settings.NOTEBOOK_MAX_TOTAL_PIXELS / 1e6:.1f}".removesuffix(".0"),
        }
        models = lesson_page_models()
        self.page_models = {model._meta.label_lower: model for model in models}
        self.fields["page_type"].choices = [
            (label, model._meta.verbose_name) for label, model in self.page_models.items()
        ]
        from wagtail.permission_policies.pages import PagePermissionPolicy

        parents = (
            PagePermissionPolicy().instances_user_has_permission_for(user, "add")
            if user
            else Page.objects.none()
        )
        self.fields["parent"].queryset = parents.order_by("path")
        specs = available_kernelspecs()
        if specs is not None:
            self.fields["environment"] = forms.ChoiceField(
                label=_("Environment"),
                required=False,
                choices=[("", _("The notebook's own kernel")), *specs],
            )

    def clean_notebook(self):
        upload = self.cleaned_data["notebook"]
        if upload.size > app_settings.NOTEBOOK_MAX_BYTES:
            raise forms.ValidationError(
                _("The notebook is %(size).1f MB; the largest accepted is %(limit).1f MB."),
                params={"size": upload.size / 1e6, "limit": app_settings.NOTEBOOK_MAX_BYTES / 1e6},
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        model = self.page_models.get(cleaned.get("page_type"))
        parent = cleaned.get("parent")
        if model is not None and parent is not None:
            cleaned["page_model"] = model
            if not model.can_create_at(parent.specific):
                self.add_error(
                    "parent",
                    _("A %(type)s cannot be created under this page.") % {"type": model._meta.verbose_name},
                )
        return cleaned
