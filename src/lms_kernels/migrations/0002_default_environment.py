"""A ``python3`` environment on the default backend, so any Jupyter client works out of the box.

Jupyter clients ask for the kernelspec ``python3`` when told nothing else. Operators can change or
deactivate it in the admin; migrating backwards removes it only if no kernel uses it.
"""

from django.db import migrations


def create(apps, schema_editor):
    KernelEnvironment = apps.get_model("lms_kernels", "KernelEnvironment")
    KernelEnvironment.objects.get_or_create(
        slug="python3",
        defaults={"display_name": "Python 3", "language": "python", "backend": "", "position": 0},
    )


def remove(apps, schema_editor):
    KernelEnvironment = apps.get_model("lms_kernels", "KernelEnvironment")
    Kernel = apps.get_model("lms_kernels", "Kernel")
    if not Kernel.objects.filter(environment__slug="python3").exists():
        KernelEnvironment.objects.filter(slug="python3").delete()


class Migration(migrations.Migration):
    dependencies = [("lms_kernels", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
