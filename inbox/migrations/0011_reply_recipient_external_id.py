from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inbox', '0010_reply_waits_for'),
    ]

    operations = [
        migrations.AddField(
            model_name='reply',
            name='recipient_external_id',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name='reply',
            index=models.Index(condition=models.Q(('recipient_external_id', ''), _negated=True),
                               fields=['tenant', 'recipient_external_id'], name='reply_handoff_recipient'),
        ),
    ]
