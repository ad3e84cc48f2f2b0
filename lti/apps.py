from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LtiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lti"
    verbose_name = _("LTI (Moodle, Canvas…)")

    def ready(self):
        # The lower apps announce grades through their own signals; the LTI app listens (they never import it).
        from lti import receivers  # noqa: F401
