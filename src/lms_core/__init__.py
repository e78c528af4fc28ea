"""Courses, cohorts, learning contents, schedules, enrollments and per-learner progress."""
