"""The admin writes through the services only: change forms are read-only except what a service
changes, each write leaves its audit row, and what the public catalogue shows is served fresh
(the catalogue cache is invalidated)."""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from licensing.models import License
from licensing.selectors import dataset_terms
from marketplace.catalogue_cache import GENERATION_KEY
from marketplace.models import AuditEvent, Dataset, Submission
from tests.factories import make_user
from tests.licensing.conftest import publish
from tests.staff.conftest import staff_client, submission_in_review
from tests.staff.forms import change_form_data, form_fields

pytestmark = pytest.mark.django_db


def _listed() -> set[str]:
    """What an anonymous catalogue reader gets (and what the catalogue cache keeps)."""
    response = APIClient().get("/api/datasets")
    assert response.status_code == 200
    return {item["id"] for item in response.json()["items"]}


@pytest.fixture
def dataset(provider):
    return publish(provider, "Admin-edited speech")


def _url(dataset):
    return f"/admin/marketplace/dataset/{dataset.pk}/change/"


def test_dataset_form_changes_only_visibility_and_price_through_the_service(reviewer_user, dataset):
    client = staff_client(reviewer_user)
    assert form_fields(client, _url(dataset)) == {
        "visibility",
        "is_paid",
        "base_price_cents",
        "takedown_reason",
    }
    assert dataset.public_id in _listed()  # now in the catalogue cache

    data = change_form_data(
        client, _url(dataset), visibility="private", name="Renamed", slug="renamed"
    )
    assert client.post(_url(dataset), data).status_code == 302

    dataset.refresh_from_db()
    assert dataset.visibility == "private"
    assert (dataset.name, dataset.slug) == ("Admin-edited speech", "admin-edited-speech")
    event = AuditEvent.objects.get(action="dataset.listing_update", object_id=str(dataset.pk))
    assert event.actor == reviewer_user
    assert event.data["before"]["visibility"] == "public"
    assert event.data["after"]["visibility"] == "private"
    assert dataset.public_id not in _listed()  # served fresh, not from the cache


def test_dataset_price_set_in_the_admin_is_validated_like_the_datasheet(reviewer_user, dataset):
    client = staff_client(reviewer_user)
    data = change_form_data(client, _url(dataset), is_paid=True, base_price_cents="10")
    page = client.post(_url(dataset), data)
    assert page.status_code == 200
    assert "must be between 50 and" in page.content.decode()
    dataset.refresh_from_db()
    assert not dataset.is_paid and dataset.base_price_cents is None
    assert not AuditEvent.objects.filter(action="dataset.listing_update").exists()

    data = change_form_data(client, _url(dataset), is_paid=True, base_price_cents="1500")
    assert client.post(_url(dataset), data).status_code == 302
    dataset.refresh_from_db()
    assert dataset.is_paid and dataset.base_price_cents == 1500
    listed = APIClient().get(f"/api/datasets/{dataset.public_id}").json()
    assert listed["pricing"]["basePriceCents"] == 1500


def test_takedown_with_a_reason_goes_through_dataset_remove(reviewer_user, dataset):
    client = staff_client(reviewer_user)
    assert dataset.public_id in _listed()
    data = change_form_data(client, _url(dataset), takedown_reason="Consent withdrawn")
    assert client.post(_url(dataset), data).status_code == 302

    dataset.refresh_from_db()
    assert dataset.removed_at is not None and dataset.removal_reason == "Consent withdrawn"
    event = AuditEvent.objects.get(action="dataset.remove", object_id=str(dataset.pk))
    assert event.actor == reviewer_user and event.data == {"reason": "Consent withdrawn"}
    assert dataset.public_id not in _listed()
    assert APIClient().get(f"/api/datasets/{dataset.public_id}").status_code == 410
    # A removed dataset's page has nothing left to change.
    assert form_fields(client, _url(dataset)) == set()


def test_takedown_needs_the_takedown_permission(dataset):
    editor = make_user(is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="marketplace", codename__in=["view_dataset", "change_dataset"]
        )
    )
    client = staff_client(editor)
    assert "takedown_reason" not in form_fields(client, _url(dataset))
    data = change_form_data(client, _url(dataset))
    data["takedown_reason"] = "Not allowed to"
    assert client.post(_url(dataset), data).status_code == 302
    dataset.refresh_from_db()
    assert dataset.removed_at is None
    assert not AuditEvent.objects.filter(action="dataset.remove").exists()


def test_review_note_goes_through_the_review_service_and_is_the_rejection_reason(
    reviewer_user, provider
):
    submission = submission_in_review(provider.secret)
    client = staff_client(reviewer_user)
    url = f"/admin/marketplace/submission/{submission.pk}/change/"
    assert form_fields(client, url) == {"review_note"}

    data = change_form_data(client, url, review_note="The consent forms are missing.", name="X")
    assert client.post(url, data).status_code == 302
    submission.refresh_from_db()
    assert submission.review_note == "The consent forms are missing."
    assert submission.name == "Reviewed speech"
    event = AuditEvent.objects.get(action="submission.review_note")
    assert event.actor == reviewer_user and event.object_id == str(submission.pk)

    response = client.post(
        "/admin/marketplace/submission/",
        {"action": "reject", "_selected_action": [submission.pk]},
    )
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert AuditEvent.objects.get(action="submission.reject").data == {
        "reason": "The consent forms are missing."
    }
    # Decided: the note is kept as it was decided, read-only.
    assert form_fields(client, url) == set()


def test_license_flags_change_through_the_service(reviewer_user, provider):
    dataset = publish(provider, "Licensed speech")
    license = License.objects.get(organization__isnull=True, identifier="CC-BY-4.0")
    terms_before = dataset_terms(dataset).hash
    generation = cache.get(GENERATION_KEY)
    client = staff_client(reviewer_user)
    url = f"/admin/licensing/license/{license.pk}/change/"
    assert form_fields(client, url) == {
        "commercial_use",
        "derivatives",
        "model_training",
        "share_alike",
        "attribution",
        "notes",
        "reviewed",
    }
    data = change_form_data(client, url, model_training=not license.model_training, name="x")
    assert client.post(url, data).status_code == 302

    license.refresh_from_db()
    event = AuditEvent.objects.get(action="license.flags_set", object_id=str(license.pk))
    assert event.actor == reviewer_user
    assert set(event.data["after"]) == {"model_training"}
    assert license.name != "x"
    assert dataset_terms(Dataset.objects.get(pk=dataset.pk)).hash != terms_before
    assert cache.get(GENERATION_KEY) != generation


# What a change form may edit, per model (everything else is read-only or has no change form).
# The user admin is Django's own (superusers manage staff accounts and groups there).
EDITABLE = {
    "marketplace.dataset": {"visibility", "is_paid", "base_price_cents", "takedown_reason"},
    "marketplace.organization": set(),
    # A takedown notice's decision, made by takedown_notice_accept / takedown_notice_reject.
    "marketplace.takedownnotice": {"decision", "reason"},
    "licensing.license": {
        "commercial_use",
        "derivatives",
        "model_training",
        "share_alike",
        "attribution",
        "notes",
        "reviewed",
    },
}
OUR_APPS = {"marketplace", "contributors", "licensing", "payouts"}


def test_no_change_form_edits_more_than_its_services_change(rf, superuser):
    from django.contrib import admin

    request = rf.get("/admin/")
    request.user = superuser
    wider = {}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if model._meta.app_label not in OUR_APPS or label == "marketplace.user":
            continue
        if not model_admin.has_change_permission(request):
            continue
        fields = set(model_admin.get_form(request, None, change=True).base_fields)
        if not fields <= EDITABLE.get(label, set()):
            wider[label] = fields - EDITABLE.get(label, set())
    assert wider == {}
