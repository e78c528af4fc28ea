"""PostgreSQL is really used: the suite's second leg runs on it (LMS_TEST_DATABASE_URL)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_queries_run_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        (version,) = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert version >= 130000


def test_skip_locked_row_claiming():
    """The row-locking pattern task workers and GPU allocation rely on: a locked row is skipped, not waited on."""
    User = get_user_model()
    first = User.objects.create(username="pg-first")
    User.objects.create(username="pg-second")
    with transaction.atomic():
        claimed = User.objects.select_for_update(skip_locked=True).filter(username__startswith="pg-")
        claimed = claimed.order_by("pk").first()
        assert claimed == first
    # Unicode (Hangul) round-trips through the database encoding.
    user = User.objects.create(username="학습자")
    assert User.objects.get(pk=user.pk).username == "학습자"
