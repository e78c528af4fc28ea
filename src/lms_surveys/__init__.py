"""Surveys after learning contents, built around django-survey-and-report."""
