"""The catalogue's word index: one row per (listed dataset, lexeme of its `search_vector`), and
per (lexeme, paid or free) the number of listed datasets holding it.

A one-word search over 1,000,000 datasets cannot be answered fast from the GIN index alone: its
exact `total` (MDC E1: the count over all pages) and its relevance order need every matching row
of the dataset table, and a common word matches a sixth of them (PostgreSQL 15 visits each heap
page of a bitmap count). Here the count is one row read and the page an ordered index range of
`limit` rows, whatever the word's frequency (marketplace/selectors.py `_word_search`).

Both tables are written only by PostgreSQL (migration 0019): a trigger on the dataset table
replaces a dataset's rows whenever its words, price, publication date or listing change, so they
mirror the listed catalogue in the same transaction, whatever code or SQL writes to it; the
function `marketplace_dataset_terms_rebuild()` (`manage.py catalogue_terms_rebuild`) refills
both from the dataset table after a bulk load that bypassed triggers."""

from django.db import models


class DatasetTerm(models.Model):
    # The primary key is the relevance order's index too: (word, rank, dataset) read backwards is
    # rank DESC, id DESC. Migration 0019 adds is_paid to it (INCLUDE), so that a page narrowed
    # by pricing is an index-only scan. (dataset, word) is unique by the trigger, which deletes a
    # dataset's rows (by this key) before it writes them again.
    pk = models.CompositePrimaryKey("lexeme", "rank", "dataset")
    lexeme = models.TextField()
    # ts_rank(search_vector, '<lexeme>'): exactly the relevance a one-word search ranks by.
    rank = models.FloatField()
    # No database foreign key: the trigger removes a dataset's rows in the statement that
    # unlists or deletes it (a deferred constraint would only re-check what it guarantees).
    dataset = models.ForeignKey(
        "marketplace.Dataset",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    # Denormalised from the dataset, for the pricing filter and the date order.
    is_paid = models.BooleanField()
    published_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["lexeme", "-published_at", "-dataset"],
                name="datasetterm_newest",
                include=["is_paid"],
            ),
        ]

    def __str__(self):
        return f"{self.lexeme} @ {self.dataset_id}"


class DatasetTermCount(models.Model):
    pk = models.CompositePrimaryKey("lexeme", "is_paid")
    lexeme = models.TextField()
    is_paid = models.BooleanField()
    n = models.BigIntegerField()

    def __str__(self):
        return f"{self.lexeme} ({'paid' if self.is_paid else 'free'}): {self.n}"
