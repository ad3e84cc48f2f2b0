from django.contrib import admin
from django.urls import include, path

from drydock import accounts, health, metrics

urlpatterns = [
    path("", include("labs.urls")),
    path("", include("quizzes.urls")),
    path("", include("courses.urls")),
    path("classes/", include("classrooms.urls")),
    path("lti/", include("lti.urls")),
    path("compte/inscription/", accounts.signup, name="signup"),
    path("compte/bienvenue/", accounts.welcome, name="welcome"),
    path("compte/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
]
