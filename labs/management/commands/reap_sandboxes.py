from django.core.management.base import BaseCommand

from grader import engine
from labs.sandboxes import reap


class Command(BaseCommand):
    help = "Expire sandboxes past their time to live or idle, fail stuck or vanished ones, remove orphan containers."

    def handle(self, *args, **options):
        counts = reap(engine=engine.default())
        self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in counts.items()))
