"""The provider workspace in the browser (Django test client): the organisation's datasets (list
with counts, the dataset as buyers see it with its download history, the auto-approve setting)
and the access-requests inbox (tabs, approve, reject with a reason, change a decision, the
requests sent). Another organisation's objects are 404; lists run in constant queries."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from licensing.models import AccessRequest, DownloadSession
from licensing.selectors import dataset_terms
from marketplace.models import AuditEvent, Submission
from marketplace.pricing import pricing_object
from tests.factories import MembershipFactory
from tests.licensing.conftest import accept_terms, publish
from tests.parties import party
from web.amounts import cents_text

pytestmark = pytest.mark.django_db

ASK = {"name": "Ada Lovelace", "organizationName": "Analytical Lab", "intendedUse": "ASR research"}
SDK_UA = "datacollective-python/0.7.0 (Python 3.11.7; Linux) source function: download_dataset"


def ask(who, dataset, **body):
    response = who.client.post(
        f"/api/datasets/{dataset.public_id}/access-requests", {**ASK, **body}, format="json"
    )
    assert response.status_code in (200, 201), response.json()
    return AccessRequest.objects.get(public_id=response.json()["id"])


def browser(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def text(html: str) -> str:
    """The page's words without tags and with single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def row_with(html: str, needle: str) -> str:
    """The words of the table row that contains `needle`."""
    rows = [r for r in html.split("<tr") if needle in r]
    assert len(rows) == 1, f"{len(rows)} rows with {needle!r}"
    return text(rows[0].split("</tr>")[0])


def numbers_in_row(html: str, needle: str) -> list[str]:
    """The numbers of the row's right-aligned cells (pending requests, downloads)."""
    [row] = [r.split("</tr>")[0] for r in html.split("<tr") if needle in r]
    return re.findall(r'<td class="number">(?:<a [^>]*>)?(\d+)', row)


def card_of(html: str, access_request: AccessRequest) -> str:
    """The HTML of one request's card on the inbox page."""
    start = html.index(f'<article id="ar-{access_request.public_id}"')
    return html[start : html.index("</article>", start)]


def count_queries(client: Client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def restricted(provider):
    return publish(provider, "Clinic dialogues", visibility="restricted")


# --- datasets --------------------------------------------------------------------------------


def test_list_shows_each_dataset_with_version_price_and_counts(provider, buyer, restricted):
    paid = publish(provider, "Paid speech", isPaid=True, basePriceCents=1_000)
    other = party(uploads=True)
    publish(other, "Someone else's speech")
    ask(buyer, restricted)
    provider.client.post(f"/api/datasets/{restricted.public_id}/download", HTTP_USER_AGENT=SDK_UA)

    response = browser(provider.user).get("/organization/datasets")
    assert response.status_code == 200
    html = response.content.decode()
    row = row_with(html, "Clinic dialogues")
    assert restricted.slug in row and "v1" in row and "Restricted" in row and "Free" in row
    assert numbers_in_row(html, "Clinic dialogues") == ["1", "1"]  # pending requests, downloads
    paid_row = row_with(html, "Paid speech")
    total = pricing_object(is_paid=True, base_price_cents=1_000)["totalPriceCents"]
    # Amounts as people read them (the exact cents in the `data` element's value).
    assert f"{cents_text(total, 'usd')} (base 10.00 )" in paid_row and "Public" in paid_row
    assert f'<data value="{total}" class="amount">' in html
    assert numbers_in_row(html, "Paid speech") == ["0", "0"]
    assert f"/organization/datasets/{paid.public_id}" in html
    assert "Someone else" not in html


def test_list_queries_do_not_grow_with_datasets_requests_and_downloads(provider, buyer):
    client = browser(provider.user)
    first_dataset = publish(provider, "First", visibility="restricted")
    count_queries(client, "/organization/datasets")  # the first visit stores the organisation
    one = count_queries(client, "/organization/datasets")
    for name in ("Second", "Third"):
        dataset = publish(provider, name, visibility="restricted")
        ask(buyer, dataset)
        provider.client.post(f"/api/datasets/{dataset.public_id}/download")
    ask(buyer, first_dataset)
    assert count_queries(client, "/organization/datasets") == one


def test_detail_shows_the_dataset_as_buyers_see_it_and_who_downloaded_it(provider, buyer):
    dataset = publish(
        provider,
        "Clinic dialogues",
        visibility="restricted",
        shortDescription="Doctor and patient dialogues",
        longDescription="Two hundred hours of consultations, consented.",
        restrictions="Non-commercial research only.",
    )
    request = ask(buyer, dataset)
    browser(provider.user).post(
        f"/organization/access-requests/{request.public_id}/decide",
        {f"{request.public_id}-decision": "approve"},
    )
    accept_terms(buyer, dataset)
    buyer.client.post(f"/api/datasets/{dataset.public_id}/download", HTTP_USER_AGENT=SDK_UA)
    provider.client.post(f"/api/datasets/{dataset.public_id}/download", HTTP_USER_AGENT="curl/8")
    owner = browser(provider.user)
    owner.post(f"/api/datasets/{dataset.public_id}/download", HTTP_USER_AGENT="Mozilla/5.0")

    response = owner.get(f"/organization/datasets/{dataset.public_id}")
    assert response.status_code == 200
    html = response.content.decode()
    words = text(html)
    assert "Doctor and patient dialogues" in words and "Two hundred hours" in words
    assert "Commercial use not allowed (narrowed by your datasheet)" in words
    assert "Model training allowed" in words and "Attribution required" in words
    assert dataset_terms(dataset).hash in html
    assert f'href="/datasets/{dataset.public_id}/terms"' in html
    assert "Free: buyers only accept the terms." in words
    version = dataset.latest_version
    assert version.sha256 in html and f"({version.size_bytes} bytes)" in words

    assert "3 downloads handed out" in words
    sdk = row_with(html, "Python SDK (download_dataset)")
    assert buyer.org.name in sdk and buyer.user.email in sdk and "v1" in sdk
    assert provider.user.email in row_with(html, "Browser")
    assert provider.org.name in row_with(html, "<td>API</td>")
    assert "Approve access requests automatically" in words


def test_detail_shows_the_buyers_total_with_the_fee(provider):
    dataset = publish(provider, "Paid speech", isPaid=True, basePriceCents=1_000)
    pricing = pricing_object(is_paid=True, base_price_cents=1_000)
    words = text(
        browser(provider.user).get(f"/organization/datasets/{dataset.public_id}").content.decode()
    )
    total, fee = pricing["totalPriceCents"], pricing["platformFeeCents"]
    # (`text` leaves a space where each amount's element closes.)
    assert f"Buyers pay {cents_text(total, 'usd')} : your base price of 10.00 USD ," in words
    assert f"platform fee of {cents_text(fee, 'usd')}" in words
    # Public: no access requests, so no auto-approve setting.
    assert "Public datasets take no access requests" in words
    assert "Approve access requests automatically" not in words


def test_download_history_is_paged(provider):
    dataset = publish(provider, "Popular")
    for _ in range(26):
        provider.client.post(f"/api/datasets/{dataset.public_id}/download")
    client = browser(provider.user)
    first = client.get(f"/organization/datasets/{dataset.public_id}").content.decode()
    assert "26 downloads handed out" in text(first) and "Page 1 of 2" in text(first)
    assert first.count("<td>API</td>") == 25 and 'href="?page=2"' in first
    second = client.get(f"/organization/datasets/{dataset.public_id}?page=2").content.decode()
    assert second.count("<td>API</td>") == 1 and "Page 2 of 2" in text(second)
    assert DownloadSession.objects.filter(dataset=dataset).count() == 26


def test_another_organisations_dataset_is_404(provider, restricted):
    other = party(uploads=True)
    stranger = browser(other.user)
    assert stranger.get(f"/organization/datasets/{restricted.public_id}").status_code == 404
    assert stranger.get(f"/organization/datasets/{restricted.slug}").status_code == 404
    refused = stranger.post(
        f"/organization/datasets/{restricted.public_id}/access-settings", {"auto_approve": "on"}
    )
    assert refused.status_code == 404
    assert not restricted.latest_version.submission.auto_approve_access_requests
    assert stranger.get("/organization/datasets/dsunknown0000000000000").status_code == 404


def test_auto_approve_toggle_applies_to_new_requests(provider, buyer, restricted):
    submission = restricted.latest_version.submission
    pending = ask(buyer, restricted)
    member = MembershipFactory(organization=provider.org).user
    client = browser(member)  # any member may, as any member may decide on a request
    url = f"/organization/datasets/{restricted.public_id}/access-settings"
    response = client.post(url, {"auto_approve": "on"})
    assert response.status_code == 302
    assert "approved automatically" in text(client.get(response["Location"]).content.decode())
    assert Submission.objects.get(pk=submission.pk).auto_approve_access_requests is True
    event = AuditEvent.objects.get(action="dataset.access_settings_update")
    assert event.actor == member and event.data["autoApproveAccessRequests"] is True

    assert ask(party(), restricted).status == AccessRequest.Status.APPROVED
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING

    client.post(url, {})  # unticked: off again
    assert Submission.objects.get(pk=submission.pk).auto_approve_access_requests is False
    assert ask(party(), restricted).status == AccessRequest.Status.PENDING


def test_auto_approve_is_refused_on_a_public_dataset_next_to_the_field(provider):
    dataset = publish(provider, "Open speech")
    response = browser(provider.user).post(
        f"/organization/datasets/{dataset.public_id}/access-settings", {"auto_approve": "on"}
    )
    assert response.status_code == 400
    assert re.search(
        r'class="field-error"[^>]*>only applies to restricted datasets', response.content.decode()
    )
    assert not dataset.latest_version.submission.auto_approve_access_requests
    assert not AuditEvent.objects.filter(action="dataset.access_settings_update").exists()


# --- the access-requests inbox ----------------------------------------------------------------


@pytest.fixture
def three_requests(provider, restricted):
    """One pending, one approved, one rejected (with a reason) request, from three buyers."""
    owner = browser(provider.user)
    pending = ask(party(), restricted, name="Pat Pending")
    approved = ask(party(), restricted, name="Abe Approved")
    rejected = ask(party(), restricted, name="Rex Rejected")
    for request, body in ((approved, {"decision": "approve"}), (rejected, {"decision": "reject"})):
        owner.post(
            f"/organization/access-requests/{request.public_id}/decide",
            {f"{request.public_id}-{k}": v for k, v in {**body, "reason": "Because."}.items()},
        )
    return pending, approved, rejected


def test_inbox_tabs_filter_by_status_and_work_without_javascript(provider, three_requests):
    pending, approved, rejected = three_requests
    client = browser(provider.user)
    default = text(client.get("/organization/access-requests").content.decode())
    assert "Pat Pending" in default and "Abe" not in default and "Rex" not in default
    assert "Pending (1)" in default and "Approved (1)" in default and "All (3)" in default
    assert "ASR research" in default and "Analytical Lab" in default

    html = client.get("/organization/access-requests?status=approved").content.decode()
    assert "Abe Approved" in html and "Pat" not in html
    assert 'href="?direction=received&amp;status=approved" aria-current="page"' in html
    rejected_page = client.get("/organization/access-requests?status=rejected").content.decode()
    card = card_of(rejected_page, rejected)
    assert "Reason given" in card and "Because." in card and "status-rejected" in card
    assert ">Approve<" in card and ">Reject<" not in card  # the decision can be changed
    everything = client.get("/organization/access-requests?status=all").content.decode()
    assert all(r.public_id in everything for r in three_requests)
    # An unknown filter is the default view.
    assert "Pat Pending" in client.get("/organization/access-requests?status=nope").content.decode()

    # htmx swaps only the list.
    partial = client.get(
        "/organization/access-requests?status=approved",
        headers={"HX-Request": "true", "HX-Target": "inbox"},
    ).content.decode()
    assert partial.startswith('<div id="inbox">') and "<html" not in partial
    assert "Abe Approved" in partial


def test_reject_without_a_reason_shows_the_error_and_changes_nothing(provider, restricted):
    request = ask(party(), restricted)
    mail.outbox.clear()
    client = browser(provider.user)
    url = f"/organization/access-requests/{request.public_id}/decide?status=pending"
    response = client.post(url, {f"{request.public_id}-decision": "reject"})
    assert response.status_code == 400
    card = card_of(response.content.decode(), request)
    assert re.search(
        r'class="field-error" id="id_[^"]+-reason_error"[^>]*>[^<]*needs a reason', card
    )
    assert AccessRequest.objects.get(pk=request.pk).status == AccessRequest.Status.PENDING
    assert not AuditEvent.objects.filter(action="access_request.reject").exists()
    assert mail.outbox == []

    # The same through htmx: the card comes back (200, so htmx swaps it) with the error.
    swapped = client.post(
        url, {f"{request.public_id}-decision": "reject"}, headers={"HX-Request": "true"}
    )
    assert swapped.status_code == 200 and "<html" not in swapped.content.decode()
    assert "needs a reason" in swapped.content.decode()


def test_reject_with_a_reason_then_change_the_decision(
    provider, restricted, django_capture_on_commit_callbacks
):
    requester = party()
    request = ask(requester, restricted)
    mail.outbox.clear()
    client = browser(provider.user)
    url = f"/organization/access-requests/{request.public_id}/decide?status=pending"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                f"{request.public_id}-decision": "reject",
                f"{request.public_id}-reason": "Too vague.",
            },
        )
    assert response.status_code == 302
    assert response["Location"] == "/organization/access-requests?status=pending"
    assert "Rejected:" in text(client.get(response["Location"]).content.decode())
    request.refresh_from_db()
    assert request.status == "rejected" and request.reason == "Too vague."
    assert request.decided_by == provider.user
    [message] = mail.outbox
    assert message.to == [requester.user.email] and "not approved" in message.subject
    assert "Too vague." in message.body

    # Change the decision, through htmx this time: the card comes back approved.
    with django_capture_on_commit_callbacks(execute=True):
        swapped = client.post(
            url, {f"{request.public_id}-decision": "approve"}, headers={"HX-Request": "true"}
        )
    assert swapped.status_code == 200
    card = swapped.content.decode()
    assert card.startswith(f'<article id="ar-{request.public_id}"')
    assert "status-approved" in card and 'role="status"' in card and "Approved:" in card
    request.refresh_from_db()
    assert request.status == "approved" and request.reason == ""
    assert mail.outbox[-1].subject.endswith("was approved")
    assert list(
        AuditEvent.objects.filter(object_type="licensing.accessrequest")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["access_request.create", "access_request.reject", "access_request.approve"]


def test_decisions_need_the_csrf_token(provider, restricted):
    request = ask(party(), restricted)
    client = browser(provider.user, enforce_csrf_checks=True)
    response = client.post(
        f"/organization/access-requests/{request.public_id}/decide",
        {f"{request.public_id}-decision": "approve"},
    )
    assert response.status_code == 403
    settings_post = client.post(
        f"/organization/datasets/{restricted.public_id}/access-settings", {"auto_approve": "on"}
    )
    assert settings_post.status_code == 403
    assert AccessRequest.objects.get(pk=request.pk).status == AccessRequest.Status.PENDING
    # The page's forms carry the token.
    page = client.get("/organization/access-requests").content.decode()
    assert card_of(page, request).count('name="csrfmiddlewaretoken"') == 1


def test_members_decide_like_owners(provider, restricted):
    """access_request_decide lets any member of the publishing organisation decide."""
    request = ask(party(), restricted)
    member = MembershipFactory(organization=provider.org).user
    response = browser(member).post(
        f"/organization/access-requests/{request.public_id}/decide",
        {f"{request.public_id}-decision": "approve"},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == member


def test_sent_requests_are_read_only_and_others_are_404(provider, buyer, restricted):
    request = ask(buyer, restricted)
    browser(provider.user).post(
        f"/organization/access-requests/{request.public_id}/decide",
        {f"{request.public_id}-decision": "reject", f"{request.public_id}-reason": "Not now."},
    )
    client = browser(buyer.user)
    html = client.get("/organization/access-requests?direction=sent").content.decode()
    card = card_of(html, request)
    assert "Clinic dialogues" in card and provider.org.name in card
    assert "status-rejected" in card and "Not now." in card and "<form" not in card
    # Nothing received: the default tab is empty.
    assert request.public_id not in client.get("/organization/access-requests").content.decode()

    # The requester cannot decide its own request (the service says why); nothing changes.
    refused = client.post(
        f"/organization/access-requests/{request.public_id}/decide",
        {f"{request.public_id}-decision": "approve"},
    )
    assert refused.status_code == 400
    assert "Only the organisation that publishes the dataset" in refused.content.decode()
    # A third organisation does not see it at all.
    stranger = browser(party().user).post(
        f"/organization/access-requests/{request.public_id}/decide",
        {f"{request.public_id}-decision": "approve"},
    )
    assert stranger.status_code == 404
    assert AccessRequest.objects.get(pk=request.pk).status == AccessRequest.Status.REJECTED


@pytest.mark.parametrize("direction", ["received", "sent"])
def test_inbox_queries_do_not_grow_with_requests(provider, direction):
    """1 request, then 5 (each for another dataset: its own dataset, organisation and user)."""
    datasets = [publish(provider, f"Restricted {n}", visibility="restricted") for n in range(5)]
    requester = party()
    client = browser(provider.user if direction == "received" else requester.user)
    url = f"/organization/access-requests?direction={direction}&status=all"
    ask(requester, datasets[0])
    count_queries(client, url)  # the first visit stores the organisation
    one = count_queries(client, url)
    for dataset in datasets[1:]:
        ask(requester, dataset)
    html = client.get(url).content.decode()
    assert all(d.name in html for d in datasets)
    assert count_queries(client, url) == one
    assert count_queries(client, url, **{"HX-Request": "true", "HX-Target": "inbox"}) < one
