"""One record per check: a check's row carries its code, when the provider was asked and
the address the provider saw. Rows written before stay as they are and are shown as
they are; an old trail's decision row gets its code (it was kept in ``detail``), so
that every decision row is read the same way."""

from django.db import migrations, models
from django.db.models.functions import Substr


def codes_of_old_decisions(apps, schema_editor):
    events = apps.get_model("captchala_django", "CheckpointEvent")
    events.objects.using(schema_editor.connection.alias).filter(kind="decision").update(
        code=Substr("detail", 1, 64)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("captchala_django", "0005_failure_class_rate_limited"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkpointevent",
            name="code",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="code"),
        ),
        migrations.AddField(
            model_name="checkpointevent",
            name="provider_ip",
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name="provider saw"),
        ),
        migrations.AddField(
            model_name="checkpointevent",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="sent"),
        ),
        migrations.AlterField(
            model_name="checkpointevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("check", "check"),
                    ("staff_skip", "staff skip"),
                    ("reset", "reset"),
                    ("expired", "expired by hand"),
                    ("token_received", "token received"),
                    ("validate_sent", "validate sent"),
                    ("validate_response", "validate response"),
                    ("decision", "decision"),
                    ("persist_failed", "persist failed"),
                    ("ip_mismatch", "IP mismatch"),
                ],
                max_length=20,
                verbose_name="kind",
            ),
        ),
        migrations.RunPython(codes_of_old_decisions, migrations.RunPython.noop, elidable=True),
    ]
