import redis
from django.core.management.base import BaseCommand, CommandError

from marketplace.observability.business import ledger_verification_record
from marketplace.observability.restore import DrillError, restore_drill


class Command(BaseCommand):
    help = (
        "Restore drill: pg_dump this database, restore it into a scratch database, run "
        "verify_ledger there and compare the hash-chain head with the source's. Exits non-zero "
        "when the copy does not verify or does not match; the scratch database is dropped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--keep", action="store_true", help="keep the scratch database (for inspection)"
        )

    def handle(self, *args, keep=False, **options):
        try:
            result = restore_drill(keep=keep, log=self.stdout.write)
        except DrillError as exc:
            raise CommandError(f"restore drill FAILED: {exc}") from exc
        if result.copy.output:
            self.stdout.write(f"verify_ledger on the copy: {result.copy.output.splitlines()[-1]}")
        try:  # for the dc_ledger_verification_* gauges; the drill's verdict stands without
            ledger_verification_record(
                ok=result.ok,
                transactions=result.source.transactions,
                head=result.source.head,
                source="restore_drill",
            )
        except redis.RedisError as exc:
            self.stderr.write(f"the result was not recorded for the metrics: {exc}")
        if not result.ok:
            raise CommandError(str(result))
        self.stdout.write(self.style.SUCCESS(str(result)))
