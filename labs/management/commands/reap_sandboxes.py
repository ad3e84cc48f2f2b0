from django.core.management.base import BaseCommand

from labs.sandboxes import reap


class Command(BaseCommand):
    help = "Expire sandboxes past their time to live or idle, fail stuck or vanished ones, remove orphan containers."

    def handle(self, *args, **options):
        counts = reap()
        self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in counts.items()))
