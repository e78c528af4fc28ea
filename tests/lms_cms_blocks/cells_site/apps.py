from django.apps import AppConfig


class CellsSiteConfig(AppConfig):
    name = "tests.lms_cms_blocks.cells_site"
    label = "cells_site"
    default_auto_field = "django.db.models.BigAutoField"
