from collections import Counter

from django.core.management.base import BaseCommand

from labs import hosts
from labs.models import DockerHost
from labs.playgrounds import reap_storage
from labs.sandboxes import admit_waiting, reap_host, reap_rows


class Command(BaseCommand):
    help = (
        "Expire sandboxes past their time to live or idle, fail stuck or vanished ones, remove orphan containers and "
        "playground disks past their retention, on every Docker host that is not down."
    )

    def handle(self, *args, **options):
        counts = Counter(reap_rows())
        hosts.default_host()
        for host in DockerHost.objects.exclude(state=DockerHost.State.DOWN):
            engine = hosts.engine_for(host)
            counts.update({**reap_host(host, engine=engine), **reap_storage(engine=engine)})
        counts["admitted"] = len(admit_waiting())
        self.stdout.write(", ".join(f"{kind}: {count}" for kind, count in counts.items()))
