# The quiz models now live in the quizzes app (its 0001 migration); their tables are kept.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('courses', '0002_quizzes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AttemptQuestion'),
                migrations.DeleteModel(name='Attempt'),
                migrations.DeleteModel(name='Question'),
                migrations.DeleteModel(name='Quiz'),
            ],
            database_operations=[],
        ),
    ]
