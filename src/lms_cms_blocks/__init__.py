"""Wagtail StreamField lesson blocks, including a runnable Jupyter block."""
