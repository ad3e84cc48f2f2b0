import argparse
import shlex
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from django.utils import timezone

from grader import engine as docker_engine
from labs import hosts
from labs.models import DockerHost

# `--capacity default`: the host's ceiling is SANDBOX_MAX_PER_HOST again (an empty capacity).
DEFAULT = "default"
ENGINE_SCHEMES = ("unix://", "tcp://", "ssh://")
# What `add` may set, as its options name them: (option, the row's field).
OPTIONS = (
    ("engine", "engine_url"), ("tls_dir", "tls_dir"), ("capacity", "capacity"),
    ("network", "network"), ("bridge", "bridge"), ("registry_mirror", "registry_mirror"),
)


def capacity_option(text):
    """--capacity: a whole number of sandboxes (at least 1), or `default` (SANDBOX_MAX_PER_HOST)."""
    if text.strip().lower() == DEFAULT:
        return DEFAULT
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of sandboxes, nor 'default' (SANDBOX_MAX_PER_HOST)") from None
    if number < 1:
        # argparse says which option ("argument --capacity: ...").
        raise argparse.ArgumentTypeError(f"a host takes at least 1 sandbox, not {number} (drain it to take none; 'default' is SANDBOX_MAX_PER_HOST)")
    return number


class Command(BaseCommand):
    help = "The Docker hosts sandboxes run on: list them, add one or change one, drain one (no new sandboxes), activate one, print its workers."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action")
        actions.add_parser("list", help="every host: state, sandboxes on it, capacity, last heartbeat")
        add = actions.add_parser(
            "add", help="add a host, or change one: only the options given change, the others stay as they are",
            description="Add a host, or change the options given of one (the others stay). An empty value ('') puts --network, "
            "--bridge and --registry-mirror back to their settings' and removes --tls-dir; --capacity default puts the "
            "capacity back to SANDBOX_MAX_PER_HOST. Moving a host to an engine not on tcp:// drops its TLS folder.",
        )
        add.add_argument("name", help="a slug without dots: it names the host's queues (grade.<name>, ...)")
        # None: not given, left as it is (a new host needs --engine).
        add.add_argument("--engine", help="its Docker engine's URL: unix:///... on the machine of its workers, or tcp://... (required for a new host)")
        add.add_argument("--capacity", type=capacity_option, help="most sandboxes at once; 'default': SANDBOX_MAX_PER_HOST (a new host's)")
        add.add_argument("--network", help="its sandboxes' internal network ('': SANDBOX_NETWORK, a new host's)")
        add.add_argument("--bridge", help="that network's bridge on its machine ('': SANDBOX_BRIDGE, a new host's)")
        add.add_argument("--registry-mirror", help="the course registry its sandboxes pull through, http://name:port ('': SANDBOX_REGISTRY_MIRROR, a new host's)")
        add.add_argument("--tls-dir", help="for a tcp:// engine: the folder of its CA and this client's certificate and key "
                         "(ca.pem, cert.pem, key.pem, as Docker's DOCKER_CERT_PATH), at this path on its workers' and the web's machines ('': no TLS)")
        for name, text in (("drain", "take no new sandboxes; the live ones run to their end"), ("activate", "take new sandboxes again")):
            actions.add_parser(name, help=text).add_argument("name")
        workers = actions.add_parser("workers", help="the worker command lines to run on the host's machine (and where its TLS folder must be)")
        workers.add_argument("name")

    def handle(self, *args, action=None, **options):
        hosts.default_host()
        if action in (None, "list"):
            return self._list()
        if action == "add":
            return self._add(options["name"], {option: options[option] for option, _field in OPTIONS if options[option] is not None})
        host = self._host(options["name"])
        if action == "workers":
            return self._workers(host)
        state = DockerHost.State.DRAINING if action == "drain" else DockerHost.State.ACTIVE
        changed = hosts.set_state(host, state)
        self.stdout.write(f"{host.name}: {state}" if changed else f"{host.name} was already {state}")

    def _host(self, name):
        try:
            return DockerHost.objects.get(name=name)
        except DockerHost.DoesNotExist:
            raise CommandError(f"no Docker host named {name!r} (manage.py docker_hosts list)") from None

    def _workers(self, host):
        # The host's queues as drydock/queues.py names them (through the settings), one worker each.
        for queue in sorted({template.format(host=host.name) for template in settings.SANDBOX_HOST_QUEUES.values()}):
            self.stdout.write(shlex.join(["celery", "-A", "drydock", "worker", "-Q", queue, "-n", f"{queue}@%h"]))
        self.stdout.write(shlex.join(["python", "manage.py", "watch_sandboxes", "--host", host.name]))
        if host.tls_dir:
            # A comment, so that the lines above can still be pasted as they are.
            self.stdout.write(f"# its workers speak TLS to {host.engine}: {', '.join(docker_engine.TLS_FILES[:-1])} and "
                              f"{docker_engine.TLS_FILES[-1]} must be in {host.tls_dir} on their machine (and on the web's)")

    def _add(self, name, given):
        """Make the host, or change on it only what was given; every value is checked before anything is written."""
        try:
            validate_slug(name)
        except ValidationError:
            raise CommandError(f"{name!r}: a host's name is letters, digits, - and _ (it names its queues)") from None
        host = DockerHost.objects.filter(name=name).first()
        if host is None and "engine" not in given:
            raise CommandError(f"{name} is a new host: give its engine (--engine unix:///path/docker.sock or tcp://host:2376)")
        host = host or DockerHost(name=name)
        before = {field: getattr(host, field) for _option, field in OPTIONS}
        if "engine" in given and not given["engine"].startswith(ENGINE_SCHEMES):
            raise CommandError(f"{given['engine']!r} is not a Docker engine URL (unix:///path/docker.sock or tcp://host:2376)")
        if len(given.get("bridge", "")) > 15:
            raise CommandError(f"--bridge {given['bridge']!r}: a Linux interface name has at most 15 characters")
        if given.get("registry_mirror") and not given["registry_mirror"].startswith(("http://", "https://")):
            raise CommandError(f"--registry-mirror {given['registry_mirror']!r}: the registry's URL, http://name:port")
        for option, field in OPTIONS:
            limit = DockerHost._meta.get_field(field).max_length
            if limit and len(given.get(option, "")) > limit:
                raise CommandError(f"--{option.replace('_', '-')}: at most {limit} characters")
        if given.get("capacity") == DEFAULT:
            given["capacity"] = None
        for option, field in OPTIONS:
            if option in given:
                setattr(host, field, given[option])
        dropped = ""
        if not host.engine.startswith("tcp://") and "tls_dir" not in given and host.tls_dir:
            # Certificates are for an engine on tcp:// alone: a host moved off it keeps none.
            dropped, host.tls_dir = host.tls_dir, ""
        if given.get("tls_dir"):
            host.tls_dir = self._tls_dir(host, given["tls_dir"])
        changed = [field for _option, field in OPTIONS if getattr(host, field) != before[field]]
        made = host.pk is None
        if made or changed:
            host.save()
        self.stdout.write(self._said(host, made=made, changed=changed, dropped=dropped))
        # An empty engine is DOCKER_HOST's, whose TLS folder is DOCKER_CERT_PATH: not this row's to say.
        if host.engine_url.startswith("tcp://") and not host.tls_dir:
            self.stderr.write(f"{host.name}'s engine is spoken to without TLS: whoever reaches {host.engine} is root on its machine "
                              "(give it --tls-dir, or keep it on a private network)")

    def _tls_dir(self, host, folder):
        """The TLS folder given for the host, checked (its three files) and made absolute."""
        if not host.engine_url:
            raise CommandError(f"{host.name}'s engine is DOCKER_HOST: its TLS folder is DOCKER_CERT_PATH, not --tls-dir "
                               "(or give it --engine tcp://... of its own)")
        if not host.engine.startswith("tcp://"):
            raise CommandError(f"--tls-dir is for an engine on tcp://, not {host.engine!r}")
        try:
            docker_engine.tls_files(folder)
        except docker_engine.TlsFilesMissing as exc:
            raise CommandError(f"--tls-dir: {exc}") from None
        return str(Path(folder).expanduser().resolve())

    def _said(self, host, *, made, changed, dropped):
        if made:
            return f"added {host.name} on {host.engine}; run its workers on its machine (docker_hosts workers {host.name})"
        if not changed:
            return f"{host.name} is unchanged"
        shown = {
            "engine_url": f"engine {host.engine}",
            "tls_dir": f"TLS folder {host.tls_dir}" if host.tls_dir else "no TLS",
            "capacity": f"capacity {host.capacity}" if host.capacity else f"capacity default (SANDBOX_MAX_PER_HOST, {host.ceiling})",
            "network": f"network {host.sandbox_network}", "bridge": f"bridge {host.sandbox_bridge}",
            "registry_mirror": f"registry mirror {host.sandbox_registry_mirror}",
        }
        said = f"updated {host.name}: {', '.join(shown[field] for field in changed)}"
        if dropped:
            said += f"; its TLS folder {dropped} is dropped (certificates are for an engine on tcp://)"
        return said

    def _list(self):
        now = timezone.now()
        for host, live in hosts.summary():
            beat = f"{(now - host.last_heartbeat).total_seconds():.0f} s ago" if host.last_heartbeat else "never"
            tls = f" (TLS: {host.tls_dir})" if host.tls_dir else ""
            self.stdout.write(f"{host.name}: {host.state}, {live}/{host.ceiling} sandboxes, engine {host.engine}{tls}, heartbeat {beat}")
