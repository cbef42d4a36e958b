"""The catalogue's word index (marketplace/models/search.py): checking it against the dataset
table, and refilling it after a bulk load that bypassed its trigger (`manage.py
catalogue_terms_rebuild`)."""

from dataclasses import dataclass

from django.db import connection, transaction

from marketplace.models import DatasetTerm, DatasetTermCount

_TERMS = DatasetTerm._meta.db_table
_COUNTS = DatasetTermCount._meta.db_table
_COLUMNS = "dataset_id, lexeme, is_paid, published_at, rank"
_DRIFT_SQL = f"""
SELECT
  (SELECT count(*) FROM (SELECT {_COLUMNS} FROM marketplace_dataset_terms_expected
                         EXCEPT ALL SELECT {_COLUMNS} FROM {_TERMS}) missing),
  (SELECT count(*) FROM (SELECT {_COLUMNS} FROM {_TERMS}
                         EXCEPT ALL SELECT {_COLUMNS} FROM marketplace_dataset_terms_expected) extra),
  (SELECT count(*) FROM (SELECT lexeme, is_paid, count(*) AS n FROM {_TERMS}
                         GROUP BY lexeme, is_paid) t
                   FULL JOIN (SELECT * FROM {_COUNTS} WHERE n <> 0) c USING (lexeme, is_paid)
    WHERE t.n IS DISTINCT FROM c.n)
"""  # noqa: S608 - table names only


@dataclass(frozen=True)
class WordIndexDrift:
    missing: int  # rows the dataset table implies that the index lacks
    extra: int  # rows the index holds that the dataset table does not imply
    wrong_counts: int  # (lexeme, paid) counts that differ from the index's rows

    @property
    def in_step(self) -> bool:
        return not (self.missing or self.extra or self.wrong_counts)


def word_index_drift() -> WordIndexDrift:
    """Compares the whole index with what the dataset table implies (reads both in full)."""
    with connection.cursor() as cursor:
        cursor.execute(_DRIFT_SQL)
        return WordIndexDrift(*cursor.fetchone())


@transaction.atomic
def word_index_rebuild() -> int:
    """Refills the index and its counts from the dataset table, holding a SHARE lock on it
    (dataset writes wait; searches go on and see the old index until the commit). Returns the
    number of index rows written."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT marketplace_dataset_terms_rebuild()")
        return cursor.fetchone()[0]
