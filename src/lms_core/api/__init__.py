"""lms_core's REST API (Django REST framework + django-filter), mounted by ``lms_core.urls`` under ``api/``.

Two audiences, two halves:

* **learners** (``me/…``): their own enrollments with a progress rate and the next due item, the schedule of an
  enrollment with each due date computed for them, recording progress, shifting their own dates;
* **staff and instructors** (``cohorts/…``): the cohorts they may see, each cohort's learners (filterable,
  orderable, exportable as CSV), enrolling a learner, granting a deadline exception.

Every write goes through :mod:`lms_core.services`, so the API, the admin and other apps share one set of rules;
the services' :mod:`lms_core.exceptions` are DRF ``APIException`` subclasses and become clear 4xx answers.
Each view's docstring is its reference documentation (it is also what the browsable API and the OpenAPI schema
show). drf-spectacular is optional: :mod:`lms_core.api.schema` falls back to no-op decorators without it.
"""
