"""Every admin action names the permission it needs, and every custom admin view (get_urls)
refuses a staff user who lacks it."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import make_user
from tests.staff.conftest import staff_client

pytestmark = pytest.mark.django_db

DUMMY = {"int": "1", "string": "usd", "slug": "x", "path": "x"}


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_admin_action_has_allowed_permissions():
    missing = []
    for model, model_admin in _registered():
        for func, name, _description in model_admin._get_base_actions():
            permissions = getattr(func, "allowed_permissions", None)
            if not permissions:
                missing.append(f"{model._meta.label}.{name}")
                continue
            for permission in permissions:
                assert callable(
                    getattr(model_admin, f"has_{permission}_permission", None)
                ), f"{model._meta.label}.{name} names {permission!r}, which has no check"
    assert missing == []


def _custom_urls():
    for model, model_admin in _registered():
        standard = {p.name for p in admin.ModelAdmin.get_urls(model_admin)}
        for pattern in model_admin.get_urls():
            if getattr(pattern, "name", None) and pattern.name not in standard:
                kwargs = {
                    key: DUMMY.get(type(conv).__name__.replace("Converter", "").lower(), "1")
                    for key, conv in pattern.pattern.converters.items()
                }
                yield (
                    f"{model._meta.label}:{pattern.name}",
                    reverse(f"admin:{pattern.name}", kwargs=kwargs),
                )


def test_every_custom_admin_view_checks_permissions():
    client = staff_client(make_user(is_staff=True))  # staff, in no group
    allowed = {}
    for label, url in _custom_urls():
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url)
        if response.status_code != 403:
            allowed[label] = (url, response.status_code)
    assert allowed == {}
