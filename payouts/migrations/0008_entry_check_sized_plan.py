"""The entries' reference check (migration 0002's statement trigger) planned for the statement's
size (issue 14: a sale split over 100,000 payees).

Same rules, same errors: every entry's journal transaction is open (created in this database
transaction, not yet balance-checked), its account exists, and its currency is the account's.
What changed is how the statement's rows are read:

* one pass counts them and takes the min/max of their transaction and account ids. A posting
  writes one transaction's entries, so the open check is one `position()` in the open list
  instead of a DISTINCT (a hash aggregate) over every row; only a statement that mixes
  transactions still checks each distinct one;
* the account check of a large statement (more than 1,000 rows) is planned for that statement
  (EXECUTE): PL/pgSQL keeps the plan of a static query from the trigger's first call in a
  session, so one shape served a 3-entry sale and a 100,000-entry one alike, and the old query's
  LIMIT 1 over a filter the planner thought matched every row made that shape 100,000 index
  probes. Now the planner sees the real row count and the accounts in the statement's id range
  and picks a hash (or merge) join when it is cheaper; it counts the entries whose account
  exists in their currency, and looks the offending entry up only to name it in the error;
* a small statement probes the account of each entry with a correlated subquery: always index
  lookups, whatever plan was cached first (never a scan of every account for a 3-entry sale).
"""

from django.db import migrations

LARGE_STATEMENT = 1_000  # entries: the threshold in FORWARD below

FORWARD = """
CREATE OR REPLACE FUNCTION payouts_entry_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    open_list text := coalesce(current_setting('payouts.open_transactions', true), '');
    entry_count bigint;
    first_tx bigint;
    last_tx bigint;
    first_account bigint;
    last_account bigint;
    matched bigint;
    bad_tx bigint;
    bad record;
BEGIN
    SELECT count(*), min(transaction_id), max(transaction_id), min(account_id), max(account_id)
        INTO entry_count, first_tx, last_tx, first_account, last_account
        FROM new_entries;
    IF entry_count = 0 THEN
        RETURN NULL;
    END IF;

    IF first_tx = last_tx THEN
        IF position(',' || first_tx || ',' IN open_list) = 0 THEN
            bad_tx := first_tx;
        END IF;
    ELSE
        WITH ids AS MATERIALIZED (SELECT DISTINCT transaction_id FROM new_entries)
        SELECT ids.transaction_id INTO bad_tx
            FROM ids
            WHERE position(',' || ids.transaction_id || ',' IN open_list) = 0
            LIMIT 1;
    END IF;
    IF bad_tx IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is closed or does not exist: entries can only be added in the database transaction that creates it',
            bad_tx
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    IF entry_count > 1000 THEN
        -- Joined on the id alone (a hash or merge key of one integer), the currency compared
        -- on each joined pair.
        EXECUTE 'SELECT count(*) FILTER (WHERE a.currency = n.currency) FROM new_entries n
                 JOIN payouts_ledgeraccount a ON a.id = n.account_id
                 WHERE a.id BETWEEN $1 AND $2'
            INTO matched USING first_account, last_account;
        IF matched = entry_count THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT c.account_id, c.currency, c.account_currency INTO bad
        FROM (
            SELECT n.account_id, n.currency,
                   (SELECT a.currency FROM payouts_ledgeraccount a WHERE a.id = n.account_id)
                       AS account_currency
            FROM new_entries n
        ) c
        WHERE c.account_currency IS DISTINCT FROM c.currency
        LIMIT 1;
    IF FOUND THEN
        IF bad.account_currency IS NULL THEN
            RAISE EXCEPTION 'ledger account % does not exist', bad.account_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'entry in % on ledger account % kept in %',
            bad.currency, bad.account_id, bad.account_currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
"""

# Migration 0002's function, as it was.
BACKWARD = """
CREATE OR REPLACE FUNCTION payouts_entry_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    open_list text := coalesce(current_setting('payouts.open_transactions', true), '');
    bad record;
BEGIN
    WITH ids AS MATERIALIZED (SELECT DISTINCT transaction_id FROM new_entries)
    SELECT ids.transaction_id INTO bad
        FROM ids
        WHERE position(',' || ids.transaction_id || ',' IN open_list) = 0
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is closed or does not exist: entries can only be added in the database transaction that creates it',
            bad.transaction_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.account_id, n.currency, a.currency AS account_currency INTO bad
        FROM new_entries n
        LEFT JOIN payouts_ledgeraccount a ON a.id = n.account_id
        WHERE a.id IS NULL OR a.currency <> n.currency
        LIMIT 1;
    IF FOUND THEN
        IF bad.account_currency IS NULL THEN
            RAISE EXCEPTION 'ledger account % does not exist', bad.account_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'entry in % on ledger account % kept in %',
            bad.currency, bad.account_id, bad.account_currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("payouts", "0007_payout_line_leaner_insert")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
