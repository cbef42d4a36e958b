"""Filing a notice (API and web form): rate-limited, refused as a whole with readable errors,
only about published datasets; who sees notices and who may decide them."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from marketplace.actors import actor_for_key
from marketplace.models import AuditEvent, CounterNotice, Membership, TakedownNotice
from marketplace.services.errors import Forbidden
from marketplace.services.takedowns import counter_notice_file, takedown_notice_accept
from tests.assertions import assert_error
from tests.factories import make_key
from tests.licensing.conftest import publish
from tests.takedowns.conftest import (
    NOTICES,
    accept_in_admin,
    browser,
    file_notice,
    notice_body,
    staff_client,
)

pytestmark = pytest.mark.django_db
API = "/api/takedown-notices"


def form_data(**changes) -> dict:
    data = {
        "claimant_name": "Ada Claimant",
        "contact_email": "ada@claimant.example",
        "basis": "personal_data",
        "version": "",
        "members": "people/ada.jpg",
        "description": "A photo of me, published without my consent.",
        "good_faith": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_api_refuses_a_bad_notice_with_field_errors_and_writes_nothing(dataset):
    body = notice_body(dataset, contactEmail="not an address", description=" ", goodFaith=False)
    refused = assert_error(
        APIClient().post(API, body, format="json"), 422, "invalid_takedown_notice"
    )
    assert set(refused["fields"]) == {"contact_email", "description", "good_faith"}
    unknown_basis = APIClient().post(API, notice_body(dataset, basis="dislike"), format="json")
    assert_error(unknown_basis, 400)
    assert_error(
        APIClient().post(API, notice_body(dataset, version=7), format="json"),
        422,
        "invalid_takedown_notice",
    )
    assert (
        not TakedownNotice.objects.exists()
        and not AuditEvent.objects.filter(action="takedown_notice.file").exists()
    )


def test_only_published_listed_datasets_take_notices(provider):
    private = publish(provider, "Private speech", visibility="private")
    assert_error(APIClient().post(API, notice_body(private), format="json"), 404)
    response = APIClient().post(API, notice_body(private, dataset="no-such-dataset"), format="json")
    assert_error(response, 404)
    assert Client().get(f"/datasets/{private.slug}/takedown").status_code == 404
    assert not TakedownNotice.objects.exists()


def test_the_web_form_shows_errors_next_to_fields_and_keeps_what_was_typed(dataset):
    page = Client().get(f"/datasets/{dataset.slug}")
    assert f'href="/datasets/{dataset.slug}/takedown"' in page.content.decode()
    form = Client().get(f"/datasets/{dataset.slug}/takedown")
    assert form.status_code == 200 and "good faith" in form.content.decode()
    refused = Client().post(
        f"/datasets/{dataset.slug}/takedown",
        form_data(contact_email="nope", good_faith=None, claimant_name="Ada Typed"),
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert 'id="id_contact_email_error"' in html and 'id="id_good_faith_error"' in html
    assert 'value="Ada Typed"' in html and "A photo of me" in html
    assert not TakedownNotice.objects.exists()

    filed = Client().post(f"/datasets/{dataset.slug}/takedown", form_data())
    assert filed.status_code == 201
    notice = TakedownNotice.objects.get()
    assert notice.reference in filed.content.decode()
    assert (notice.basis, notice.member_paths, notice.version) == (
        "personal_data",
        ["people/ada.jpg"],
        None,
    )


def test_notices_are_rate_limited_per_caller_on_the_api_and_the_form(dataset, settings):
    settings.API_THROTTLE_SCOPES = {
        **settings.API_THROTTLE_SCOPES,
        "takedown_notices": {"caller": "2/hour", "ip": "100/hour"},
    }
    client = APIClient()
    for _ in range(2):
        assert client.post(API, notice_body(dataset), format="json").status_code == 201
    assert_error(client.post(API, notice_body(dataset), format="json"), 429, "throttled")
    # The web form draws on the same budget of the same caller: refused in words.
    refused = Client().post(f"/datasets/{dataset.slug}/takedown", form_data())
    assert refused.status_code == 429 and "Too many notices" in refused.content.decode()
    assert 'value="Ada Claimant"' in refused.content.decode()
    # Someone else (another address) is not affected.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.post(f"/datasets/{dataset.slug}/takedown", form_data()).status_code == 201
    assert TakedownNotice.objects.count() == 3


def test_another_organisation_sees_no_notice(provider, outsider, dataset, reviewer_user):
    notice = file_notice(dataset)
    # Not shown to the provider before staff accept it.
    owner = browser(provider.user)
    assert owner.get(f"/organization/takedowns/{notice.reference}").status_code == 404
    accept_in_admin(reviewer_user, notice)
    assert owner.get(f"/organization/takedowns/{notice.reference}").status_code == 200
    stranger = browser(outsider.user)
    assert stranger.get(f"/organization/takedowns/{notice.reference}").status_code == 404
    assert notice.reference not in stranger.get("/organization/takedowns").content.decode()
    posted = stranger.post(
        f"/organization/takedowns/{notice.reference}", {"statement": "Mine", "contact": "x"}
    )
    assert posted.status_code == 404 and not CounterNotice.objects.exists()


def test_a_plain_member_sees_but_cannot_counter_notice(provider, dataset, reviewer_user):
    notice = file_notice(dataset)
    accept_in_admin(reviewer_user, notice)
    _secret, key = make_key(org=provider.org)
    assert key.user.memberships.get().role == Membership.Role.MEMBER
    member = browser(key.user)
    assert member.get(f"/organization/takedowns/{notice.reference}").status_code == 200
    refused = member.post(
        f"/organization/takedowns/{notice.reference}", {"statement": "No", "contact": "x"}
    )
    assert refused.status_code == 403 and not CounterNotice.objects.exists()
    with pytest.raises(Forbidden):
        counter_notice_file(actor=actor_for_key(key), notice=notice, statement="No", contact="x")


def test_deciding_needs_the_takedown_permission(dataset, support_user, staff, reviewer_user):
    notice = file_notice(dataset)
    # Support staff cannot see the queue, let alone act on it.
    assert staff_client(support_user).get(NOTICES).status_code == 403
    refused = staff_client(support_user).post(
        NOTICES, {"action": "accept", "_selected_action": [notice.pk]}
    )
    assert refused.status_code == 403
    for user in (support_user, staff):
        with pytest.raises(Forbidden):
            takedown_notice_accept(notice=notice, actor=user)
    notice.refresh_from_db()
    assert notice.status == "received" and notice.dataset.removed_at is None
    # A reviewer sees the queue filtered by state, with the claimant's contact.
    queue = staff_client(reviewer_user).get(NOTICES, {"status__exact": "received"})
    assert queue.status_code == 200 and notice.reference in queue.content.decode()
    assert (
        staff_client(reviewer_user)
        .get(NOTICES, {"status__exact": "accepted"})
        .context["cl"]
        .result_count
        == 0
    )
