"""A published DatasetVersion is immutable: PostgreSQL refuses DELETE and any UPDATE of the
columns that identify the file (a new upload makes a new version instead)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION marketplace_datasetversion_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'dataset versions are immutable: DELETE refused (version %)', OLD.id;
    END IF;
    IF NEW.dataset_id IS DISTINCT FROM OLD.dataset_id
        OR NEW.number IS DISTINCT FROM OLD.number
        OR NEW.archive_key IS DISTINCT FROM OLD.archive_key
        OR NEW.filename IS DISTINCT FROM OLD.filename
        OR NEW.size_bytes IS DISTINCT FROM OLD.size_bytes
        OR NEW.sha256 IS DISTINCT FROM OLD.sha256
        OR NEW.sample_key IS DISTINCT FROM OLD.sample_key
        OR NEW.sample_filename IS DISTINCT FROM OLD.sample_filename
        OR NEW.sample_size_bytes IS DISTINCT FROM OLD.sample_size_bytes
        OR NEW.sample_sha256 IS DISTINCT FROM OLD.sample_sha256
        OR NEW.published_at IS DISTINCT FROM OLD.published_at THEN
        RAISE EXCEPTION 'dataset versions are immutable: the file of version % cannot change', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER marketplace_datasetversion_immutable
BEFORE UPDATE OR DELETE ON marketplace_datasetversion
FOR EACH ROW EXECUTE FUNCTION marketplace_datasetversion_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS marketplace_datasetversion_immutable ON marketplace_datasetversion;
DROP FUNCTION IF EXISTS marketplace_datasetversion_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0002_catalogue")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
