from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "tests.projects.blocks_only.lessons"
    label = "lessons"
    default_auto_field = "django.db.models.BigAutoField"
