from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labs', '0010_docker_host_networks'),
    ]

    operations = [
        migrations.AddField(
            model_name='dockerhost',
            name='tls_dir',
            field=models.CharField(blank=True, max_length=500),
        ),
    ]
