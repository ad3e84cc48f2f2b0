from django.urls import path

from labs import views

app_name = "labs"
urlpatterns = [
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/", views.lab_detail, name="lab"),
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/demarrer/", views.sandbox_start, name="sandbox_start"),
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/taches/<slug:task_slug>/verifier/", views.task_check, name="task_check"),
    path("bacs-a-sable/<int:pk>/", views.sandbox_status, name="sandbox_status"),
    path("bacs-a-sable/<int:pk>/arreter/", views.sandbox_stop, name="sandbox_stop"),
    path("bacs-a-sable/<int:pk>/prolonger/", views.sandbox_extend, name="sandbox_extend"),
    path("bacs-a-sable/<int:pk>/reinitialiser/", views.sandbox_reset, name="sandbox_reset"),
    path("bacs-a-sable/<int:pk>/activite/", views.sandbox_heartbeat, name="sandbox_heartbeat"),
    path("verifications/<int:pk>/", views.submission_status, name="submission"),
]
