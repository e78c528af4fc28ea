"""Test helpers shipped with lms_core, for this project's tests and for institutions testing their extensions."""
