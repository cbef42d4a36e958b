"""Access-request e-mails: the dataset organisation's owners hear of each new request (not of one
asked again), the person who asked hears of each decision that changes something. Sent by tasks
enqueued after commit; a task whose decision was changed since sends nothing."""

import pytest
from django.core import mail

from licensing.models import AccessRequest
from licensing.services.access_requests import access_request_create, access_request_decide
from licensing.tasks import access_request_decision_notify
from marketplace.actors import actor_for_member
from marketplace.models import Membership
from tests.factories import MembershipFactory
from tests.licensing.conftest import publish
from tests.parties import party

pytestmark = pytest.mark.django_db


@pytest.fixture
def restricted(provider):
    return publish(provider, "Clinic dialogues", visibility="restricted")


@pytest.fixture
def asker():
    """A plain member (not the owner) of a buyer organisation: the person who asks."""
    buyer = party()
    user = MembershipFactory(organization=buyer.org, user__email="ada@lab.example").user
    return actor_for_member(user=user, organization=buyer.org)


def ask(actor, dataset, *, capture, intended_use="ASR research on clinical speech"):
    with capture(execute=True):
        return access_request_create(
            actor=actor,
            dataset=dataset,
            name="Ada Lovelace",
            organization_name="Analytical Lab",
            intended_use=intended_use,
        )


def decide(actor, request, *, capture, approve, reason=""):
    with capture(execute=True):
        return access_request_decide(
            actor=actor, access_request=request, approve=approve, reason=reason
        )


def test_owners_are_emailed_each_new_request_not_a_renewed_one(
    provider, restricted, asker, django_capture_on_commit_callbacks
):
    second_owner = MembershipFactory(
        organization=provider.org, role=Membership.Role.OWNER, user__email="bo@provider.example"
    ).user
    MembershipFactory(organization=provider.org, user__email="member@provider.example")
    mail.outbox.clear()
    request, created = ask(asker, restricted, capture=django_capture_on_commit_callbacks)
    assert created
    [message] = mail.outbox
    assert sorted(message.to) == sorted([provider.user.email, second_owner.email])
    assert message.subject == "New access request for Clinic dialogues from Analytical Lab"
    assert "Ada Lovelace of Analytical Lab asked for access" in message.body
    assert "ASR research on clinical speech" in message.body
    assert "It waits for your decision" in message.body
    assert "/organization/access-requests?status=pending" in message.body

    # Asking again while pending, and after a rejection (reopened): no new e-mail to owners.
    ask(asker, restricted, capture=django_capture_on_commit_callbacks, intended_use="More detail")
    decide(
        provider.actor,
        request,
        capture=django_capture_on_commit_callbacks,
        approve=False,
        reason="Too vague.",
    )
    mail.outbox.clear()
    again, created = ask(asker, restricted, capture=django_capture_on_commit_callbacks)
    assert not created and again.status == AccessRequest.Status.PENDING
    assert mail.outbox == []


def test_an_auto_approved_request_is_announced_as_approved(
    provider, asker, django_capture_on_commit_callbacks
):
    dataset = publish(provider, "Open-ish", visibility="restricted", autoApproveAccessRequests=True)
    mail.outbox.clear()
    request, _ = ask(asker, dataset, capture=django_capture_on_commit_callbacks)
    assert request.status == AccessRequest.Status.APPROVED
    [message] = mail.outbox
    assert message.to == [provider.user.email]
    assert "approved already" in message.body and "?status=approved" in message.body


def test_the_requester_is_emailed_each_decision_with_the_reason(
    provider, restricted, asker, django_capture_on_commit_callbacks
):
    request, _ = ask(asker, restricted, capture=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    decide(
        provider.actor,
        request,
        capture=django_capture_on_commit_callbacks,
        approve=False,
        reason="Not a research body.",
    )
    [rejected] = mail.outbox
    assert rejected.to == ["ada@lab.example"]  # the person who asked, not their owner
    assert rejected.subject == "Your access request for Clinic dialogues was not approved"
    assert "Not a research body." in rejected.body and "ask again" in rejected.body
    assert "/organization/access-requests?direction=sent" in rejected.body

    # The same decision again changes nothing: no e-mail.
    decide(
        provider.actor,
        request,
        capture=django_capture_on_commit_callbacks,
        approve=False,
        reason="Not a research body.",
    )
    assert len(mail.outbox) == 1

    decide(provider.actor, request, capture=django_capture_on_commit_callbacks, approve=True)
    approved = mail.outbox[-1]
    assert approved.subject == "Your access request for Clinic dialogues was approved"
    assert f"/datasets/{restricted.public_id}/terms" in approved.body
    assert "Their reason" not in approved.body
    assert len(mail.outbox) == 2


def test_a_decision_changed_before_its_email_went_out_sends_nothing(
    provider, restricted, asker, django_capture_on_commit_callbacks
):
    request, _ = ask(asker, restricted, capture=django_capture_on_commit_callbacks)
    decide(provider.actor, request, capture=django_capture_on_commit_callbacks, approve=True)
    mail.outbox.clear()
    # A task for an earlier rejection that runs late: the request is approved now.
    assert access_request_decision_notify(request.pk, AccessRequest.Status.REJECTED) == 0
    assert access_request_decision_notify(request.pk, AccessRequest.Status.PENDING) == 0
    assert mail.outbox == []
    # The current decision's task, run twice (a retry), writes each time; nothing else breaks.
    assert access_request_decision_notify(request.pk, AccessRequest.Status.APPROVED) == 1
    assert access_request_decision_notify(request.pk + 10_000, "approved") == 0


def test_the_email_waits_for_the_commit(
    provider, restricted, asker, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        access_request_create(
            actor=asker,
            dataset=restricted,
            name="Ada Lovelace",
            organization_name="Analytical Lab",
            intended_use="ASR",
        )
    assert len(callbacks) == 1  # enqueued for after the commit, not sent inside it
    assert mail.outbox == []
