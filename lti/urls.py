from django.urls import path

from lti import views

app_name = "lti"
urlpatterns = [
    path("login/", views.login_initiation, name="login"),
    path("launch/", views.launch_view, name="launch"),
    path("jwks.json", views.jwks, name="jwks"),
    path("canvas.json", views.canvas_config, name="canvas_config"),
    path("configuration/", views.configuration, name="configuration"),
    path("choisir/<str:token>/", views.deep_linking_pick, name="deep_linking"),
    path("cours-lms/<int:pk>/classe/", views.roster_view, name="roster"),
]
