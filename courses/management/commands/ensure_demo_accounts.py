import json
import os
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

ACCOUNTS = (
    {"username": "admin", "email": "admin@example.com", "is_staff": True, "is_superuser": True, "role": "admin"},
    {"username": "demo", "email": "demo@example.com", "is_staff": False, "is_superuser": False, "role": "demo learner"},
)


class Command(BaseCommand):
    help = "Create the admin and the demo learner once (random passwords kept in var/), then print their credentials."

    def handle(self, *args, **options):
        path = settings.VAR_DIR / "demo-accounts.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        for account in ACCOUNTS:
            username = account["username"]
            user = User.objects.filter(username=username).first()
            if user is None:
                password = saved.get(username) or secrets.token_urlsafe(12)
                user = User(
                    username=username, email=account["email"],
                    is_staff=account["is_staff"], is_superuser=account["is_superuser"],
                )
                user.set_password(password)
                user.save()
                saved[username] = password
            if username in saved and user.check_password(saved[username]):
                self.stdout.write(f"  {account['role']:<13} {username} / {saved[username]}")
            else:
                self.stdout.write(f"  {account['role']:<13} {username} (password changed since it was created)")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        os.chmod(path, 0o600)
