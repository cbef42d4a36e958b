"""Contributors without an account are invited by e-mail and claim their share."""

import re
import time

import pytest
from django.core import mail

from contributors.models import Contributor
from contributors.services.invitations import contributor_claim, invite_token_hash
from contributors.services.shares import share_table_current
from devtools.processes import free_port
from marketplace.models import AuditEvent
from tests.catalogue_helpers import api
from tests.contributors.conftest import shares_url
from tests.factories import make_key, make_user
from tests.parties import verified_address

pytestmark = pytest.mark.django_db

CLAIM_LINK = re.compile(r"(\S+/contributors/claim#token=(\S+))")


def ana_and_ben(*, ana_percent="40"):
    return {
        "basis": "percentage",
        "shares": [
            {"organization": True, "percent": str(100 - int(ana_percent) - 10)},
            {"email": "ana@example.org", "name": "Ana", "percent": ana_percent},
            {"email": "ben@example.org", "name": "Ben", "percent": "10"},
        ],
    }


def claim_link(message) -> tuple[str, str]:
    url, token = CLAIM_LINK.search(message.body).groups()
    return url, token


def invitation_to(email):
    [message] = [m for m in mail.outbox if m.to == [email]]
    return message


def test_saving_shares_invites_new_contributors_with_a_one_time_claim_link(
    owner, dataset, settings
):
    settings.PUBLIC_BASE_URL = "https://collective.example"
    response = owner.put(shares_url(dataset), ana_and_ben(), format="json")
    assert response.status_code == 200, response.json()

    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.org", "ben@example.org"]
    message = invitation_to("ana@example.org")
    assert dataset.name in message.subject
    assert dataset.organization.name in message.body
    url, token = claim_link(message)
    assert url == f"https://collective.example/contributors/claim#token={token}"
    ana = Contributor.objects.get(email="ana@example.org")
    # Only the hash of the token is stored.
    assert ana.invite_token_hash == invite_token_hash(token)
    assert token not in ana.invite_token_hash
    assert ana.invited_at is not None and ana.user is None
    assert (
        AuditEvent.objects.filter(action="contributor.invite", object_id=str(ana.pk)).count() == 1
    )


def test_a_live_invitation_is_not_sent_again(owner, dataset):
    owner.put(shares_url(dataset), ana_and_ben(), format="json")
    owner.put(shares_url(dataset), ana_and_ben(), format="json")  # identical
    owner.put(shares_url(dataset), ana_and_ben(ana_percent="50"), format="json")  # new version
    assert len(mail.outbox) == 2


def test_claim_links_the_user_and_keeps_the_payee(owner, dataset):
    owner.put(shares_url(dataset), ana_and_ben(), format="json")
    _, token = claim_link(invitation_to("ana@example.org"))
    ana = Contributor.objects.get(email="ana@example.org")
    payee_before = ana.payee.pk

    secret, key = make_key()  # Ana signs up: her own user in her own organisation
    verified_address(key.user, "ana@example.org")
    response = api(secret).post("/api/contributors/claim", {"token": token}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["email"] == "ana@example.org"
    assert response.json()["payeeId"] == str(payee_before)

    ana.refresh_from_db()
    assert ana.user_id == key.user_id
    assert ana.claimed_at is not None
    assert ana.invite_token_hash == ""
    assert ana.payee.pk == payee_before  # accrued earnings stay where they are
    assert AuditEvent.objects.filter(action="contributor.claim", actor=key.user).exists()
    assert api(secret).get("/api/contributors/me").json()["id"] == str(ana.pk)
    ana_line = owner.get(shares_url(dataset)).json()["shares"][1]
    assert (ana_line["email"], ana_line["claimed"]) == ("ana@example.org", True)

    # The token works once: again, or by anybody else, it is 404.
    again = api(secret).post("/api/contributors/claim", {"token": token}, format="json")
    assert (again.status_code, again.json()["error"]) == (404, "invitation_invalid")
    other_secret, other_key = make_key()
    verified_address(other_key.user, "ana.other@example.org")
    other = api(other_secret).post("/api/contributors/claim", {"token": token}, format="json")
    assert other.status_code == 404

    # A claimed contributor is not invited again.
    mail.outbox.clear()
    owner.put(shares_url(dataset), ana_and_ben(ana_percent="20"), format="json")
    assert [m.to for m in mail.outbox] == []


def test_unknown_token_is_404_and_missing_token_is_400(owner, dataset):
    secret, _ = make_key()
    response = api(secret).post("/api/contributors/claim", {"token": "nope"}, format="json")
    assert (response.status_code, response.json()["error"]) == (404, "invitation_invalid")
    assert api(secret).post("/api/contributors/claim", {}, format="json").status_code == 400
    assert api().post("/api/contributors/claim", {"token": "x"}, format="json").status_code == 401


def test_expired_invitation_is_410_and_the_next_save_sends_a_new_link(owner, dataset, settings):
    settings.CONTRIBUTOR_INVITE_TTL_SECONDS = 2
    owner.put(shares_url(dataset), ana_and_ben(), format="json")
    _, old_token = claim_link(invitation_to("ana@example.org"))
    time.sleep(2.1)
    secret, key = make_key()
    verified_address(key.user, "ana@example.org")
    response = api(secret).post("/api/contributors/claim", {"token": old_token}, format="json")
    assert (response.status_code, response.json()["error"]) == (410, "invitation_expired")

    mail.outbox.clear()
    owner.put(shares_url(dataset), ana_and_ben(), format="json")  # same table: still re-invites
    _, new_token = claim_link(invitation_to("ana@example.org"))
    assert new_token != old_token
    claim = api(secret).post
    assert claim("/api/contributors/claim", {"token": old_token}, format="json").status_code == 404
    assert claim("/api/contributors/claim", {"token": new_token}, format="json").status_code == 200


def test_a_user_is_at_most_one_contributor(owner, dataset):
    owner.put(shares_url(dataset), ana_and_ben(), format="json")
    _, ana_token = claim_link(invitation_to("ana@example.org"))
    _, ben_token = claim_link(invitation_to("ben@example.org"))
    secret, key = make_key()
    verified_address(key.user, "ana@example.org")
    verified_address(key.user, "ben@example.org")
    claim = api(secret).post
    assert claim("/api/contributors/claim", {"token": ana_token}, format="json").status_code == 200
    response = claim("/api/contributors/claim", {"token": ben_token}, format="json")
    assert (response.status_code, response.json()["error"]) == (409, "contributor_already_linked")
    ben = Contributor.objects.get(email="ben@example.org")
    assert ben.user is None and ben.invite_token_hash  # Ben's link still works for Ben
    key.user.emailaddress_set.filter(email="ben@example.org").delete()
    ben_user = verified_address(make_user(), "ben@example.org")
    assert contributor_claim(token=ben_token, user=ben_user).pk == ben.pk


def test_mail_server_down_leaves_no_live_invitation_and_the_next_save_sends_it(
    owner, dataset, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    response = owner.put(shares_url(dataset), ana_and_ben(), format="json")
    assert response.status_code == 200  # the table is saved whatever happens to the e-mail
    assert share_table_current(dataset).version == 1
    ana = Contributor.objects.get(email="ana@example.org")
    assert ana.invited_at is None  # not a live invitation: nobody received a link

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    owner.put(shares_url(dataset), ana_and_ben(), format="json")
    _, token = claim_link(invitation_to("ana@example.org"))
    secret, key = make_key()
    verified_address(key.user, "ana@example.org")
    assert (
        api(secret).post("/api/contributors/claim", {"token": token}, format="json").status_code
        == 200
    )
