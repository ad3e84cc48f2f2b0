from django.urls import path

from courses import views

app_name = "courses"
urlpatterns = [
    path("", views.home, name="home"),
    path("mon-parcours/", views.my_progress, name="my_progress"),
    path("cours/<slug:course_slug>/", views.course_detail, name="course"),
    path("cours/<slug:course_slug>/fichiers/<path:path>", views.course_asset, name="asset"),
    path("cours/<slug:course_slug>/<slug:lesson_slug>/", views.lesson_detail, name="lesson"),
    path("cours/<slug:course_slug>/<slug:lesson_slug>/lu/", views.mark_lesson_read, name="mark_read"),
    path("cours/<slug:course_slug>/<slug:lesson_slug>/non-lu/", views.mark_lesson_unread, name="mark_unread"),
]
