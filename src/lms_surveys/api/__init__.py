"""lms_surveys' REST API (Django REST framework): see :mod:`lms_surveys.api.views` for the endpoints."""
