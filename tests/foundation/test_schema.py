import re

import pytest
from django.test import Client


@pytest.mark.django_db
def test_openapi_schema_is_served_and_names_our_routes():
    response = Client().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/me" in schema["paths"]
    assert "/api/keys" in schema["paths"]
    assert not any(path.endswith("/") for path in schema["paths"])


@pytest.mark.django_db
def test_docs_ui_is_offline():
    response = Client().get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # every script and stylesheet is served by us (sidecar), never by a CDN
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http://", "https://", "//")), url
    asset = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    assert Client().get(asset).status_code == 200
