from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labs', '0011_docker_host_tls'),
    ]

    operations = [
        migrations.AddField(
            model_name='dockerhost',
            name='machine_id',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='dockerhost',
            name='isolation_problems',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='dockerhost',
            name='isolation_checked_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
