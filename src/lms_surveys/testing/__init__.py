"""Test helpers for lms_surveys and for projects that extend it (``lms_surveys.testing.factories``)."""
