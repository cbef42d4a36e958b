"""dataset_access_settings_update: auto-approval of access requests turned on and off on a
published dataset (its latest version's datasheet), audited, for restricted datasets only, by
any member of the publishing organisation; another organisation's dataset is 404."""

import pytest

from marketplace.actors import actor_for_member
from marketplace.models import AuditEvent, Submission
from marketplace.services.datasets import dataset_access_settings_update
from marketplace.services.errors import Invalid, NotFound
from marketplace.services.review import dataset_remove
from tests.factories import MembershipFactory
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db


def auto_approve_of(dataset) -> bool:
    return Submission.objects.get(
        pk=dataset.latest_version.submission_id
    ).auto_approve_access_requests


def test_on_and_off_each_change_audited_once(provider):
    dataset = publish(provider, "Clinic dialogues", visibility="restricted")
    member = MembershipFactory(organization=provider.org).user
    actor = actor_for_member(user=member, organization=provider.org)
    dataset_access_settings_update(actor=actor, dataset=dataset, auto_approve=True)
    assert auto_approve_of(dataset) is True
    dataset_access_settings_update(actor=actor, dataset=dataset, auto_approve=True)  # no change
    dataset_access_settings_update(actor=provider.actor, dataset=dataset, auto_approve=False)
    assert auto_approve_of(dataset) is False
    events = list(AuditEvent.objects.filter(action="dataset.access_settings_update").order_by("pk"))
    assert [(e.actor_id, e.data["autoApproveAccessRequests"]) for e in events] == [
        (member.pk, True),
        (provider.user.pk, False),
    ]
    assert all(e.object_id == str(dataset.pk) and e.organization == provider.org for e in events)
    # The published version and its terms are untouched: still one version, still approved.
    assert dataset.versions.count() == 1
    assert Submission.objects.get(pk=dataset.latest_version.submission_id).status == "approved"


def test_only_restricted_datasets_and_only_their_organisation(provider, outsider):
    public = publish(provider, "Open speech")
    with pytest.raises(Invalid, match="only applies to restricted datasets"):
        dataset_access_settings_update(actor=provider.actor, dataset=public, auto_approve=True)
    dataset_access_settings_update(actor=provider.actor, dataset=public, auto_approve=False)
    restricted = publish(provider, "Clinic dialogues", visibility="restricted")
    with pytest.raises(NotFound):
        dataset_access_settings_update(actor=outsider.actor, dataset=restricted, auto_approve=True)
    dataset_remove(dataset=restricted, actor=None, reason="Takedown")
    with pytest.raises(Invalid, match="removed"):
        dataset_access_settings_update(actor=provider.actor, dataset=restricted, auto_approve=True)
    assert not AuditEvent.objects.filter(action="dataset.access_settings_update").exists()
