"""The ledger's balance check at commit reads the sums the entries' statement trigger took
instead of re-reading every entry of the transaction (a sale over 100,000 payees: one index scan
of 100,000 entries at commit).

Same rules, same errors (migrations 0002 and 0008):

* the entries' statement trigger reads its transition table in one pass for the count, the
  transaction and account id ranges and the sum of the amounts; whether the statement is in one
  currency comes from a second pass over a small statement, and from the account check's join
  over a large one (one more comparison per joined row, not another pass). A statement
  of one transaction in one currency adds its sum to that transaction's running total in the
  transaction-local setting `payouts.entry_sums` (",<transaction id>:<currency>:<sum>," per
  open transaction, like `payouts.open_transactions`); any other statement (several
  transactions or currencies: raw SQL, tests) marks the setting "*": from then on in this
  database transaction the check at commit re-reads the entries as before. Both settings are
  transaction-local, so a rolled-back savepoint takes its sums back with its entries;
* the balance check at commit (still a deferred constraint trigger per journal transaction)
  takes the transaction's total from the setting; without an entry there it has no entries
  (every INSERT or COPY into entries runs the statement trigger), unless the setting is "*";
* the account check is 0008's; only the probe that names an offending entry is skipped when the
  large statement's join matched every entry (as 0008 returned early).
"""

from django.db import migrations

LARGE_STATEMENT = 1_000  # entries: the threshold in FORWARD below

FORWARD = """
CREATE OR REPLACE FUNCTION payouts_entry_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    open_list text := coalesce(current_setting('payouts.open_transactions', true), '');
    sums text := coalesce(current_setting('payouts.entry_sums', true), '');
    entry_count bigint;
    first_tx bigint;
    last_tx bigint;
    first_account bigint;
    last_account bigint;
    first_currency text;
    last_currency text;
    statement_sum numeric;
    running text;
    matched bigint;
    matched_in_first bigint;
    bad_tx bigint;
    bad record;
BEGIN
    SELECT count(*), min(transaction_id), max(transaction_id), min(account_id), max(account_id),
           sum(amount)
        INTO entry_count, first_tx, last_tx, first_account, last_account, statement_sum
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
        -- on each joined pair; the entries in one row's currency counted on the way (all of
        -- them: the statement is in one currency).
        SELECT n.currency INTO first_currency FROM new_entries n LIMIT 1;
        EXECUTE 'SELECT count(*) FILTER (WHERE a.currency = n.currency),
                        count(*) FILTER (WHERE a.currency = n.currency AND n.currency = $3)
                 FROM new_entries n
                 JOIN payouts_ledgeraccount a ON a.id = n.account_id
                 WHERE a.id BETWEEN $1 AND $2'
            INTO matched, matched_in_first USING first_account, last_account, first_currency;
        last_currency := CASE WHEN matched_in_first = entry_count THEN first_currency END;
    ELSE
        SELECT min(currency COLLATE "C"), max(currency COLLATE "C")
            INTO first_currency, last_currency
            FROM new_entries;
    END IF;
    IF matched IS DISTINCT FROM entry_count THEN
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
    END IF;

    -- The balance check's running totals (see the module docstring).
    IF sums = '*' THEN
        RETURN NULL;
    END IF;
    IF first_tx <> last_tx OR first_currency IS DISTINCT FROM last_currency THEN
        PERFORM set_config('payouts.entry_sums', '*', true);
        RETURN NULL;
    END IF;
    running := substring(sums FROM ',' || first_tx || ':([a-z]*:-?[0-9]+),');
    IF running IS NULL THEN
        sums := sums || ',' || first_tx || ':' || first_currency || ':' || statement_sum || ',';
    ELSIF split_part(running, ':', 1) <> first_currency THEN
        sums := '*';
    ELSE
        sums := replace(sums, ',' || first_tx || ':' || running || ',',
                        ',' || first_tx || ':' || first_currency || ':'
                            || (split_part(running, ':', 2)::numeric + statement_sum) || ',');
    END IF;
    PERFORM set_config('payouts.entry_sums', sums, true);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION payouts_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sums text := coalesce(current_setting('payouts.entry_sums', true), '');
    running text;
    bad record;
BEGIN
    IF sums = '*' THEN
        SELECT e.currency, sum(e.amount) AS total INTO bad
            FROM payouts_entry e
            WHERE e.transaction_id = NEW.id
            GROUP BY e.currency
            HAVING sum(e.amount) <> 0
            LIMIT 1;
    ELSE
        -- No running total: the transaction has no entries.
        running := substring(sums FROM ',' || NEW.id || ':([a-z]*:-?[0-9]+),');
        SELECT split_part(running, ':', 1) AS currency,
               split_part(running, ':', 2)::numeric AS total
            INTO bad
            WHERE split_part(running, ':', 2)::numeric <> 0;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced ledger transaction % (%): its entries sum to % in %',
            NEW.id, NEW.idempotency_key, bad.total, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    -- Checked: closed to further entries.
    IF running IS NOT NULL THEN
        PERFORM set_config('payouts.entry_sums',
                           replace(sums, ',' || NEW.id || ':' || running || ',', ','), true);
    END IF;
    PERFORM set_config(
        'payouts.open_transactions',
        replace(coalesce(current_setting('payouts.open_transactions', true), ''),
                ',' || NEW.id || ',', ','),
        true);
    RETURN NULL;
END
$$;
"""

# Migration 0008's entry trigger function and migration 0002's balance check, as they were.
BACKWARD = """
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

CREATE OR REPLACE FUNCTION payouts_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.currency, sum(e.amount) AS total INTO bad
        FROM payouts_entry e
        WHERE e.transaction_id = NEW.id
        GROUP BY e.currency
        HAVING sum(e.amount) <> 0
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced ledger transaction % (%): its entries sum to % in %',
            NEW.id, NEW.idempotency_key, bad.total, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    -- Checked: closed to further entries.
    PERFORM set_config(
        'payouts.open_transactions',
        replace(coalesce(current_setting('payouts.open_transactions', true), ''),
                ',' || NEW.id || ',', ','),
        true);
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("payouts", "0008_entry_check_sized_plan")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
