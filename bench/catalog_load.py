"""The catalogue benchmark's request mix and its SQL baseline.

* `unique_paths(kind)`: a shuffled list of distinct `GET /api/datasets` paths, a different search
  word (or filter combination) on every request, so no request is answered from the catalogue's
  page cache (marketplace/catalogue_cache.py: one key per distinct query). `PathFeed` hands them
  out once each, from any thread, and counts what it had to hand out again (`repeats`: 0 means
  every measured request missed the page cache).
* `capture_sql(paths)`: the SQL `GET /api/datasets?...` runs for each path, captured in this
  process by running the same parsing and selector the view runs (the page-cache lookup aside),
  with its transaction statements (BEGIN, the SET LOCAL of the catalogue's work_mem, COMMIT).
* `sql_load(...)`: that SQL replayed directly with psycopg, one connection per thread, one
  "request" = every statement of one path, fetched in full: the baseline of the same SQL."""

from __future__ import annotations

import random
import threading
import time
from urllib.parse import urlencode

from catalog_vocabulary import DOMAINS, FILLER, LANGUAGES, QUALIFIERS, TASKS
from harness import LoadResult, pg_connect

FILTER_TASKS = sorted(set(TASKS) - {"N/A"})
LOCALES = [locale for _name, locale, _weight in LANGUAGES]


def search_words() -> list[str]:
    words = {name.lower() for name, _locale, _weight in LANGUAGES}
    words |= {q.lower() for q in QUALIFIERS}
    words |= {w.lower() for domain in DOMAINS for w in domain.split()}
    words |= set(FILLER)
    return sorted(words)


def unique_paths(kind: str, seed: int = 14) -> list[str]:
    """Distinct paths of one kind, shuffled. "search-word": one word of the vocabulary (the
    hyphenated ones are phrase searches), optionally narrowed by pricing, sorted by relevance or
    newest in either direction, page 1 to 3. "search-two-words": a language and a qualifier
    (websearch syntax: both words), optionally narrowed by pricing, sorted by relevance or
    newest. "filters": task x locale, optionally a sample / pricing / upload-date filter,
    sorted newest or by size."""
    rng = random.Random(seed)
    combos: list[dict] = []
    if kind == "search-word":
        for q in search_words():
            for pricing in ("", "free", "compensated"):
                for sort in ("", "newest"):
                    for direction in ("", "asc"):
                        for page in ("", "2", "3"):
                            combos.append(
                                {
                                    "q": q,
                                    "pricing": pricing,
                                    "sort": sort,
                                    "sortDirection": direction,
                                    "page": page,
                                }
                            )
    elif kind == "search-two-words":
        languages = [name.lower() for name, _l, _w in LANGUAGES]
        for q in [f"{lang} {q.lower()}" for lang in languages for q in QUALIFIERS]:
            for pricing in ("", "free", "compensated"):
                for sort in ("", "newest"):
                    combos.append({"q": q, "pricing": pricing, "sort": sort})
    elif kind == "filters":
        for task in FILTER_TASKS:
            for locale in LOCALES:
                for extra in (
                    {},
                    {"sample": "true"},
                    {"pricing": "free"},
                    {"pricing": "compensated"},
                    {"uploadDate": "thisMonth"},
                ):
                    for sort in ("", "size"):
                        combos.append({"task": task, "locale": locale, **extra, "sort": sort})
    else:
        raise ValueError(kind)
    rng.shuffle(combos)
    return ["/api/datasets?" + urlencode({k: v for k, v in c.items() if v}) for c in combos]


class PathFeed:
    """Hands out `paths` in order, once each, thread-safe; wraps around (counted in `repeats`)
    only if a run needs more requests than there are distinct paths."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.given = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            i = self.given
            self.given += 1
        return self.paths[i % len(self.paths)]

    @property
    def repeats(self) -> int:
        return max(0, self.given - len(self.paths))


def capture_sql(paths: list[str]) -> list[list[str]]:
    """Per path, the statements the catalogue view runs for it (count + page, + the page's rows
    for a search), as executed (parameters interpolated by the driver)."""
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    from marketplace import catalogue_serializers as wire
    from marketplace.selectors import catalogue_search

    captured = []
    for path in paths:
        params = wire.CatalogueQuerySerializer(data=QueryDict(path.partition("?")[2]))
        params.is_valid(raise_exception=True)
        query = wire.catalogue_query(params.validated_data)
        with CaptureQueriesContext(connection) as ctx:
            catalogue_search(query).body(wire.dataset_card)
        captured.append([q["sql"] for q in ctx.captured_queries])
    return captured


def sql_load(
    statements: list[list[str]], *, duration: float, warmup: float, concurrency: int
) -> LoadResult:
    """Each thread on its own autocommit connection runs one path's statements per "request"
    (fetching every row), cycling through `statements`, for `warmup` + `duration` seconds."""
    feed = PathFeed(list(range(len(statements))))
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + duration
    lock = threading.Lock()
    latencies: list[float] = []

    def worker() -> None:
        local: list[float] = []
        with pg_connect() as conn, conn.cursor() as cursor:
            while True:
                t0 = time.monotonic()
                if t0 >= stop_at:
                    break
                for sql in statements[feed()]:
                    cursor.execute(sql)
                    if cursor.description is not None:  # not BEGIN, SET LOCAL, COMMIT
                        cursor.fetchall()
                t1 = time.monotonic()
                if t1 >= measure_from:
                    local.append((t1 - t0) * 1000)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = max(time.monotonic(), stop_at) - measure_from
    return LoadResult(requests=len(latencies), seconds=seconds, latencies_ms=latencies, errors=0)


def explain(statements: list[str]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement, for the report when p95 misses."""
    out = []
    with pg_connect() as conn, conn.cursor() as cursor:
        for sql in statements:
            if not sql.lstrip().upper().startswith("SELECT"):  # BEGIN, SET LOCAL, COMMIT
                cursor.execute(sql)
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            out.append("\n".join(row[0] for row in cursor.fetchall()))
    return "\n---\n".join(out)
