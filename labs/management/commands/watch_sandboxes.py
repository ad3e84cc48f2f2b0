import asyncio
import logging
import signal

from django.core.management.base import BaseCommand

from labs.watcher import Watcher


class Command(BaseCommand):
    help = "Follow the Docker events of every ready sandbox and pass its learner's tasks as they are done (live checks)."

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(self._run())

    async def _run(self):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await Watcher().run(stop=stop)
