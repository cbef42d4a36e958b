"""The admin's own pages (forms, tables), rendered without templates of their own. CSV
downloads: payouts.exports."""

from django.contrib import admin
from django.http import HttpResponse
from django.template import Context, Template
from django.utils.html import format_html, format_html_join

_PAGE = Template(
    '{% extends "admin/base_site.html" %}{% block content %}<h1>{{ title }}</h1>'
    "{{ body }}{% endblock %}"
)


def _page(request, title: str, body) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": title, "body": body}
    return HttpResponse(_PAGE.render(Context(context)))


def _table(headers: list[str], rows) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
