"""The catalogue's word index (marketplace/models/search.py), kept by PostgreSQL:

* `marketplace_lexeme_tsquery(lexeme)`: the tsquery of one lexeme, quoted as tsquery input
  wants it (a lexeme may hold quotes and backslashes), not normalised again;
* `marketplace_dataset_terms_expected`: the rows the word index must hold, computed from the
  dataset table (one per listed dataset and lexeme of its search_vector, with its ts_rank for
  that lexeme alone: what a one-word search ranks by);
* the trigger `marketplace_dataset_terms` (after INSERT, DELETE, and UPDATE of the columns it
  reads): when a dataset's words, price, publication date or listing change, the counts move by
  the difference between the old and the new row (one upsert, in lexeme order, so concurrent
  publications lock the shared count rows in the same order) and the dataset's rows are
  replaced. A count that would fall below zero, or old rows not all found (the index out of
  step with the dataset table), fails the statement rather than go on wrong;
* `marketplace_dataset_terms_rebuild()`: both tables refilled from the view, under a SHARE
  lock on the dataset table (no dataset changes meanwhile); for bulk loads that bypassed the
  trigger. This migration runs it once for the datasets already there, before the indexes are
  built (Django creates `datasetterm_newest` at the end of the migration);
* the word index's primary key (lexeme, rank, dataset) gets `INCLUDE (is_paid)`, which Django's
  CompositePrimaryKey cannot say: the relevance page narrowed by pricing is an index-only scan.
"""

import django.db.models.deletion
from django.db import migrations, models

LISTED = (
    "{t}.search_vector IS NOT NULL AND {t}.latest_version_id IS NOT NULL "
    "AND {t}.removed_at IS NULL AND {t}.visibility IN ('public', 'restricted')"
)

FORWARD = rf"""
ALTER TABLE marketplace_datasetterm DROP CONSTRAINT marketplace_datasetterm_pkey;

CREATE FUNCTION marketplace_lexeme_tsquery(lexeme text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery
$$;

CREATE VIEW marketplace_dataset_terms_expected AS
SELECT d.id AS dataset_id, u.lexeme, d.is_paid, d.published_at,
       ts_rank(d.search_vector, marketplace_lexeme_tsquery(u.lexeme))::float8 AS rank
  FROM marketplace_dataset d, unnest(d.search_vector) u
 WHERE {LISTED.format(t="d")};

CREATE FUNCTION marketplace_dataset_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_listed boolean := TG_OP <> 'INSERT' AND ({LISTED.format(t="OLD")});
    is_listed boolean := TG_OP <> 'DELETE' AND ({LISTED.format(t="NEW")});
    lowest bigint;
    removed bigint;
BEGIN
    IF NOT was_listed AND NOT is_listed THEN
        RETURN NULL;
    END IF;
    IF was_listed AND is_listed AND NEW.search_vector = OLD.search_vector
       AND NEW.is_paid = OLD.is_paid
       AND NEW.published_at IS NOT DISTINCT FROM OLD.published_at THEN
        RETURN NULL;
    END IF;
    WITH moved AS (
        INSERT INTO marketplace_datasettermcount AS c (lexeme, is_paid, n)
        SELECT lexeme, is_paid, sum(delta) FROM (
            SELECT u.lexeme, OLD.is_paid AS is_paid, -1 AS delta
              FROM unnest(OLD.search_vector) u WHERE was_listed
            UNION ALL
            SELECT u.lexeme, NEW.is_paid, 1 FROM unnest(NEW.search_vector) u WHERE is_listed
        ) moves
        GROUP BY lexeme, is_paid HAVING sum(delta) <> 0
        ORDER BY lexeme, is_paid
        ON CONFLICT (lexeme, is_paid) DO UPDATE SET n = c.n + excluded.n
        RETURNING n
    )
    SELECT min(n) INTO lowest FROM moved;
    IF lowest < 0 THEN
        RAISE EXCEPTION 'the word index is out of step with dataset %', OLD.id
            USING HINT = 'run manage.py catalogue_terms_rebuild';
    END IF;
    IF was_listed THEN
        -- By the primary key: each old word with its old rank (ts_rank is deterministic).
        DELETE FROM marketplace_datasetterm t
         USING unnest(OLD.search_vector) u
         WHERE t.lexeme = u.lexeme
           AND t.rank = ts_rank(OLD.search_vector, marketplace_lexeme_tsquery(u.lexeme))
           AND t.dataset_id = OLD.id;
        GET DIAGNOSTICS removed = ROW_COUNT;
        IF removed <> length(OLD.search_vector) THEN
            RAISE EXCEPTION 'the word index is out of step with dataset %', OLD.id
                USING HINT = 'run manage.py catalogue_terms_rebuild';
        END IF;
    END IF;
    IF is_listed THEN
        INSERT INTO marketplace_datasetterm (dataset_id, lexeme, is_paid, published_at, rank)
        SELECT NEW.id, u.lexeme, NEW.is_paid, NEW.published_at,
               ts_rank(NEW.search_vector, marketplace_lexeme_tsquery(u.lexeme))
          FROM unnest(NEW.search_vector) u;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER marketplace_dataset_terms
AFTER INSERT OR DELETE OR UPDATE OF search_vector, is_paid, published_at, latest_version_id,
    removed_at, visibility
ON marketplace_dataset FOR EACH ROW EXECUTE FUNCTION marketplace_dataset_terms_sync();

CREATE FUNCTION marketplace_dataset_terms_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    LOCK TABLE marketplace_dataset IN SHARE MODE;
    DELETE FROM marketplace_datasettermcount;
    DELETE FROM marketplace_datasetterm;
    INSERT INTO marketplace_datasetterm (dataset_id, lexeme, is_paid, published_at, rank)
    SELECT dataset_id, lexeme, is_paid, published_at, rank
      FROM marketplace_dataset_terms_expected;
    GET DIAGNOSTICS written = ROW_COUNT;
    INSERT INTO marketplace_datasettermcount (lexeme, is_paid, n)
    SELECT lexeme, is_paid, count(*) FROM marketplace_datasetterm GROUP BY lexeme, is_paid;
    RETURN written;
END $$;

SELECT marketplace_dataset_terms_rebuild();

ALTER TABLE marketplace_datasetterm ADD CONSTRAINT marketplace_datasetterm_pkey
    PRIMARY KEY (lexeme, rank, dataset_id) INCLUDE (is_paid);
"""  # noqa: S608 - constants only

BACKWARD = """
DROP FUNCTION marketplace_dataset_terms_rebuild();
DROP TRIGGER marketplace_dataset_terms ON marketplace_dataset;
DROP FUNCTION marketplace_dataset_terms_sync();
DROP VIEW marketplace_dataset_terms_expected;
DROP FUNCTION marketplace_lexeme_tsquery(text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0018_fileupload_assembled"),
    ]

    operations = [
        migrations.CreateModel(
            name="DatasetTermCount",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "lexeme",
                        "is_paid",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("lexeme", models.TextField()),
                ("is_paid", models.BooleanField()),
                ("n", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="DatasetTerm",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "lexeme",
                        "rank",
                        "dataset",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("lexeme", models.TextField()),
                ("rank", models.FloatField()),
                ("is_paid", models.BooleanField()),
                ("published_at", models.DateTimeField(null=True)),
                (
                    "dataset",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="marketplace.dataset",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["lexeme", "-published_at", "-dataset"],
                        include=("is_paid",),
                        name="datasetterm_newest",
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
