"""Cases resolved per hour in the hourly rollups (the surveys panel's deflection read every resolved case of the
period), kept from the resolution durations, which now carry their end instant."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    # PostgreSQL only: elsewhere (the SQLite demo) the durations are not kept and the resolved count is read from
    # the cases themselves.
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sla_sladuration d SET ended_at = CASE WHEN d.measure = 1 THEN c.first_response_at "
            "  ELSE c.resolved_at END "
            "FROM inbox_case c WHERE c.id = d.case_id AND c.tenant_id = d.tenant_id"
        )
        # A duration whose case lost its end (out of step; `sla_rollups --check` reports it) keeps its own.
        cursor.execute("UPDATE sla_sladuration SET ended_at = started_at + seconds * interval '1 second' "
                       "WHERE ended_at IS NULL")
        cursor.execute(
            "INSERT INTO sla_slarolluphour (tenant_id, hour, channel_id_copy, inbound, met, missed, resolved) "
            "SELECT tenant_id, date_trunc('hour', ended_at, 'UTC'), channel_id_copy, 0, 0, 0, count(*) "
            "FROM sla_sladuration WHERE measure = 2 GROUP BY 1, 2, 3 "
            "ON CONFLICT (tenant_id, hour, channel_id_copy) DO UPDATE SET resolved = EXCLUDED.resolved"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('sla', '0006_category_blocks'),
    ]

    operations = [
        migrations.AddField(
            model_name='sladuration',
            name='ended_at',
            field=models.DateTimeField(null=True, help_text="The case's first_response_at or resolved_at"),
        ),
        migrations.AddField(
            model_name='slarolluphour',
            name='resolved',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='sladuration',
            name='ended_at',
            field=models.DateTimeField(help_text="The case's first_response_at or resolved_at"),
        ),
    ]
