"""The "Instructeurs" group, holding the permission to teach; grant it to a user in the admin."""

from django.db import migrations


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="classrooms", model="classroom")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="teach", defaults={"name": "Can create classrooms and follow their learners"},
    )
    group, _ = Group.objects.get_or_create(name="Instructeurs")
    group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Instructeurs").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("classrooms", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
