"""PostgreSQL enforces the ledger's rules, whatever code or SQL writes to it:

* append-only: UPDATE and DELETE on accounts, journal transactions and entries are refused
  (statement triggers, so even an UPDATE matching no row fails loudly). Corrections are
  reversal transactions. TRUNCATE is not intercepted: it needs table ownership, and the test
  runner's flush uses it; production must not grant it to the application role's sessions.
* linear hash chain: a journal transaction is appended under the chain advisory lock (the key
  `payouts.services.journal.CHAIN_LOCK_KEY`) with sequence = head + 1 and prev_hash = the head's
  hash; `sequence` is unique, so the chain can never fork even without the application's lock.
  (The hash itself is recomputed by `manage.py verify_ledger`.)
* balanced: a DEFERRABLE INITIALLY DEFERRED constraint trigger on each new journal transaction
  checks at commit that its entries sum to zero per currency. It is on the transaction rather
  than on each entry so that a sale to 100,000 payees is checked once, not 100,000 times.
  Entries may only be added to a journal transaction in the database transaction that created
  it, before its balance check ran (an open-transactions list kept in a transaction-local
  setting), so no later INSERT can unbalance a committed transaction.
* entry references: each INSERT statement into entries is checked set-based (one join over the
  statement's transition table): the journal transaction is open, the account exists, and the
  entry's currency is the account's. This replaces per-row foreign-key triggers, which would
  lock each of 100,000 payee accounts FOR KEY SHARE; referenced rows can never change or
  disappear (append-only), so one check at insert is equivalent.
"""

from django.db import migrations

CHAIN_LOCK_KEY = 0x5041594F55545331  # payouts.services.journal.CHAIN_LOCK_KEY

FORWARD = f"""
CREATE FUNCTION payouts_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'Post a reversal transaction instead of changing ledger rows.';
END
$$;

CREATE TRIGGER payouts_ledgeraccount_append_only
    BEFORE UPDATE OR DELETE ON payouts_ledgeraccount
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_ledger_append_only();
CREATE TRIGGER payouts_journaltransaction_append_only
    BEFORE UPDATE OR DELETE ON payouts_journaltransaction
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_ledger_append_only();
CREATE TRIGGER payouts_entry_append_only
    BEFORE UPDATE OR DELETE ON payouts_entry
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_ledger_append_only();


CREATE FUNCTION payouts_journal_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_sequence bigint;
    head_hash text;
BEGIN
    -- Re-entrant: a posting already holds it; a raw INSERT waits behind any posting.
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    SELECT t.sequence, t.hash INTO head_sequence, head_hash
        FROM payouts_journaltransaction t ORDER BY t.sequence DESC LIMIT 1;
    IF NOT FOUND THEN
        head_sequence := 0;
        head_hash := repeat('0', 64);
    END IF;
    IF NEW.sequence <> head_sequence + 1 OR NEW.prev_hash <> head_hash THEN
        RAISE EXCEPTION 'ledger chain: a new transaction must be #% with prev_hash %, got #% with prev_hash %',
            head_sequence + 1, head_hash, NEW.sequence, NEW.prev_hash
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER payouts_journal_chain
    BEFORE INSERT ON payouts_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION payouts_journal_chain();


CREATE FUNCTION payouts_journal_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config(
        'payouts.open_transactions',
        coalesce(current_setting('payouts.open_transactions', true), '') || ',' || NEW.id || ',',
        true);
    RETURN NULL;
END
$$;

CREATE TRIGGER payouts_journal_open
    AFTER INSERT ON payouts_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION payouts_journal_open();


CREATE FUNCTION payouts_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE CONSTRAINT TRIGGER payouts_journal_balanced
    AFTER INSERT ON payouts_journaltransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payouts_journal_balanced();


CREATE FUNCTION payouts_entry_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER payouts_entry_inserted
    AFTER INSERT ON payouts_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION payouts_entry_inserted();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS payouts_entry_inserted ON payouts_entry;
DROP FUNCTION IF EXISTS payouts_entry_inserted();
DROP TRIGGER IF EXISTS payouts_journal_balanced ON payouts_journaltransaction;
DROP FUNCTION IF EXISTS payouts_journal_balanced();
DROP TRIGGER IF EXISTS payouts_journal_open ON payouts_journaltransaction;
DROP FUNCTION IF EXISTS payouts_journal_open();
DROP TRIGGER IF EXISTS payouts_journal_chain ON payouts_journaltransaction;
DROP FUNCTION IF EXISTS payouts_journal_chain();
DROP TRIGGER IF EXISTS payouts_entry_append_only ON payouts_entry;
DROP TRIGGER IF EXISTS payouts_journaltransaction_append_only ON payouts_journaltransaction;
DROP TRIGGER IF EXISTS payouts_ledgeraccount_append_only ON payouts_ledgeraccount;
DROP FUNCTION IF EXISTS payouts_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("payouts", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
