"""The public schema registry the SDK's `load_dataset` reads (MDC contract §8): point
`datacollective.schema.SCHEMA_REGISTRY_RAW_BASE_URL` at `<site>/schema-registry` and it fetches
`/schema-registry/main/registry/<dataset id>/schema.yaml` from us instead of GitHub. No login:
the SDK sends no key there. A dataset without a schema, or one not listed, is a 404."""

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from marketplace.services.errors import ServiceError
from marketplace.services.registry import registry_schema_public


@require_GET
def schema_yaml(request, dataset_id: str):
    try:
        text = registry_schema_public(dataset_id=dataset_id)
    except ServiceError as exc:
        return JsonResponse({"message": exc.message, "error": exc.code}, status=exc.status_code)
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Cache-Control"] = "public, max-age=60"
    return response


urlpatterns = [
    path("main/registry/<str:dataset_id>/schema.yaml", schema_yaml, name="schema-registry-yaml"),
]
