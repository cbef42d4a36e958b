# The member table of published versions (issue 14: the duplicates check looks each digest up in
# an index instead of scanning every published manifest), filled for the versions already published.

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO marketplace_versionmember (version_id, dataset_id, path, size, sha256)
SELECT v.id, v.dataset_id, m.entry ->> 0, (m.entry ->> 1)::bigint, m.entry ->> 2
FROM marketplace_datasetversion v
JOIN LATERAL (
    SELECT r.manifest FROM marketplace_checkrun r
    JOIN marketplace_fileupload u ON u.id = r.upload_id
    WHERE u.key = v.archive_key AND r.status IN ('passed', 'warned')
    ORDER BY r.id DESC LIMIT 1
) AS run ON true
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(run.manifest) = 'array' THEN run.manifest ELSE '[]'::jsonb END
) AS m(entry)
WHERE m.entry ->> 2 IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0014_outbound_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="VersionMember",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("path", models.TextField()),
                ("size", models.PositiveBigIntegerField()),
                ("sha256", models.CharField(max_length=64)),
                (
                    "dataset",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="marketplace.dataset",
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="members",
                        to="marketplace.datasetversion",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["sha256", "dataset"], name="versionmember_sha_dataset"),
                    models.Index(fields=["version", "path"], name="versionmember_version_path"),
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
