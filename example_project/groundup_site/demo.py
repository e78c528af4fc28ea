"""Demo data for the example project: each loader is idempotent and returns lines to print."""

from django.contrib.auth import get_user_model
from django.db import transaction

#: (username, password, first name, last name, is_staff, is_superuser, role)
DEMO_USERS = [
    ("admin", "groundup-admin", "Admin", "", True, True, "administrator"),
    ("instructor", "groundup-instructor", "지은", "김", True, False, "instructor"),
    ("learner", "groundup-learner", "Minjun", "Lee", False, False, "learner"),
]


@transaction.atomic
def load_users():
    """Create (or reset) the demo users and say how to sign in as each."""
    User = get_user_model()
    lines = []
    for username, password, first, last, is_staff, is_superuser, role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.com"
        user.is_staff, user.is_superuser, user.is_active = is_staff, is_superuser, True
        user.set_password(password)
        user.save()
        state = "created" if created else "reset"
        lines.append(f"  {role:<13} username {username!r:<14} password {password!r}  ({state})")
    return lines
