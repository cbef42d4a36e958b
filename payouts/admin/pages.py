"""Tables shown inside the admin's read-only fields, rendered from a template. Pages:
payouts.admin.finance.admin_page; CSV downloads: payouts.exports."""

from django.template.loader import render_to_string


def _table(headers: list[str], rows) -> str:
    """A table of `rows` (cells are escaped unless marked safe, e.g. a format_html link)."""
    return render_to_string("admin/payouts/table.html", {"headers": headers, "rows": list(rows)})
