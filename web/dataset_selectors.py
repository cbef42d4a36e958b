"""Reads of the provider's dataset pages (web/views/datasets.py): the organisation's published
datasets with their request and download counts, the access-request inbox by status, and how a
download session's client is named. Each list is a constant number of queries."""

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from licensing.models import AccessRequest, DownloadSession
from licensing.selectors import access_requests_visible
from marketplace.models import Dataset, Organization

AR = AccessRequest.Status
DIRECTIONS = ("received", "sent")
STATUS_TABS = [("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")]
ALL = "all"
# The official SDK names itself first in its User-Agent (`datacollective-python/0.7.0 …`).
SDK_AGENT_PREFIX = "datacollective-python/"


def _count_of(model, *, status: str | None = None):
    rows = model.objects.filter(dataset=OuterRef("pk"))
    if status:
        rows = rows.filter(status=status)
    counted = rows.order_by().values("dataset").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def datasets_of_organization(organization: Organization) -> QuerySet[Dataset]:
    """The organisation's published datasets (removed ones too, marked), newest first, each
    with its latest version, `pending_requests` and `downloads` (download sessions)."""
    return (
        Dataset.objects.filter(organization=organization, latest_version__isnull=False)
        .select_related("latest_version")
        .defer("search_vector")
        .annotate(
            pending_requests=_count_of(AccessRequest, status=AR.PENDING),
            downloads=_count_of(DownloadSession),
        )
        .order_by("-published_at", "-pk")
    )


def pending_requests_of(dataset: Dataset) -> int:
    return AccessRequest.objects.filter(dataset=dataset, status=AR.PENDING).count()


@dataclass(frozen=True)
class Inbox:
    """What the access-requests page shows: one direction, one status (or all), the counts
    per status for its tabs."""

    direction: str
    status: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def inbox_of(*, organization: Organization, direction: str, status: str) -> tuple[Inbox, QuerySet]:
    """The requests the organisation received (for its datasets) or sent, filtered by status
    (`all` for every one), newest first, with the counts per status (one query)."""
    rows = access_requests_visible(organization=organization, direction=direction).select_related(
        "requested_by", "decided_by"
    )
    counts = dict(rows.order_by().values_list("status").annotate(n=Count("pk")))
    inbox = Inbox(
        direction=direction,
        status=status,
        counts={value: counts.get(value, 0) for value, _ in STATUS_TABS},
    )
    if status != ALL:
        rows = rows.filter(status=status)
    return inbox, rows


def download_client(session: DownloadSession) -> str:
    """Who fetched it, in words: the official SDK (with the function the SDK named), another
    API client (a key without the SDK's User-Agent), or a browser (a signed-in session)."""
    agent = session.user_agent or ""
    if session.source_function or agent.startswith(SDK_AGENT_PREFIX):
        function = f" ({session.source_function})" if session.source_function else ""
        return f"Python SDK{function}"
    if session.api_key_id:
        return "API"
    return "Browser"
