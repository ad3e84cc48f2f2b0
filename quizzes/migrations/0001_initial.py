# The quiz models moved from courses to their own app; their tables and rows stay where they are.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    """Permissions and admin history follow the models to their new app."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("quiz", "question", "attempt", "attemptquestion"):
        if not ContentType.objects.filter(app_label="quizzes", model=model).exists():
            ContentType.objects.filter(app_label="courses", model=model).update(app_label="quizzes")


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("quiz", "question", "attempt", "attemptquestion"):
        if not ContentType.objects.filter(app_label="courses", model=model).exists():
            ContentType.objects.filter(app_label="quizzes", model=model).update(app_label="courses")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('courses', '0003_quizzes_moved_to_their_app'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Quiz',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('slug', models.SlugField()),
                        ('title', models.CharField(max_length=200)),
                        ('summary', models.TextField(blank=True)),
                        ('intro_html', models.TextField(blank=True)),
                        ('position', models.PositiveIntegerField(help_text='Order within its chapter.')),
                        ('source_path', models.CharField(blank=True, max_length=300)),
                        ('max_attempts', models.PositiveIntegerField(blank=True, help_text='Empty: unlimited.', null=True)),
                        ('grading', models.CharField(choices=[('best', 'highest attempt'), ('last', 'last attempt'), ('average', 'average of attempts')], default='best', max_length=10)),
                        ('time_limit_minutes', models.PositiveIntegerField(blank=True, help_text='Empty: no time limit.', null=True)),
                        ('pool_size', models.PositiveIntegerField(blank=True, help_text='Questions drawn for each attempt; empty: all of them.', null=True)),
                        ('shuffle_questions', models.BooleanField(default=False)),
                        ('shuffle_choices', models.BooleanField(default=False)),
                        ('closes_at', models.DateTimeField(blank=True, help_text='No new attempt after this date.', null=True)),
                        ('review_when', models.CharField(choices=[('immediately', 'right after each attempt'), ('after_close', 'once the quiz is closed for the learner')], default='immediately', max_length=20)),
                        ('review_correct_answers', models.BooleanField(default=True)),
                        ('review_feedback', models.BooleanField(default=True)),
                        ('review_explanations', models.BooleanField(default=True)),
                        ('is_published', models.BooleanField(default=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('chapter', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='quizzes', to='courses.chapter')),
                        ('course', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='quizzes', to='courses.course')),
                        ('lesson', models.ForeignKey(blank=True, help_text='Shown after this lesson in the outline; empty: at the end of its chapter.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='quizzes', to='courses.lesson')),
                    ],
                    options={
                        'db_table': 'courses_quiz',
                        'verbose_name': 'quiz',
                        'verbose_name_plural': 'quizzes',
                        'ordering': ['course', 'chapter__position', 'position'],
                    },
                ),
                migrations.CreateModel(
                    name='Question',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('slug', models.SlugField(max_length=100)),
                        ('kind', models.CharField(choices=[('single', 'single choice'), ('multiple', 'multiple choice'), ('true_false', 'true or false'), ('short', 'short text'), ('numeric', 'number'), ('matching', 'matching'), ('ordering', 'ordering'), ('command', 'Docker command')], max_length=20)),
                        ('position', models.PositiveIntegerField()),
                        ('prompt_html', models.TextField()),
                        ('explanation_html', models.TextField(blank=True)),
                        ('points', models.PositiveIntegerField(default=1)),
                        ('spec', models.JSONField(default=dict)),
                        ('source', models.CharField(choices=[('pack', 'course pack'), ('gift', 'GIFT import')], default='pack', max_length=10)),
                        ('is_published', models.BooleanField(default=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('quiz', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='questions', to='quizzes.quiz')),
                    ],
                    options={
                        'db_table': 'courses_question',
                        'verbose_name': 'question',
                        'verbose_name_plural': 'questions',
                        'ordering': ['quiz', 'position'],
                    },
                ),
                migrations.CreateModel(
                    name='Attempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('number', models.PositiveIntegerField()),
                        ('seed', models.PositiveBigIntegerField(help_text='Seed of the draw and of the shuffles.')),
                        ('status', models.CharField(choices=[('in_progress', 'in progress'), ('submitted', 'submitted')], default='in_progress', max_length=20)),
                        ('started_at', models.DateTimeField()),
                        ('deadline', models.DateTimeField(blank=True, null=True)),
                        ('submitted_at', models.DateTimeField(blank=True, null=True)),
                        ('is_late', models.BooleanField(default=False, help_text='Submitted after the time limit: graded as at the deadline.')),
                        ('score', models.FloatField(blank=True, help_text='From 0 to 1.', null=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='quiz_attempts', to=settings.AUTH_USER_MODEL)),
                        ('quiz', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempts', to='quizzes.quiz')),
                    ],
                    options={
                        'db_table': 'courses_attempt',
                        'verbose_name': 'quiz attempt',
                        'verbose_name_plural': 'quiz attempts',
                        'ordering': ['quiz', 'user', 'number'],
                    },
                ),
                migrations.CreateModel(
                    name='AttemptQuestion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('position', models.PositiveIntegerField()),
                        ('kind', models.CharField(choices=[('single', 'single choice'), ('multiple', 'multiple choice'), ('true_false', 'true or false'), ('short', 'short text'), ('numeric', 'number'), ('matching', 'matching'), ('ordering', 'ordering'), ('command', 'Docker command')], max_length=20)),
                        ('prompt_html', models.TextField()),
                        ('explanation_html', models.TextField(blank=True)),
                        ('points', models.PositiveIntegerField(default=1)),
                        ('spec', models.JSONField(default=dict)),
                        ('order', models.JSONField(default=list)),
                        ('answer', models.JSONField(blank=True, null=True)),
                        ('answered_at', models.DateTimeField(blank=True, null=True)),
                        ('score', models.FloatField(blank=True, null=True)),
                        ('feedback', models.JSONField(default=list, help_text='HTML fragments shown after submission.')),
                        ('attempt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='slots', to='quizzes.attempt')),
                        ('question', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attempt_slots', to='quizzes.question')),
                    ],
                    options={
                        'db_table': 'courses_attemptquestion',
                        'verbose_name': 'attempt question',
                        'verbose_name_plural': 'attempt questions',
                        'ordering': ['attempt', 'position'],
                        'constraints': [models.UniqueConstraint(fields=('attempt', 'position'), name='attempt_slot_position_unique')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='quiz',
                    constraint=models.UniqueConstraint(fields=('course', 'slug'), name='quiz_slug_unique_in_course'),
                ),
                migrations.AddConstraint(
                    model_name='question',
                    constraint=models.UniqueConstraint(fields=('quiz', 'slug'), name='question_slug_unique_in_quiz'),
                ),
                migrations.AddIndex(
                    model_name='attempt',
                    index=models.Index(fields=['user', 'quiz', 'status'], name='courses_att_user_id_be255c_idx'),
                ),
                migrations.AddConstraint(
                    model_name='attempt',
                    constraint=models.UniqueConstraint(fields=('quiz', 'user', 'number'), name='attempt_number_unique'),
                ),
                migrations.AddConstraint(
                    model_name='attempt',
                    constraint=models.UniqueConstraint(condition=models.Q(('status', 'in_progress')), fields=('quiz', 'user'), name='one_open_attempt_per_learner_and_quiz'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
