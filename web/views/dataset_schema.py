"""The provider's editor of a published dataset's loading schema (the `schema.yaml` the SDK's
`load_dataset` reads from our registry): the schema in force (generated or theirs), a preview of
the first rows the SDK would load with it, read from the archive in storage, and the actions
"Preview" (nothing saved), "Save" and "Use the generated schema". The services validate and
decide; an invalid schema comes back with each problem under the field, as typed."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from marketplace.models import RegistrySchema
from marketplace.schema_registry import SchemaInvalid, schema_parse
from marketplace.services.errors import ServiceError
from marketplace.services.registry import (
    registry_schema_ensure,
    registry_schema_preview,
    registry_schema_reset,
    registry_schema_update,
)
from web.decorators import actor_required
from web.views.datasets import _dataset


class SchemaForm(forms.Form):
    schema = forms.CharField(
        label="schema.yaml",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "code"}),
        help_text="The loading schema of the SDK's load_dataset (MDC contract §8): dataset_id, "
        "root_strategy, index_file, format, has_header, base_audio_path, columns, ...",
    )


def _preview(dataset, text: str):
    """The preview of `text`, or None and the form errors when it does not parse."""
    try:
        return registry_schema_preview(
            dataset=dataset, schema=schema_parse(text, dataset_id=dataset.public_id)
        )
    except (SchemaInvalid, ServiceError):
        return None


@actor_required
@require_http_methods(["GET", "POST"])
def dataset_schema(request, dataset_id: str):
    dataset = _dataset(request, dataset_id)
    status, preview = 200, None
    try:
        current = registry_schema_ensure(dataset=dataset)
    except ServiceError as exc:
        current = None
        messages.error(request, exc.message)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "generate":
        try:
            registry_schema_reset(actor=request.actor, dataset=dataset)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "The generated schema is served again.")
        return redirect("web:dataset_schema", dataset_id=dataset.public_id)
    if action in ("preview", "save"):
        form = SchemaForm(request.POST)
        if form.is_valid():
            text = form.cleaned_data["schema"]
            try:
                if action == "save":
                    registry_schema_update(actor=request.actor, dataset=dataset, text=text)
                    messages.success(request, "Saved: the registry serves your schema now.")
                    return redirect("web:dataset_schema", dataset_id=dataset.public_id)
                schema = schema_parse(text, dataset_id=dataset.public_id)
                preview = registry_schema_preview(dataset=dataset, schema=schema)
            except SchemaInvalid as exc:
                for error in exc.errors:
                    form.add_error("schema", error)
            except ServiceError as exc:
                form.add_error(None, exc.message)
        if form.errors:
            status = 400
    else:
        form = SchemaForm(initial={"schema": current.yaml if current else ""})
        if current is not None and current.yaml:
            preview = _preview(dataset, current.yaml)
    return render(
        request,
        "web/datasets/schema.html",
        {
            "dataset": dataset,
            "current": current,
            "provider_written": current is not None
            and current.source == RegistrySchema.Source.PROVIDER,
            "outdated": current is not None and current.version_id != dataset.latest_version_id,
            "form": form,
            "preview": preview,
            "registry_url": request.build_absolute_uri(
                f"/schema-registry/main/registry/{dataset.public_id}/schema.yaml"
            ),
            "registry_base": request.build_absolute_uri("/schema-registry"),
        },
        status=status,
    )
