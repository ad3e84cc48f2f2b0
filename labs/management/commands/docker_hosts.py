import shlex
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from django.core.exceptions import ValidationError
from django.utils import timezone

from grader import engine as docker_engine
from labs import hosts
from labs.models import DockerHost


class Command(BaseCommand):
    help = "The Docker hosts sandboxes run on: list them, add one, drain one (no new sandboxes), activate one, print its workers."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action")
        actions.add_parser("list", help="every host: state, sandboxes on it, capacity, last heartbeat")
        add = actions.add_parser("add", help="add a host (or change one's engine URL and capacity)")
        add.add_argument("name", help="a slug without dots: it names the host's queues (grade.<name>, ...)")
        add.add_argument("--engine", required=True, help="its Docker engine's URL: unix:///... on the machine of its workers, or tcp://...")
        add.add_argument("--capacity", type=int, help="most sandboxes at once (default: SANDBOX_MAX_PER_HOST)")
        add.add_argument("--network", default="", help="its sandboxes' internal network (default: SANDBOX_NETWORK)")
        add.add_argument("--bridge", default="", help="that network's bridge on its machine (default: SANDBOX_BRIDGE)")
        add.add_argument("--registry-mirror", default="", help="the course registry its sandboxes pull through (default: SANDBOX_REGISTRY_MIRROR)")
        add.add_argument("--tls-dir", default="", help="for a tcp:// engine: the folder of its CA and this client's certificate and key "
                         "(ca.pem, cert.pem, key.pem, as Docker's DOCKER_CERT_PATH), at this path on its workers' and the web's machines")
        for name, text in (("drain", "take no new sandboxes; the live ones run to their end"), ("activate", "take new sandboxes again")):
            actions.add_parser(name, help=text).add_argument("name")
        workers = actions.add_parser("workers", help="the worker command lines to run on the host's machine")
        workers.add_argument("name")

    def handle(self, *args, action=None, **options):
        hosts.default_host()
        if action in (None, "list"):
            return self._list()
        if action == "add":
            return self._add(options["name"], options["engine"], options["capacity"], network=options["network"],
                             bridge=options["bridge"], registry_mirror=options["registry_mirror"], tls_dir=options["tls_dir"])
        host = self._host(options["name"])
        if action == "workers":
            # The host's queues as drydock/queues.py names them (through the settings), one worker each.
            for queue in sorted({template.format(host=host.name) for template in settings.SANDBOX_HOST_QUEUES.values()}):
                self.stdout.write(shlex.join(["celery", "-A", "drydock", "worker", "-Q", queue, "-n", f"{queue}@%h"]))
            self.stdout.write(shlex.join(["python", "manage.py", "watch_sandboxes", "--host", host.name]))
            return
        state = DockerHost.State.DRAINING if action == "drain" else DockerHost.State.ACTIVE
        changed = hosts.set_state(host, state)
        self.stdout.write(f"{host.name}: {state}" if changed else f"{host.name} was already {state}")

    def _host(self, name):
        try:
            return DockerHost.objects.get(name=name)
        except DockerHost.DoesNotExist:
            raise CommandError(f"no Docker host named {name!r} (manage.py docker_hosts list)") from None

    def _add(self, name, engine, capacity, **where):
        try:
            validate_slug(name)
        except ValidationError:
            raise CommandError(f"{name!r}: a host's name is letters, digits, - and _ (it names its queues)") from None
        if not engine.startswith(("unix://", "tcp://", "ssh://")):
            raise CommandError(f"{engine!r} is not a Docker engine URL (unix:///path/docker.sock or tcp://host:2376)")
        if capacity is not None and capacity < 1:
            raise CommandError("--capacity must be at least 1")
        if len(where["bridge"]) > 15:
            raise CommandError(f"--bridge {where['bridge']!r}: a Linux interface name has at most 15 characters")
        if where["tls_dir"]:
            if not engine.startswith("tcp://"):
                raise CommandError(f"--tls-dir is for an engine on tcp://, not {engine!r}")
            try:
                docker_engine.tls_files(where["tls_dir"])
            except docker_engine.TlsFilesMissing as exc:
                raise CommandError(f"--tls-dir: {exc}") from None
            where["tls_dir"] = str(Path(where["tls_dir"]).expanduser().resolve())
        host, made = DockerHost.objects.update_or_create(name=name, defaults={"engine_url": engine, "capacity": capacity, **where})
        self.stdout.write(f"{'added' if made else 'updated'} {host.name} on {host.engine}; run its workers on its machine (docker_hosts workers {host.name})")
        if engine.startswith("tcp://") and not host.tls_dir:
            self.stderr.write(f"{host.name}'s engine is spoken to without TLS: whoever reaches {engine} is root on its machine "
                              "(give it --tls-dir, or keep it on a private network)")

    def _list(self):
        now = timezone.now()
        for host, live in hosts.summary():
            beat = f"{(now - host.last_heartbeat).total_seconds():.0f} s ago" if host.last_heartbeat else "never"
            tls = f" (TLS: {host.tls_dir})" if host.tls_dir else ""
            self.stdout.write(f"{host.name}: {host.state}, {live}/{host.ceiling} sandboxes, engine {host.engine}{tls}, heartbeat {beat}")
