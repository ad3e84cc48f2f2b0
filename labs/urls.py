from django.urls import path

from labs import playground_views, preview_views, views

app_name = "labs"
urlpatterns = [
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/", views.lab_detail, name="lab"),
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/demarrer/", views.sandbox_start, name="sandbox_start"),
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/taches/<slug:task_slug>/verifier/", views.task_check, name="task_check"),
    path("cours/<slug:course_slug>/tp/<slug:lab_slug>/taches/<slug:task_slug>/solution/", views.task_solution, name="task_solution"),
    path("bacs-a-sable/<int:pk>/", views.sandbox_status, name="sandbox_status"),
    path("bacs-a-sable/<int:pk>/arreter/", views.sandbox_stop, name="sandbox_stop"),
    path("bacs-a-sable/<int:pk>/prolonger/", views.sandbox_extend, name="sandbox_extend"),
    path("bacs-a-sable/<int:pk>/reinitialiser/", views.sandbox_reset, name="sandbox_reset"),
    path("bacs-a-sable/<int:pk>/activite/", views.sandbox_heartbeat, name="sandbox_heartbeat"),
    path("verifications/<int:pk>/", views.submission_status, name="submission"),
    path("bacs-a-sable/<int:pk>/ports/", preview_views.sandbox_ports, name="sandbox_ports"),
    path("bacs-a-sable/<int:pk>/ports/<int:port>/", preview_views.preview_open, name="preview_open"),
    path("apercu/<str:token>/", preview_views.preview_page, name="preview"),
    path("apercu/<str:token>/<path:rest>", preview_views.preview_page, name="preview_path"),
    path("bac-a-sable-libre/", playground_views.playground, name="playground"),
    path("bac-a-sable-libre/demarrer/", playground_views.playground_start, name="playground_start"),
    path("bac-a-sable-libre/repartir-de-zero/", playground_views.playground_fresh, name="playground_fresh"),
]
