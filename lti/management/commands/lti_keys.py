import json

from django.core.management.base import BaseCommand

from lti import keys


class Command(BaseCommand):
    help = "Show the LTI tool's signing key and JWKS (made if there is none); --rotate makes a new one."

    def add_arguments(self, parser):
        parser.add_argument("--rotate", action="store_true", help="Make a new signing key; the old one stays published for 7 days.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the published JWKS.")

    def handle(self, *args, rotate=False, as_json=False, **options):
        if rotate:
            key, deleted = keys.rotate()
            self.stdout.write(f"new signing key {key.kid}; {deleted} key(s) retired over {keys.RETIRED_KEY_KEPT.days} days ago deleted")
        else:
            key = keys.current()
            self.stdout.write(f"signing key {key.kid}, made {key.created_at:%Y-%m-%d %H:%M}")
        published = keys.published()
        self.stdout.write(f"published: {', '.join(k.kid for k in published)}")
        if as_json:
            self.stdout.write(json.dumps(keys.jwks(), indent=2))
