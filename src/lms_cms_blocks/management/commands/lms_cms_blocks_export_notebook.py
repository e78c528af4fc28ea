"""``manage.py lms_cms_blocks_export_notebook PAGE [-o FILE] [--draft]``: a lesson page as ``.ipynb``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lms_cms_blocks.notebooks import export_notebook_bytes
from lms_cms_blocks.pages import AbstractLessonPage

from .lms_cms_blocks_import_notebook import find_page


class Command(BaseCommand):
    help = "Export a lesson page as a Jupyter notebook (.ipynb), e.g. to commit it to git."

    def add_arguments(self, parser):
        parser.add_argument("page", help="the lesson page: id or slug")
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")
        parser.add_argument(
            "--draft", action="store_true", help="export the latest revision, not the live page"
        )

    def handle(self, page, output=None, draft=False, **options):
        lesson = find_page(page)
        if not isinstance(lesson, AbstractLessonPage):
            raise CommandError(f"Page {page!r} is not a lesson page.")
        if draft:
            lesson = lesson.get_latest_revision_as_object()
        data = export_notebook_bytes(lesson)
        if output:
            Path(output).write_bytes(data)
            self.stderr.write(f"Wrote {output} ({len(data)} bytes).")
        else:
            self.stdout.write(data.decode("utf-8"), ending="")
