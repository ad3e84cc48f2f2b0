import asyncio
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from labs import hosts
from labs.models import DockerHost
from labs.watcher import Watcher


class Command(BaseCommand):
    help = "Follow the Docker events of every ready sandbox and pass its learner's tasks as they are done (live checks)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host", help="watch only this Docker host's sandboxes, on its engine (run one watcher on each host's machine)",
        )

    def handle(self, *args, host=None, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.host = None
        if host:
            try:
                self.host = DockerHost.objects.get(name=host)
            except DockerHost.DoesNotExist:
                raise CommandError(f"no Docker host named {host!r} (manage.py docker_hosts list)") from None
        asyncio.run(self._run())

    async def _run(self):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await Watcher(host=self.host, engine=hosts.engine_for(self.host) if self.host else None).run(stop=stop)
