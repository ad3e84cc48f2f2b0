from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from courses import activities


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = _("Labs")

    def ready(self):
        # Imported once the models are loaded, as Django requires of modules that use them.
        from labs import grading, packs

        activities.register(activities.ActivityKind(
            key="labs", noun="lab", files="labs/**/*.yaml",
            read=packs.read_lab, load=packs.load_lab, unpublish=packs.unpublish_labs,
            describe=packs.describe_lab, totals=packs.lab_totals, counts=("labs", "tasks"),
            outline=grading.labs_with_progress, outline_template="labs/_outline_item.html", path=grading.labs_on_path,
            done=lambda lab: lab.complete, done_label=_("Labs completed"),
        ))
