from django.core.management.base import BaseCommand

from grader import engine as docker_engine
from labs import hosts, sandboxes
from labs.models import Lab, Sandbox


class Command(BaseCommand):
    help = "Show the warm pools (wanted, ready, starting, idle memory) and the admission queue; --refill fills the pools now."

    def add_arguments(self, parser):
        parser.add_argument("--refill", action="store_true", help="request the warm sandboxes the pools lack, as beat does")

    def handle(self, *args, refill=False, **options):
        if refill:
            made = sandboxes.refill_pools()
            self.stdout.write(f"requested {len(made)} warm sandbox(es)")
        wanted = sandboxes.pool_sizes()
        titles = dict(Lab.objects.filter(pk__in=[k for k in wanted if k]).values_list("pk", "slug"))
        unclaimed = Sandbox.objects.filter(owner__isnull=True, status__in=Sandbox.ON_HOST)
        for lab_id in sorted(set(wanted) | set(unclaimed.values_list("lab", flat=True)), key=lambda k: (k is not None, k or 0)):
            rows = unclaimed.filter(lab=lab_id)
            ready = list(rows.filter(status=Sandbox.Status.READY).select_related("host"))
            memory = []
            for sandbox in ready:
                try:
                    memory.append(hosts.engine_for(sandbox.host).memory_usage_bytes(sandbox.container_name))
                except docker_engine.EngineUnavailable:
                    pass
            mean = f"{sum(memory) / len(memory) / 2**20:.1f} MiB idle each" if memory else "no memory figure"
            name = "blank" if lab_id is None else titles.get(lab_id, f"lab {lab_id}")
            self.stdout.write(
                f"{name}: wanted {wanted.get(lab_id, 0)}, ready {len(ready)}, starting {rows.count() - len(ready)}, {mean}"
            )
        waiting = Sandbox.objects.filter(status=Sandbox.Status.WAITING).count()
        self.stdout.write(f"room on the host: {sandboxes.room_on_host()} more sandbox(es); learners waiting for room: {waiting}")
