from django.urls import path

from classrooms import views

app_name = "classrooms"
urlpatterns = [
    path("", views.classroom_list, name="list"),
    path("mes-classes/", views.my_classrooms, name="mine"),
    path("rejoindre/", views.join, name="join"),
    path("rejoindre/<str:code>/", views.join_code, name="join_code"),
    path("<int:pk>/", views.classroom_detail, name="detail"),
    path("<int:pk>/archiver/", views.classroom_archive, name="archive"),
    path("<int:pk>/nouveau-code/", views.classroom_renew_code, name="renew_code"),
    path("<int:pk>/apprenants/<int:user_pk>/", views.learner_detail, name="learner"),
    path("<int:pk>/apprenants/<int:user_pk>/retirer/", views.member_remove, name="member_remove"),
    path("<int:pk>/progression/", views.classroom_matrix, name="matrix"),
    path("<int:pk>/progression.csv", views.matrix_csv, name="matrix_csv"),
    path("<int:pk>/tentatives.csv", views.attempts_csv, name="attempts_csv"),
    path("<int:pk>/quiz/", views.quiz_statistics, name="quiz_statistics"),
    path("<int:pk>/tp/", views.lab_statistics, name="lab_statistics"),
    path("<int:pk>/bacs-a-sable/", views.live_sandboxes, name="sandboxes"),
    path("<int:pk>/bacs-a-sable/<int:sandbox_pk>/arreter/", views.sandbox_stop, name="sandbox_stop"),
    path("<int:pk>/bacs-a-sable/<int:sandbox_pk>/prolonger/", views.sandbox_extend, name="sandbox_extend"),
]
