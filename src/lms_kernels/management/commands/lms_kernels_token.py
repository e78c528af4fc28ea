"""``manage.py lms_kernels_token <username> [--rotate | --revoke]``: a user's API token for Jupyter clients.

The token is printed once; only its hash is stored, so a lost token cannot be shown again, only rotated.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from lms_kernels.models import KernelApiToken


class Command(BaseCommand):
    help = "Create (or with --rotate, replace) a user's API token for the kernel service, and print it once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--rotate", action="store_true", help="Replace the user's existing token.")
        group.add_argument("--revoke", action="store_true", help="Delete the user's token.")

    def handle(self, *args, username, rotate, revoke, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        existing = KernelApiToken.objects.filter(user=user).first()
        if revoke:
            if existing is None:
                raise CommandError(f"{username!r} has no token.")
            existing.delete()
            self.stdout.write(f"Revoked the token of {username!r}.")
            return
        if existing is not None and not rotate:
            raise CommandError(
                f"{username!r} already has a token ({existing.prefix}…). Tokens are stored hashed and cannot be "
                "shown again; use --rotate to replace it."
            )
        _row, token = KernelApiToken.objects.issue(user)
        self.stdout.write(token)
