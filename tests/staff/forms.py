"""Post an admin change form the way a browser does: every field the page shows, with the
values it shows, plus the changes a test makes."""

from django.test import Client


def _value(bound):
    value = bound.value()
    if value is None:
        return ""
    return value


def change_form_data(client: Client, url: str, **changes) -> dict:
    page = client.get(url)
    assert page.status_code == 200, url
    data = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = _value(management[name])
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = _value(form[name])
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
            else:
                data[form.add_prefix(name)] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def form_fields(client: Client, url: str) -> set[str]:
    page = client.get(url)
    assert page.status_code == 200, url
    return set(page.context["adminform"].form.fields)
