from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("labs", "0012_docker_host_machine_and_isolation")]

    operations = [
        migrations.AddField(
            model_name="dockerhost",
            name="isolation_reported_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
