from django.urls import path

from courses import quiz_views, views

app_name = "courses"
urlpatterns = [
    path("", views.home, name="home"),
    path("mon-parcours/", views.my_progress, name="my_progress"),
    path("cours/<slug:course_slug>/", views.course_detail, name="course"),
    path("cours/<slug:course_slug>/fichiers/<path:path>", views.course_asset, name="asset"),
    path("cours/<slug:course_slug>/quiz/<slug:quiz_slug>/", quiz_views.quiz_detail, name="quiz"),
    path("cours/<slug:course_slug>/quiz/<slug:quiz_slug>/commencer/", quiz_views.quiz_start, name="quiz_start"),
    path("cours/<slug:course_slug>/<slug:lesson_slug>/", views.lesson_detail, name="lesson"),
    path("cours/<slug:course_slug>/<slug:lesson_slug>/lu/", views.mark_lesson_read, name="mark_read"),
    path("quiz/tentatives/<int:pk>/", quiz_views.attempt_detail, name="attempt"),
    path("quiz/tentatives/<int:pk>/enregistrer/", quiz_views.attempt_save, name="attempt_save"),
    path("quiz/tentatives/<int:pk>/terminer/", quiz_views.attempt_submit, name="attempt_submit"),
    path("quiz/tentatives/<int:pk>/resultats/", quiz_views.attempt_results, name="attempt_results"),
    path("quiz/tentatives/<int:pk>/temps/", quiz_views.attempt_clock, name="attempt_clock"),
]
