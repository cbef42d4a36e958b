"""The parties of a test: an organisation, its owner and the owner's API key, built through the
identity services. tests/conftest.py turns them into fixtures (provider, buyer, outsider,
contributor); a test that needs one more calls `party()`."""

from dataclasses import dataclass

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
    token = invitation.body.split("/contributors/claim/")[1].split()[0]
    person = party()
    contributor_claim(token=token, user=person.user)
    return person
