"""The catalogue's word index (marketplace/models/search.py): one-word searches answered from it
give exactly what the full-text (GIN) search gives (same total, same rows in the same order on
every page, both directions, with and without the pricing filter), and the index follows every
change of the dataset table that a search can see, as the trigger of migration 0019 keeps it."""

import pytest
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import OrderBy, RawSQL
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext

from marketplace.models import Dataset, DatasetTerm, DatasetTermCount
from marketplace.models.catalogue import LISTED_CONDITION
from marketplace.selectors import CatalogueQuery, catalogue_search
from marketplace.services.review import dataset_remove, dataset_search_refresh
from marketplace.services.staff import dataset_listing_update
from marketplace.services.word_index import word_index_drift, word_index_rebuild
from tests.catalogue_helpers import api, clone_datasets
from tests.licensing.conftest import publish

pytestmark = pytest.mark.django_db

WORDS = (
    "whale",
    "song",
    "river",
    "harbour",
    "O'Brien",
    "http://x.org/o'b",
    "naïve",
    "code-switched",
)


@pytest.fixture
def shelf(provider):
    """Two datasets published the production way, then 400 copies of the first (INSERT ...
    SELECT, the trigger writing their words): names and descriptions from WORDS so that ranks
    differ and tie, paid and free, public, restricted and private, some removed, some without
    a version, publication dates with ties."""
    template = publish(provider, "Whale song recordings", task="ASR", locale="en")
    publish(provider, "River sounds", task="TTS", locale="en", isPaid=True, basePriceCents=900)
    words = "(ARRAY[" + ", ".join("'" + w.replace("'", "''") + "'" for w in WORDS) + "])"
    computed = {
        "public_id": "'dsword' || g",
        "slug": "'word-' || g",
        "name": f"{words}[1 + mod(g, 8)] || ' ' || {words}[1 + mod(g, 3)]",
        "short_description": f"{words}[1 + mod(g, 5)] || ' and ' || {words}[1 + mod(g, 8)]",
        "long_description": f"repeat({words}[1 + mod(g, 7)] || ' ', 1 + mod(g, 4))",
        "is_paid": "mod(g, 3) = 0",
        "base_price_cents": "CASE WHEN mod(g, 3) = 0 THEN 500 END",
        "visibility": "(ARRAY['public', 'restricted', 'public', 'private', 'public'])[1 + mod(g, 5)]",
        "removed_at": "CASE WHEN mod(g, 11) = 0 THEN now() END",
        "latest_version_id": "CASE WHEN mod(g, 13) <> 0 THEN latest_version_id END",
        "published_at": "published_at - mod(g, 17) * interval '1 day'",
    }
    clone_datasets(template, 400, computed)
    for pk in Dataset.objects.filter(public_id__startswith="dsword").values_list("pk", flat=True):
        dataset_search_refresh(dataset_pk=pk)
    return template


INDEX_PAGE = "FROM marketplace_datasetterm t WHERE"
COUNTS = "FROM marketplace_datasettermcount c"


def gin_answer(word: str, pricing: str, sort: str, direction: str) -> tuple[int, list[int]]:
    """What the full-text search answers, written independently with the ORM."""
    query = SearchQuery(word, search_type="websearch", config="english")
    rows = Dataset.objects.filter(LISTED_CONDITION, search_vector=query)
    if pricing:
        rows = rows.filter(is_paid=pricing == "compensated")
    descending = direction == "desc"
    if sort == "newest":
        key = OrderBy(F("published_at"), descending=descending)
    else:
        rows = rows.annotate(rank=SearchRank(F("search_vector"), query))
        key = OrderBy(F("rank"), descending=descending)
    ids = list(
        rows.order_by(key, OrderBy(F("id"), descending=descending)).values_list("pk", flat=True)
    )
    return len(ids), ids


def word_index_answer(word, pricing, sort, direction, *, limit=7) -> tuple[int, list[int], bool]:
    """Every page of the selector's answer, and whether it read the word index."""
    ids, total, page, used_index = [], None, 1, False
    while True:
        query = CatalogueQuery(
            q=word, pricing=pricing, sort=sort, direction=direction, page=page, limit=limit
        )
        with CaptureQueriesContext(connection) as ctx:
            answer = catalogue_search(query)
        used_index |= any(INDEX_PAGE in q["sql"] for q in ctx.captured_queries) or (
            answer.total == 0 and any(COUNTS in q["sql"] for q in ctx.captured_queries)
        )
        assert total is None or answer.total == total
        total = answer.total
        ids += [d.pk for d in answer.items]
        if not answer.items:
            return total, ids, used_index
        page += 1


def test_one_word_searches_answer_exactly_as_the_full_text_search(shelf):
    checked = 0
    for word in ("whale", "Whales", "song", "harbour", "naïve", "x.org", "nowhere"):
        for pricing in ("", "free", "compensated"):
            for sort in ("", "newest"):
                for direction in ("desc", "asc"):
                    expected = gin_answer(word, pricing, sort, direction)
                    total, ids, used_index = word_index_answer(word, pricing, sort, direction)
                    assert (total, ids) == expected, (word, pricing, sort, direction)
                    assert used_index, word
                    checked += total
    assert checked > 1000  # the shelf gives the words many matches, not one or two


@pytest.mark.parametrize(
    "word,extra",
    [
        ("O'Brien", {}),  # a phrase: 'o' <-> 'brien'
        ("-code-switched", {}),  # a negation
        ("whale song", {}),  # two words
        ("whale or river", {}),
        ("whale -song", {}),
        ("whale", {"tasks": ["ASR"]}),  # narrowed by more than pricing
        ("whale", {"sort": "size"}),
    ],
)
def test_other_searches_run_on_the_full_text_index(shelf, word, extra):
    query = CatalogueQuery(q=word, limit=500, **extra)
    with CaptureQueriesContext(connection) as ctx:
        answer = catalogue_search(query)
    assert not any(INDEX_PAGE in q["sql"] for q in ctx.captured_queries)
    if not extra:
        total, ids = gin_answer(word, "", "", "desc")
        assert (answer.total, [d.pk for d in answer.items]) == (total, ids)
        assert total > 0


def compound_answer(raw: str, sort: str, direction: str, **filters) -> tuple[int, list[int]]:
    """The listed datasets holding the lexeme of `raw` (tsquery input), in its ts_rank order."""
    descending = direction == "desc"
    rows = Dataset.objects.filter(LISTED_CONDITION, **filters).extra(
        where=["search_vector @@ %s::tsquery"], params=[raw]
    )
    if sort == "newest":
        key = OrderBy(F("published_at"), descending=descending)
    else:
        rows = rows.annotate(rank=RawSQL("ts_rank(search_vector, %s::tsquery)", [raw]))
        key = OrderBy(F("rank"), descending=descending)
    ids = list(
        rows.order_by(key, OrderBy(F("id"), descending=descending)).values_list("pk", flat=True)
    )
    return len(ids), ids


def test_a_hyphenated_word_is_looked_up_as_the_whole_word(shelf):
    """websearch makes "code-switched" the phrase 'code-switch' <-> 'code' <-> 'switch'; the
    index looks up the whole word's lexeme, which its parse adds exactly where the text has it:
    the same datasets, ranked by that lexeme (here and, narrowed by a filter, on the GIN path)."""
    phrase_total, phrase_ids = gin_answer("code-switched", "", "", "desc")
    assert phrase_total > 20
    for pricing in ("", "compensated"):
        for sort in ("", "newest"):
            for direction in ("desc", "asc"):
                total, ids, used_index = word_index_answer(
                    "code-switched", pricing, sort, direction
                )
                filters = {"is_paid": pricing == "compensated"} if pricing else {}
                assert (total, ids) == compound_answer("'code-switch'", sort, direction, **filters)
                assert used_index
    assert sorted(word_index_answer("code-switched", "", "", "desc")[1]) == sorted(phrase_ids)
    narrowed = catalogue_search(CatalogueQuery(q="Code-Switched", tasks=["ASR"], limit=500))
    expected = compound_answer("'code-switch'", "", "desc", task="ASR")
    assert (narrowed.total, [d.pk for d in narrowed.items]) == expected
    assert narrowed.total > 0


def test_the_api_answers_a_one_word_search_from_the_index(shelf):
    listing = api().get("/api/datasets?q=whale&pricing=compensated&limit=5").json()
    total, ids = gin_answer("whale", "compensated", "", "desc")
    assert listing["total"] == total > 5
    public_ids = dict(Dataset.objects.filter(pk__in=ids[:5]).values_list("pk", "public_id"))
    assert [item["id"] for item in listing["items"]] == [public_ids[pk] for pk in ids[:5]]


def assert_in_step():
    drift = word_index_drift()
    assert drift.in_step, drift


def test_the_index_follows_every_change_a_search_can_see(shelf, provider, staff):
    assert_in_step()
    assert DatasetTerm.objects.count() > 1000
    paid = Dataset.objects.filter(public_id__startswith="dsword", is_paid=True, visibility="public")
    dataset = paid.filter(removed_at__isnull=True, latest_version__isnull=False).first()
    # price and visibility, through the staff service
    dataset_listing_update(
        actor=staff, dataset=dataset, visibility="public", is_paid=False, base_price_cents=None
    )
    assert_in_step()
    assert not DatasetTerm.objects.filter(dataset=dataset, is_paid=True).exists()
    dataset_listing_update(
        actor=staff, dataset=dataset, visibility="private", is_paid=False, base_price_cents=None
    )
    assert_in_step()
    assert not DatasetTerm.objects.filter(dataset=dataset).exists()
    dataset_listing_update(
        actor=staff, dataset=dataset, visibility="restricted", is_paid=True, base_price_cents=700
    )
    assert_in_step()
    # new words (a new version's card) and a new publication date
    Dataset.objects.filter(pk=dataset.pk).update(name="Harbour river", published_at=None)
    dataset_search_refresh(dataset_pk=dataset.pk)
    assert_in_step()
    assert set(DatasetTerm.objects.filter(dataset=dataset).values_list("lexeme", flat=True)) >= {
        "harbour",
        "river",
    }
    # removal, and the listing of a dataset without a version
    dataset_remove(dataset=dataset, actor=staff, reason="test")
    assert_in_step()
    unversioned = Dataset.objects.filter(
        latest_version__isnull=True, removed_at__isnull=True, visibility="public"
    ).first()
    Dataset.objects.filter(pk=unversioned.pk).update(latest_version=shelf.latest_version_id)
    assert_in_step()
    assert DatasetTerm.objects.filter(dataset=unversioned).exists()
    # a deleted row, and a publication the production way
    Dataset.objects.filter(pk=unversioned.pk).delete()
    assert_in_step()
    publish(provider, "Naïve harbour song")
    assert_in_step()
    # the counts equal the full-text search's totals
    for word in ("harbour", "whale", "naïve"):
        assert word_index_answer(word, "", "", "desc")[0] == gin_answer(word, "", "", "desc")[0]


def test_a_bulk_load_that_bypassed_the_trigger_is_found_and_rebuilt(shelf):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE marketplace_dataset SET search_vector = to_tsvector('english', 'lighthouse') "
            "WHERE public_id LIKE 'dsword%%'"
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    drift = word_index_drift()
    assert drift.missing > 0 and drift.extra > 0 and not drift.in_step
    with pytest.raises(CommandError, match="out of step"):
        call_command("catalogue_terms_rebuild", "--check")
    call_command("catalogue_terms_rebuild")
    assert_in_step()
    assert word_index_answer("lighthouse", "", "", "desc")[:2] == gin_answer(
        "lighthouse", "", "", "desc"
    )
    assert word_index_rebuild() == DatasetTerm.objects.count()


def test_an_index_out_of_step_fails_the_change_instead_of_counting_wrong(shelf):
    dataset = (
        Dataset.objects.filter(LISTED_CONDITION, public_id__startswith="dsword")
        .order_by("pk")
        .first()
    )
    lexeme = DatasetTerm.objects.filter(dataset=dataset).values_list("lexeme", flat=True)[0]
    DatasetTermCount.objects.filter(lexeme=lexeme).update(n=0)
    with pytest.raises(DatabaseError, match="out of step"), transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(removed_at="2026-01-01T00:00:00Z")
    assert Dataset.objects.get(pk=dataset.pk).removed_at is None


def test_lexemes_with_quotes_and_backslashes_round_trip(shelf):
    """Every lexeme the index holds is a one-lexeme tsquery that matches its dataset and ranks
    it as the index says (the quoting of `marketplace_lexeme_tsquery`). URLs give lexemes with
    quotes; a backslash only comes from a search_vector written directly."""
    listed = Dataset.objects.filter(LISTED_CONDITION, public_id__startswith="dsword").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE marketplace_dataset SET search_vector = "
            "$$'back\\\\slash':1A 'it''s':2 'plain':3$$::tsvector WHERE id = %s",
            [listed.pk],
        )
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE lexeme ~ '[''\\\\]'), count(*) FILTER ("
            " WHERE tsvector_to_array(querytree(marketplace_lexeme_tsquery(t.lexeme))::tsvector)"
            "  = ARRAY[t.lexeme] AND d.search_vector @@ marketplace_lexeme_tsquery(t.lexeme)"
            "  AND t.rank = ts_rank(d.search_vector, marketplace_lexeme_tsquery(t.lexeme)))"
            " FROM marketplace_datasetterm t JOIN marketplace_dataset d ON d.id = t.dataset_id"
        )
        rows, quoted, round_trips = cursor.fetchone()
    assert rows == round_trips
    assert quoted > 100
    lexemes = set(DatasetTerm.objects.filter(dataset=listed).values_list("lexeme", flat=True))
    assert lexemes == {"back\\slash", "it's", "plain"}
