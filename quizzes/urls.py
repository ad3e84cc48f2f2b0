from django.urls import path

from quizzes import views

app_name = "quizzes"
urlpatterns = [
    path("cours/<slug:course_slug>/quiz/<slug:quiz_slug>/", views.quiz_detail, name="quiz"),
    path("cours/<slug:course_slug>/quiz/<slug:quiz_slug>/commencer/", views.quiz_start, name="quiz_start"),
    path("quiz/tentatives/<int:pk>/", views.attempt_detail, name="attempt"),
    path("quiz/tentatives/<int:pk>/enregistrer/", views.attempt_save, name="attempt_save"),
    path("quiz/tentatives/<int:pk>/terminer/", views.attempt_submit, name="attempt_submit"),
    path("quiz/tentatives/<int:pk>/resultats/", views.attempt_results, name="attempt_results"),
    path("quiz/tentatives/<int:pk>/temps/", views.attempt_clock, name="attempt_clock"),
]
