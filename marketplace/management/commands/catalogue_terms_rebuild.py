from django.core.management.base import BaseCommand, CommandError

from marketplace.services.word_index import word_index_drift, word_index_rebuild


class Command(BaseCommand):
    help = (
        "Refill the catalogue's word index (one-word searches) from the dataset table, e.g. "
        "after a bulk load that bypassed its trigger; --check only compares and fails on drift."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="compare only; exit 1 if out of step"
        )

    def handle(self, *args, check: bool = False, **options):
        if not check:
            written = word_index_rebuild()
            self.stdout.write(f"word index rebuilt: {written} rows")
        drift = word_index_drift()
        self.stdout.write(
            f"word index: {drift.missing} missing, {drift.extra} extra, "
            f"{drift.wrong_counts} wrong counts"
        )
        if not drift.in_step:
            raise CommandError("the word index is out of step with the dataset table")
