"""Helpers shared by the Groundup LMS apps (not a Django app itself): settings objects and check helpers."""
