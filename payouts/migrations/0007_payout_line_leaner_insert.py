"""A leaner payout-line insert (issue 14: a run inserts 100,000 lines in one statement).

* One index for a payee's lines instead of two: the unique index that keeps a payee out of two
  unfinished lines of a currency was partial (payee, currency) WHERE unfinished, and a second
  index (payee, created_at) served the payee's history. The new unique index covers every line,
  (payee, currency, 0 for an unfinished line else its id), so it serves both; each index on the
  table cost about as much to fill as the rows themselves.
* The statement trigger that checks the lines' references (migration 0003) probed the run once
  per line (100,000 probes of one run): one pass over the statement's lines now counts them
  and takes the min/max of their run and payee ids; a statement of one run (a payout run's)
  checks that run once, one that mixes runs each distinct run once; the offending line is
  looked up only to name it in the error. The
  payees of a large statement (more than 1,000 lines) are counted by a query planned for that
  statement (EXECUTE: PL/pgSQL keeps the plan of a static query from the trigger's first call
  in a session, whatever the size of later statements), a hash join with the payees in the
  lines' id range instead of 100,000 index probes; a small statement, or one with a missing
  payee (to name its line), still probes the payee index line by line.
"""

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION payouts_payoutline_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    bad_run bigint;
    line_count bigint;
    first_run bigint;
    last_run bigint;
    first_payee bigint;
    last_payee bigint;
    matched bigint;
BEGIN
    SELECT count(*), min(run_id), max(run_id), min(payee_id), max(payee_id)
        INTO line_count, first_run, last_run, first_payee, last_payee
        FROM new_lines;
    IF line_count = 0 THEN
        RETURN NULL;
    END IF;
    IF first_run = last_run THEN
        IF NOT EXISTS (SELECT 1 FROM payouts_payoutrun r WHERE r.id = first_run) THEN
            bad_run := first_run;
        END IF;
    ELSE
        SELECT d.run_id INTO bad_run FROM (SELECT DISTINCT run_id FROM new_lines) d
            WHERE NOT EXISTS (SELECT 1 FROM payouts_payoutrun r WHERE r.id = d.run_id) LIMIT 1;
    END IF;
    IF bad_run IS NOT NULL THEN
        SELECT n.id, n.run_id INTO bad FROM new_lines n WHERE n.run_id = bad_run
            ORDER BY n.id LIMIT 1;
        RAISE EXCEPTION 'payout line %: payout run % does not exist', bad.id, bad.run_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF line_count > 1000 THEN
        -- Planned for this statement (EXECUTE): a hash join of its lines with the payees in
        -- their id range rather than one index probe per line.
        EXECUTE 'SELECT count(*) FROM new_lines n JOIN contributors_payee p ON p.id = n.payee_id
                 WHERE p.id BETWEEN $1 AND $2'
            INTO matched USING first_payee, last_payee;
        IF matched = line_count THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT n.id, n.payee_id INTO bad FROM new_lines n
        WHERE NOT EXISTS (SELECT 1 FROM contributors_payee p WHERE p.id = n.payee_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout line %: payee % does not exist', bad.id, bad.payee_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
"""

# Migration 0003's function, as it was.
BACKWARD = """
CREATE OR REPLACE FUNCTION payouts_payoutline_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.run_id INTO bad FROM new_lines n
        WHERE NOT EXISTS (SELECT 1 FROM payouts_payoutrun r WHERE r.id = n.run_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout line %: payout run % does not exist', bad.id, bad.run_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.id, n.payee_id INTO bad FROM new_lines n
        WHERE NOT EXISTS (SELECT 1 FROM contributors_payee p WHERE p.id = n.payee_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout line %: payee % does not exist', bad.id, bad.payee_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("contributors", "0006_consent_withdrawals"),
        ("payouts", "0006_ledger_account_kind_payee_index"),
    ]

    operations = [
        # The new unique index first: the rule is never unenforced, either way.
        migrations.AddConstraint(
            model_name="payoutline",
            constraint=models.UniqueConstraint(
                models.F("payee"),
                models.F("currency"),
                models.Case(
                    models.When(status__in=["pending", "sending", "sent"], then=models.Value(0)),
                    default=models.F("id"),
                    output_field=models.BigIntegerField(),
                ),
                name="uniq_payout_line_payee_open",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="payoutline",
            name="uniq_payout_line_unfinished_payee",
        ),
        migrations.RemoveIndex(
            model_name="payoutline",
            name="payout_line_payee_created",
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
