from django.core.management.base import BaseCommand, CommandError

from marketplace.actors import NotAMember, actor_for_member
from marketplace.models import Organization, User
from marketplace.services.identity import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a member of an organisation and print the secret (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--user", required=True, help="username (must be a member)")
        parser.add_argument("--name", default="")

    def handle(self, *args, org, user, name, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organisation with slug {org!r}.")
        member = User.objects.filter(username=user).first()
        if member is None:
            raise CommandError(f"No user {user!r}.")
        try:
            actor = actor_for_member(user=member, organization=organization)
        except NotAMember as exc:
            raise CommandError(str(exc)) from exc
        issued = api_key_create(actor=actor, name=name)
        self.stdout.write(issued.secret)
