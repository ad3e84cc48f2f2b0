"""Sign-up; the rest of the account pages are django.contrib.auth's views."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=_("Email address"), help_text=_("Used only to reset your password."))

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account already uses this email address."))
        return email


def signup(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "courses:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        # A first look at what a sandbox is and the terminal's keys, then on to where they were going.
        welcome = reverse("welcome")
        return redirect(f"{welcome}?{urlencode({'next': next_url})}" if next_url else welcome)
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@login_required
def welcome(request):
    """The onboarding page shown once after sign-up (and reachable again from it)."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    return render(request, "registration/welcome.html", {
        "next": next_url or reverse("courses:home"), "idle_minutes": settings.SANDBOX_IDLE_MINUTES, "ttl_minutes": settings.SANDBOX_TTL_MINUTES,
    })
