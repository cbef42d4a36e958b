from django.conf import settings
from django.core.management.base import BaseCommand

from marketplace.storage import storage_bootstrap


class Command(BaseCommand):
    help = "Create the bucket if missing; apply CORS, the multipart-abort lifecycle, public-access block."

    def handle(self, *args, **options):
        for line in storage_bootstrap(cors_origins=settings.STORAGE_CORS_ORIGINS):
            self.stdout.write(line)
