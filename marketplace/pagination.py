"""One way to page a list endpoint: `?page=<n>&limit=<n>` in, `{"items", "total", "page",
"limit"}` out (the MDC catalogue's shape, used by every list of /api).

    params = PageQuerySerializer(data=request.query_params)   # or a subclass with its filters
    params.is_valid(raise_exception=True)
    page = paginate(queryset, **page_args(params.validated_data))
    return Response(page.body(render_one))

The queryset must be ordered (ending with a unique column) so pages never repeat or skip rows.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

MAX_PAGE = 100_000


class PageQuerySerializer(serializers.Serializer):
    """`page` from 1, `limit` 1–200 (default 50). A list with other bounds subclasses this and
    redeclares `limit`."""

    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


def page_args(validated: dict) -> dict[str, int]:
    return {"page": validated["page"], "limit": validated["limit"]}


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    limit: int

    def body(self, render: Callable[[Any], Any] = lambda item: item) -> dict:
        return {
            "items": [render(item) for item in self.items],
            "total": self.total,
            "page": self.page,
            "limit": self.limit,
        }


def paginate(rows, *, page: int, limit: int) -> Page:
    """Two queries, the count and the page's slice; none for the slice past the end."""
    total = rows.count()
    offset = (page - 1) * limit
    items = list(rows[offset : offset + limit]) if offset < total else []
    return Page(items=items, total=total, page=page, limit=limit)


def page_schema(name: str, item=None):
    """The OpenAPI shape of a page whose items are `item` (a serializer; an object if None)."""
    items = (
        serializers.ListField(child=item)
        if item is not None
        else serializers.ListField(child=serializers.DictField())
    )
    return inline_serializer(
        name,
        {
            "items": items,
            "total": serializers.IntegerField(help_text="Rows matching, over all pages."),
            "page": serializers.IntegerField(help_text="This page's number, from 1."),
            "limit": serializers.IntegerField(help_text="Rows per page."),
        },
    )
