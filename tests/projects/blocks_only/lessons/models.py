"""The smallest project use of lms_cms_blocks: a concrete lesson page."""

from lms_cms_blocks.pages import AbstractLessonPage


class LessonPage(AbstractLessonPage):
    template = "lessons/lesson_page.html"
