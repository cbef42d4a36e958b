from django.core.management.base import BaseCommand, CommandError

from payouts.services.verify import ledger_verify


class Command(BaseCommand):
    help = (
        "Recompute the ledger's hash chain and balances; print `ledger OK: N transactions, "
        "head <hash>` or report the first mismatch and exit non-zero."
    )

    def handle(self, *args, **options):
        result = ledger_verify()
        if not result.ok:
            raise CommandError(str(result))
        self.stdout.write(str(result))
