from django.core.management.base import BaseCommand

from grader import engine
from labs.playgrounds import reap_storage
from labs.sandboxes import reap


class Command(BaseCommand):
    help = "Expire sandboxes past their time to live or idle, fail stuck or vanished ones, remove orphan containers and playground disks past their retention."

    def handle(self, *args, **options):
        counts = {**reap(engine=engine.default()), **reap_storage(engine=engine.default())}
        self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in counts.items()))
