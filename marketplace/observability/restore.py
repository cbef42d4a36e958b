"""The restore drill: prove that a backup restores into a working database whose ledger is the
one we had.

1. In one REPEATABLE READ snapshot of the source, read the hash-chain head (the last journal
   transaction's sequence and hash) and `pg_dump` that same snapshot (`--snapshot`), so the head
   and the dump agree even while sales keep posting.
2. Create a scratch database and `pg_restore` the dump into it.
3. Run `manage.py verify_ledger` against the scratch database (a child process with its
   DATABASE_URL): it recomputes the chain and the balances from the restored rows.
4. Compare: the copy verifies, with as many transactions and the same head as the source.
5. Drop the scratch database, whatever happened.

The ledger tables are read by name (payouts is a higher layer; marketplace imports none of it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"
_VERIFIED = re.compile(r"ledger OK: (\d+) transactions, head ([0-9a-f]{64})")
_HEAD_SQL = "SELECT sequence, hash FROM payouts_journaltransaction ORDER BY sequence DESC LIMIT 1"


class DrillError(RuntimeError):
    """A step of the drill itself failed (dump, restore, database creation)."""


@dataclass(frozen=True)
class ChainHead:
    transactions: int
    head: str  # "" for an empty ledger


@dataclass(frozen=True)
class CopyVerification:
    ok: bool
    output: str
    chain: ChainHead | None  # what verify_ledger reported when it passed


@dataclass(frozen=True)
class DrillResult:
    ok: bool
    source: ChainHead
    copy: CopyVerification
    problem: str = ""

    def __str__(self) -> str:
        source = f"{self.source.transactions} transactions, head {self.source.head or '-'}"
        if self.ok:
            return f"restore drill OK: the restored ledger verifies and matches ({source})"
        return f"restore drill FAILED: {self.problem} (source: {source})"


def _db() -> dict:
    return settings.DATABASES["default"]


def _pg_env(name: str | None = None) -> dict[str, str]:
    db = _db()
    env = dict(os.environ)
    env.update(
        PGHOST=str(db.get("HOST") or "127.0.0.1"),
        PGPORT=str(db.get("PORT") or 5432),
        PGUSER=str(db.get("USER") or ""),
        PGDATABASE=name or db["NAME"],
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _run(args: list[str], *, env: dict[str, str], what: str) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DrillError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def database_url(name: str) -> str:
    db = _db()
    auth = quote(str(db.get("USER") or ""), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db.get('PORT') or 5432}/{quote(name, safe='')}"


def chain_head(cursor) -> ChainHead:
    cursor.execute(_HEAD_SQL)
    row = cursor.fetchone()
    return ChainHead(row[0], row[1]) if row else ChainHead(0, "")


def source_dump(path: Path) -> ChainHead:
    """Dump the source database to `path` (custom format) from the snapshot in which its chain
    head is read; return that head."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        head = chain_head(cursor)
        _run(
            ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", "-f", str(path)],
            env=_pg_env(),
            what="pg_dump",
        )
    return head


def scratch_name() -> str:
    return f"{_db()['NAME']}_drill_{uuid.uuid4().hex[:8]}"[:63]


def database_restore(path: Path, name: str) -> None:
    """Create database `name` and restore the dump into it."""
    _run(["createdb", "--template=template0", name], env=_pg_env(), what="createdb")
    _run(
        ["pg_restore", "--no-owner", "--exit-on-error", "-d", name, str(path)],
        env=_pg_env(name),
        what="pg_restore",
    )


def database_drop(name: str) -> None:
    _run(["dropdb", "--if-exists", "--force", name], env=_pg_env(), what="dropdb")


def copy_verify(name: str) -> CopyVerification:
    """`manage.py verify_ledger` run against database `name`, in a process of its own."""
    env = dict(os.environ, DATABASE_URL=database_url(name))
    done = subprocess.run(
        [sys.executable, str(MANAGE), "verify_ledger"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    match = _VERIFIED.search(done.stdout)
    if done.returncode != 0 or match is None:
        return CopyVerification(False, output, None)
    return CopyVerification(True, output, ChainHead(int(match[1]), match[2]))


def drill_compare(*, source: ChainHead, copy: CopyVerification) -> DrillResult:
    """The verdict: the copy's ledger verifies, and its chain ends where the source's did."""
    if not copy.ok or copy.chain is None:
        last = copy.output.splitlines()[-1] if copy.output else "no output"
        return DrillResult(False, source, copy, f"the restored ledger does not verify: {last}")
    if copy.chain.transactions != source.transactions:
        return DrillResult(
            False,
            source,
            copy,
            f"the restored ledger has {copy.chain.transactions} transactions, "
            f"the source {source.transactions}",
        )
    if source.transactions and copy.chain.head != source.head:
        return DrillResult(
            False,
            source,
            copy,
            f"the restored hash-chain head {copy.chain.head} differs from the source's",
        )
    return DrillResult(True, source, copy)


def copy_check(*, name: str, source: ChainHead) -> DrillResult:
    """Verify the ledger of database `name` and compare it with the source's head."""
    return drill_compare(source=source, copy=copy_verify(name))


def restore_drill(*, keep: bool = False, log=print) -> DrillResult:
    """The whole drill (see the module's docstring); the scratch database is dropped at the end
    unless `keep`."""
    name = scratch_name()
    with tempfile.TemporaryDirectory(prefix="restore-drill-") as tmp:
        dump = Path(tmp) / "source.dump"
        source = source_dump(dump)
        log(
            f"dumped {_db()['NAME']} ({dump.stat().st_size} bytes); source head: "
            f"{source.transactions} transactions, {source.head or '-'}"
        )
        try:
            database_restore(dump, name)
            log(f"restored into {name}")
            result = copy_check(name=name, source=source)
        finally:
            if keep:
                log(f"kept {name}")
            else:
                database_drop(name)
                log(f"dropped {name}")
    return result
