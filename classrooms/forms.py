from django import forms
from django.utils.translation import gettext_lazy as _

from classrooms.models import Classroom
from courses.models import Course


class ClassroomForm(forms.ModelForm):
    class Meta:
        model = Classroom
        fields = ["title", "course", "join_code_expires_at"]
        labels = {"title": _("Name of the classroom"), "course": _("Course"), "join_code_expires_at": _("Code valid until")}
        widgets = {"join_code_expires_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = Course.objects.filter(is_published=True)


class JoinForm(forms.Form):
    code = forms.CharField(label=_("Classroom code"), max_length=40)


class RenewCodeForm(forms.Form):
    expires_at = forms.DateTimeField(
        label=_("New code valid until"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: the new code does not expire."),
    )
