from django.core.management.base import BaseCommand, CommandError

from marketplace.models import User
from marketplace.services.identity import (
    organization_create,
    organization_decide_upload_access,
    user_create,
)


class Command(BaseCommand):
    help = "Create an organisation owned by a user (created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="username of the owner")
        parser.add_argument("--email", default="")
        parser.add_argument("--slug", default=None)
        parser.add_argument(
            "--approve-uploads", action="store_true", help="grant upload access now"
        )

    def handle(self, *args, name, owner, email, slug, approve_uploads, **options):
        if not name.strip():
            raise CommandError("The organisation name must not be empty.")
        user = User.objects.filter(username=owner).first() or user_create(
            username=owner, email=email
        )
        org = organization_create(name=name.strip(), owner=user, slug=slug)
        if approve_uploads:
            organization_decide_upload_access(organization=org, approve=True, actor=None)
        self.stdout.write(f"organization {org.slug} (id {org.pk}) owned by {user.username}")
