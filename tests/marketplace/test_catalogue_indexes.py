"""The catalogue's SQL (`GET /api/datasets`, MDC E1) can use the listed catalogue's partial
indexes: the selector's WHERE implies their predicate, so PostgreSQL uses them when it has no
other cheap way (sequential scans off, as on a catalogue of 1,000,000 datasets where the
planner prefers them by itself). Plans are read from the statements the API really ran."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.services.word_index import word_index_rebuild
from tests.catalogue_helpers import api, clone_datasets
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db


TASKS = ("ASR", "TTS", "MT", "NLP", "LID", "CV")
LOCALES = ("en", "de", "fr", "es", "cy", "sw", "hi", "ja")


@pytest.fixture
def shelf(provider):
    """Three datasets published the production way, then 3,000 copies of the first made with
    one INSERT ... SELECT (publishing 3,000 through the services would take an hour; a plan is
    only representative when the table is not tiny): every task x locale, newer and older,
    free and paid, three in seven with samples, with "speech" in one name out of fifty."""
    template = publish(provider, "English read speech", task="ASR", locale="en")
    publish(provider, "English voices", task="TTS", locale="en", isPaid=True, basePriceCents=900)
    publish(provider, "Welsh read speech", task="ASR", locale="cy", visibility="restricted")
    computed = {
        "public_id": "'dscopy' || g",
        "slug": "'copy-' || g",
        "name": "CASE WHEN mod(g, 50) = 0 THEN 'Copied speech ' ELSE 'Copied text ' END || g",
        "task": f"(ARRAY{list(TASKS)})[1 + mod(g, {len(TASKS)})]",
        "locale": f"(ARRAY{list(LOCALES)})[1 + mod(g / {len(TASKS)}, {len(LOCALES)})]",
        "is_paid": "mod(g, 5) = 0",
        "has_sample": "mod(g, 7) < 3",
        "size_bytes": "g * 1000",
        "published_at": "published_at - g * interval '1 hour'",
    }
    # As the bench's seed: the bulk statements bypass the word index's trigger (6,000 calls
    # were ~10 s per test) and the index is refilled once, set-based.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        clone_datasets(template, 3000, computed)
        cursor.execute(
            "UPDATE marketplace_dataset SET search_vector = setweight("
            "to_tsvector('english', name), 'A') WHERE public_id LIKE 'dscopy%%'"
        )
        cursor.execute("RESET session_replication_role")
        word_index_rebuild()
        # What VACUUM does (not allowed in the test's transaction): the new entries move from
        # GIN's pending list into the index, whose size the planner then estimates rightly.
        cursor.execute("SELECT gin_clean_pending_list('dataset_listed_search')")
        cursor.execute("ANALYZE marketplace_dataset")
        cursor.execute("ANALYZE marketplace_datasetterm")


READS = ("SELECT", "WITH")


def catalogue_statements(path: str) -> list[str]:
    """The reads of one E1 request: for a text search, its word and that word's count (the word
    index's statement), then the count and the page; for a one-word search only the word
    index's two."""
    with CaptureQueriesContext(connection) as ctx:
        response = api().get(path)
    assert response.status_code == 200, response.content
    assert response.json()["total"] > 0
    return [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith(READS)]


def indexes_used(sql: str, *, bitmaps: bool = True) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_bitmapscan = {'on' if bitmaps else 'off'}")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if "Index Name" in node:
            found.add(node["Index Name"])
        nodes.extend(node.get("Plans", []))
    return found


TASK_LOCALE = {"dataset_listed_tl_newest", "dataset_listed_tl_size"}


@pytest.mark.parametrize(
    "filters",
    ["task=ASR&locale=en", "task=ASR&locale=en&pricing=free", "task=TTS&locale=en&sample=true"],
)
def test_a_task_and_locale_count_and_newest_page_use_one_index_range(shelf, filters):
    count, page = catalogue_statements(f"/api/datasets?{filters}")
    assert indexes_used(count, bitmaps=False) & TASK_LOCALE
    assert "dataset_listed_tl_newest" in indexes_used(page, bitmaps=False)


def test_an_upload_window_narrows_the_task_and_locale_range(shelf):
    count, page = catalogue_statements("/api/datasets?task=MT&locale=de&uploadDate=thisWeek")
    assert "dataset_listed_tl_newest" in indexes_used(count, bitmaps=False)
    assert "dataset_listed_tl_newest" in indexes_used(page, bitmaps=False)


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_the_largest_first_page_of_a_task_and_locale_walks_the_size_index(shelf, direction):
    _count, page = catalogue_statements(
        f"/api/datasets?task=ASR&locale=en&sort=size&sortDirection={direction}"
    )
    assert "dataset_listed_tl_size" in indexes_used(page, bitmaps=False)


@pytest.mark.parametrize("extra", ["", "&pricing=compensated"])
def test_a_ranked_text_search_counts_and_ranks_in_one_pass_on_the_search_index(shelf, extra):
    # Two words: not a one-word search (the word lookup finds none), so the GIN path, where
    # the relevance page carries the count (one visit of the matches' rows, not two).
    _word, ranked_page = catalogue_statements(f"/api/datasets?q=copied+speech{extra}")
    assert "count(*) OVER ()" in ranked_page
    assert "dataset_listed_search" in indexes_used(ranked_page)


@pytest.mark.parametrize("extra", ["&sort=newest", "&task=ASR&sort=newest", "&sort=size"])
def test_an_unranked_or_filtered_text_search_counts_on_the_search_index(shelf, extra):
    # Narrowed or sorted otherwise, a plain search needs no word lookup: count, then page.
    *word, count, _page = catalogue_statements(f"/api/datasets?q=copied+speech{extra}")
    assert len(word) == (1 if extra == "&sort=newest" else 0)
    assert "dataset_listed_search" in indexes_used(count)


@pytest.mark.parametrize(
    "extra,index",
    [
        ("", "marketplace_datasetterm_pkey"),
        ("&pricing=compensated", "marketplace_datasetterm_pkey"),
        ("&sort=newest", "datasetterm_newest"),
        ("&sort=newest&sortDirection=asc&pricing=free", "datasetterm_newest"),
    ],
)
def test_a_one_word_search_reads_a_count_row_and_an_index_range(shelf, extra, index):
    """The word index (marketplace/models/search.py): the count is one primary-key read, the
    page an ordered range of the word's index."""
    count, page = catalogue_statements(f"/api/datasets?q=speech{extra}")
    assert indexes_used(count) == {"marketplace_datasettermcount_pkey"}
    assert index in indexes_used(page, bitmaps=False)
