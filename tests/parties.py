"""The parties of a test: an organisation, its owner and the owner's API key, built through the
identity services. tests/conftest.py turns them into fixtures (provider, buyer, outsider,
contributor); a test that needs one more calls `party()`."""

import re
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.core import mail

from contributors.models import Contributor
from contributors.services.invitations import contributor_claim, contributor_invite_send
from contributors.services.shares import share_table_set
from marketplace.actors import Actor, actor_for_key
from marketplace.models import ApiKey, Dataset, Organization, User
from tests.catalogue_helpers import api, make_archive, publish_dataset
from tests.factories import make_key


@dataclass(frozen=True)
class Party:
    """An organisation, its owner and the owner's API key."""

    secret: str
    key: ApiKey

    @property
    def org(self) -> Organization:
        return self.key.organization

    @property
    def user(self) -> User:
        return self.key.user

    @property
    def client(self):
        """A new API client that sends the owner's key."""
        return api(self.secret)

    @property
    def actor(self) -> Actor:
        """The owner acting through the key, as the API would authenticate them."""
        return actor_for_key(self.key)


# The invitation e-mail's link carries the one-time token in the fragment (security finding 7).
CLAIM_TOKEN = re.compile(r"/contributors/claim#token=([A-Za-z0-9_-]+)")


def claim_token(body: str) -> str:
    """The claim token of a contributor invitation e-mail."""
    return CLAIM_TOKEN.search(body).group(1)


def verified_address(user: User, email: str) -> User:
    """`user` has added and verified `email` (a claim needs the invited address verified)."""
    EmailAddress.objects.update_or_create(
        user=user,
        email=email,
        defaults={
            "verified": True,
            "primary": not EmailAddress.objects.filter(user=user, primary=True).exists(),
        },
    )
    return user


def party(*, uploads=False) -> Party:
    """A new organisation (approved for uploads when `uploads`) and its owner's key."""
    secret, key = make_key(uploads=uploads)
    return Party(secret, key)


def contributor_party(
    *, owner: Party, email: str = "contributor@example.org", dataset: Dataset | None = None
) -> Party:
    """A person who signed up (an organisation and key of their own) and claimed the contributor
    profile that `owner` invited by naming `email` in the share table of `dataset` (by default a
    new dataset `owner` publishes). The invitation is sent and claimed through the services, the
    way the e-mailed link does it."""
    if dataset is None:
        _sid, version = publish_dataset(
            owner.secret, name="Contributed speech", data=make_archive(2_000)
        )
        dataset = version.dataset
    share_table_set(
        actor=owner.actor,
        dataset=dataset,
        basis="weight",
        shares=[{"organization": True, "weight": 1}, {"email": email, "weight": 1}],
    )
    profile = Contributor.objects.get(email=email)
    assert contributor_invite_send(contributor_id=profile.pk, dataset_id=dataset.pk)
    invitation = [m for m in mail.outbox if m.to == [email]][-1]
    token = claim_token(invitation.body)
    person = party()
    contributor_claim(token=token, user=verified_address(person.user, email))
    return person
