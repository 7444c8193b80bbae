from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("channels_ingest", "0006_profile_dms_closed")]

    operations = [
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["tenant", "received_at"], name="webhook_unprocessed_tenant",
                               condition=Q(processed_at__isnull=True)),
        ),
    ]
