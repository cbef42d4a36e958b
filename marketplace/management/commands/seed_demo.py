"""Idempotent demo data: a staff admin, a provider organisation approved for uploads and a buyer
organisation, each owner with a web sign-in (e-mail verified, password) and an API key, and three published demo datasets (public free, restricted,
paid); credentials and dataset ids written to var/demo.env as KEY=value lines.

Secrets cannot be read back from the database (keys are hashed), so a re-run reuses the values in
the existing demo.env when they still work and issues new ones otherwise."""

import secrets
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from marketplace.actors import actor_for_key, actor_for_member
from marketplace.demo_data import demo_datasets_ensure
from marketplace.models import ApiKey, Organization, User
from marketplace.services.identity import (
    api_key_create,
    api_key_hash,
    api_key_parse,
    organization_create,
    organization_decide_upload_access,
    user_create,
)

ADMIN = "admin"


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, _, v = line.partition("=")
                values[k.strip()] = v.strip()
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    tmp.chmod(0o600)
    tmp.replace(path)


def _web_login_ensure(user: User, password: str | None) -> str:
    """A password the web sign-in accepts (the previous one when it still works) and the user's
    e-mail address verified, so the demo users can sign in at /accounts/login/ at once."""
    if not password or not user.check_password(password):
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return password


def _valid_key(raw: str | None, org: Organization) -> bool:
    parsed = api_key_parse(raw or "")
    if not parsed:
        return False
    key = ApiKey.objects.filter(prefix=parsed[0], organization=org, revoked_at__isnull=True).first()
    return key is not None and key.key_hash == api_key_hash(raw)


class Command(BaseCommand):
    help = "Create or refresh the demo data and write var/demo.env."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "var" / "demo.env"))

    def handle(self, *args, output, **options):
        path = Path(output)
        previous = read_env_file(path)
        values: dict[str, str] = {"MDC_API_URL": f"{settings.PUBLIC_BASE_URL}/api"}
        with transaction.atomic():
            values.update(self._identities(previous))
        values.update(self.extra_demo_values(previous, values))
        write_env_file(path, values)
        self.stdout.write(f"demo data ready; credentials in {path}")

    def _identities(self, previous: dict[str, str]) -> dict[str, str]:
        out = {}
        admin = User.objects.filter(username=ADMIN).first()
        password = previous.get("DEMO_ADMIN_PASSWORD")
        if admin is None:
            password = password or secrets.token_urlsafe(12)
            admin = user_create(
                username=ADMIN, email="admin@example.com", password=password, is_staff=True
            )
        elif not password or not admin.check_password(password):
            password = secrets.token_urlsafe(12)
            admin.set_password(password)
            admin.save(update_fields=["password"])
        out["DEMO_ADMIN_USERNAME"] = ADMIN
        out["DEMO_ADMIN_PASSWORD"] = password

        for role, org_name, slug, username in (
            ("PROVIDER", "Demo Voices Provider", "demo-provider", "provider"),
            ("BUYER", "Demo Buyer Lab", "demo-buyer", "buyer"),
        ):
            user = User.objects.filter(username=username).first() or user_create(
                username=username, email=f"{username}@example.com"
            )
            out[f"DEMO_{role}_EMAIL"] = user.email
            out[f"DEMO_{role}_PASSWORD"] = _web_login_ensure(
                user, previous.get(f"DEMO_{role}_PASSWORD")
            )
            org = Organization.objects.filter(slug=slug).first() or organization_create(
                name=org_name, owner=user, slug=slug
            )
            if role == "PROVIDER" and org.upload_access != Organization.UploadAccess.APPROVED:
                organization_decide_upload_access(organization=org, approve=True, actor=admin)
            var = f"DEMO_{role}_API_KEY"
            raw = previous.get(var)
            if not _valid_key(raw, org):
                raw = api_key_create(
                    actor=actor_for_member(user=user, organization=org), name="demo"
                ).secret
            out[var] = raw
        return out

    def extra_demo_values(self, previous: dict[str, str], values: dict[str, str]) -> dict[str, str]:
        """Demo datasets (public free, restricted, paid), published through the services."""
        prefix = api_key_parse(values["DEMO_PROVIDER_API_KEY"])[0]
        provider_key = ApiKey.objects.select_related("organization", "user").get(prefix=prefix)
        reviewer = User.objects.get(username=ADMIN)
        out = demo_datasets_ensure(provider=actor_for_key(provider_key), reviewer=reviewer)
        # So a client can confirm a PaymentIntent with a test card, as Stripe.js would.
        out["STRIPE_API_BASE"] = settings.STRIPE_API_BASE
        out["STRIPE_SECRET_KEY"] = settings.STRIPE_SECRET_KEY
        return out
