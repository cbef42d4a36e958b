import pytest
from django.db import DatabaseError, connection, transaction

from marketplace.models import DatasetVersion
from tests.catalogue_helpers import publish_dataset
from tests.factories import make_key

pytestmark = pytest.mark.django_db


def test_published_version_file_cannot_change_or_disappear():
    secret, _ = make_key(uploads=True)
    _, version = publish_dataset(secret)
    for change in (
        {"sha256": "0" * 64},
        {"archive_key": "elsewhere"},
        {"size_bytes": 1},
        {"filename": "other.tar.gz"},
    ):
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            DatasetVersion.objects.filter(pk=version.pk).update(**change)
    # Raw SQL, below the ORM's own PROTECT: the database itself refuses.
    with (
        pytest.raises(DatabaseError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM marketplace_datasetversion WHERE id = %s", [version.pk])
    # Flags that describe the file (not the file itself) may still be recorded.
    DatasetVersion.objects.filter(pk=version.pk).update(sha256_verified=True)
    version.refresh_from_db()
    assert version.sha256_verified is True
