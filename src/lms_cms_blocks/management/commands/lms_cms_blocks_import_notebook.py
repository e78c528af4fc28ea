"""``manage.py lms_cms_blocks_import_notebook NOTEBOOK.ipynb --parent PAGE [--type app.Model] [--publish]``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Page

from lms_cms_blocks.conf import app_settings
from lms_cms_blocks.notebooks import NotebookError, import_notebook, lesson_page_models


def find_page(reference: str) -> Page:
    """A page by id, or by slug / URL path (``/lessons/numpy/``)."""
    pages = Page.objects.all()
    if reference.isdigit():
        page = pages.filter(pk=int(reference)).first()
    elif "/" in reference.strip("/"):
        page = next(
            (
                p
                for p in pages.filter(slug=reference.strip("/").rsplit("/", 1)[-1])
                if p.url_path.rstrip("/").endswith(reference.rstrip("/"))
            ),
            None,
        )
    else:
        matches = list(pages.filter(slug=reference.strip("/"))[:2])
        if len(matches) > 1:
            raise CommandError(f"More than one page has the slug {reference!r}; give its id.")
        page = matches[0] if matches else None
    if page is None:
        raise CommandError(f"No page {reference!r}.")
    return page.specific


class Command(BaseCommand):
    help = "Import a Jupyter notebook (.ipynb) as a new lesson page (a draft unless --publish)."

    def add_arguments(self, parser):
        parser.add_argument("notebook", help="the .ipynb file")
        parser.add_argument("--parent", required=True, help="the parent page: id or slug")
        parser.add_argument("--type", dest="page_type", help="the lesson page model, app_label.ModelName")
        parser.add_argument("--title", help="the page title (default: the notebook's first heading)")
        parser.add_argument("--slug", help="the page slug (default: from the title)")
        parser.add_argument("--environment", help="kernelspec for the code cells (default: the notebook's)")
        parser.add_argument("--publish", action="store_true", help="publish the page, not only save a draft")

    def handle(
        self,
        notebook,
        parent,
        page_type=None,
        title=None,
        slug=None,
        environment=None,
        publish=False,
        **options,
    ):
        path = Path(notebook)
        try:
            size = path.stat().st_size
            if size > app_settings.NOTEBOOK_MAX_BYTES:
                data = b"x" * (app_settings.NOTEBOOK_MAX_BYTES + 1)  # let the importer say it clearly
            else:
                data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {notebook}: {exc.strerror}") from None
        model = None
        if page_type:
            by_label = {m._meta.label_lower: m for m in lesson_page_models()}
            model = by_label.get(page_type.lower())
            if model is None:
                raise CommandError(
                    f"{page_type!r} is not a lesson page model. Choose one of: {', '.join(by_label)}."
                )
        try:
            page = import_notebook(
                data,
                parent=find_page(parent),
                page_model=model,
                title=title,
                slug=slug,
                environment=environment,
                filename=path.name,
                publish=publish,
            )
        except NotebookError as exc:
            raise CommandError(f"{path.name}: {exc}") from None
        state = "published" if publish else "saved as a draft"
        self.stdout.write(
            f"Imported {path.name} as {page.title!r} (page {page.pk}, slug {page.slug!r}), {state}."
        )
