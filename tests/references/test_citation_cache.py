"""raw/citation_cache materialised for real against local OpenAlex and Crossref servers that fail
the way the real ones do (429 with Retry-After, 5xx, timeouts, junk bodies, 404s)."""

from __future__ import annotations

import json
import logging
import textwrap

import dagster as dg
import pytest

from resources.scholarly_apis import ScholarlyApisResource, scholarly_apis_from_env
from studentops_assets.notes.assets import raw_notes
from studentops_assets.references.assets import raw_bibtex_entries, raw_citation_cache, raw_ris_entries

from ..conftest import free_port
from .fake_scholarly import FakeScholarly, Paper
from .helpers import materialize, metadata, snapshot

ADA = "0b9a4a8e-5c63-4b43-9e55-1c7f0f3b0a01"
API_KEY = "oa-test-key-7f3e9c1d5b"
CONTACT = "studentops-contact-4411@example.org"

LECUN = Paper("10.1038/nature14539", "Deep learning", 2015, "Nature",
              (("Yann", "LeCun"), ("Yoshua", "Bengio"), ("Geoffrey", "Hinton")), 75321)
OPTUNA = Paper("10.1145/3292500.3330701", "Optuna: A Next-generation Hyperparameter Optimization Framework", 2019,
               "Proceedings of the 25th ACM SIGKDD International Conference on Knowledge Discovery & Data Mining",
               (("Takuya", "Akiba"), ("Shotaro", "Sano")), 6120, kind="proceedings-article")
ATTENTION = Paper("10.48550/arxiv.1706.03762", "Attention Is All You Need", 2017, "arXiv (Cornell University)",
                  (("Ashish", "Vaswani"), ("Łukasz", "Kaiser")), 98000, kind="preprint")
NUMPY = Paper("10.1038/s41586-020-2649-2", "Array programming with NumPy", 2020, "Nature",
              (("Charles R.", "Harris"), ("Stéfan J.", "van der Walt")), 15002)
RETRACTED = Paper("10.1016/s0140-6736(97)11096-0", "Ileal-lymphoid-nodular hyperplasia, non-specific colitis, and "
                  "pervasive developmental disorder in children", 1998, "The Lancet",
                  (("A. J.", "Wakefield"),), 3100, retracted=True)
LSTM = Paper("10.1162/neco.1997.9.8.1735", "Long Short-Term Memory", 1997, "Neural Computation",
             (("Sepp", "Hochreiter"), ("Jürgen", "Schmidhuber")), 91000)
SGD = Paper("10.1007/978-3-7908-2604-3_16", "Large-Scale Machine Learning with Stochastic Gradient Descent", 2010,
            "Proceedings of COMPSTAT'2010", (("Léon", "Bottou"),), 5300, kind="book-chapter")
RESNET = Paper("10.1109/cvpr.2016.90", "Deep Residual Learning for Image Recognition", 2016,
               "2016 IEEE Conference on Computer Vision and Pattern Recognition (CVPR)",
               (("Kaiming", "He"), ("Xiangyu", "Zhang")), 210000, kind="proceedings-article")
TYPO = "10.9999/no.such.doi"
DOWN = "10.5555/provider.outage"

BIB = r"""
@article{lecun, title = {Deep learning}, doi = {https://doi.org/10.1038/NATURE14539}}
@misc{vaswani, title = {Attention Is All You Need}, doi = {10.48550/arXiv.1706.03762}}
@article{wakefield, title = {Ileal-lymphoid-nodular hyperplasia}, doi = {10.1016/S0140-6736(97)11096-0}}
@article{typo, title = {A DOI nobody registered}, doi = {10.9999/no.such.doi}}
"""
RIS = """\
TY  - CONF
TI  - Optuna: A Next-generation Hyperparameter Optimization Framework
DO  - 10.1145/3292500.3330701
ER  - 

TY  - JOUR
TI  - Long Short-Term Memory
UR  - https://doi.org/10.1162/neco.1997.9.8.1735
ER  - 

TY  - JOUR
TI  - A paper behind an outage
DO  - 10.5555/provider.outage
ER  - 
"""
NOTE = """\
---
type: reading
doi: doi:10.1038/s41586-020-2649-2
---
Compare with 10.1109/CVPR.2016.90 and https://doi.org/10.1038/nature14539.
"""


def expected(paper: Paper, provider: str) -> tuple:
    return (paper.doi, True, provider, paper.title, paper.year, paper.venue,
            [f"{given} {family}" for given, family in paper.authors], paper.cited_by,
            paper.retracted if provider == "openalex" else (True if paper.retracted else None), None)


ROW_SQL = ("select doi, resolved, provider, title, year, venue, authors, cited_by_count, is_retracted, failure_reason "
           'from raw.citation_cache order by doi collate "C"')


@pytest.fixture(scope="module")
def fake():
    server = FakeScholarly().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cache_home(new_home, fake, tmp_path_factory):
    home, warehouse = new_home(students=[{"id": ADA, "slug": "ada", "name": "Ada"}])
    (home.path / "inbox").mkdir()
    (home.path / "inbox" / "library-ada.bib").write_text(textwrap.dedent(BIB), encoding="utf-8")
    (home.path / "inbox" / "library-ada.ris").write_text(RIS, encoding="utf-8")
    (home.path / "vault" / "ada" / "readings").mkdir(parents=True)
    (home.path / "vault" / "ada" / "readings" / "numpy.md").write_text(NOTE, encoding="utf-8")
    # OpenAlex knows most works; Crossref knows the DOIs it registered (not arXiv's DataCite DOIs).
    for paper in (LECUN, ATTENTION, NUMPY, RETRACTED, LSTM, SGD, RESNET):
        fake.openalex[paper.doi] = paper
    for paper in (LECUN, OPTUNA, NUMPY, RETRACTED, LSTM, SGD, RESNET):
        fake.crossref[paper.doi] = paper
    home.warehouse = warehouse
    materialize([raw_notes, raw_bibtex_entries, raw_ris_entries], warehouse)
    # The Zotero loader (built elsewhere) writes raw.zotero_items; the cache must read it when it exists.
    home.query("create table raw.zotero_items (student_id text, doi text)")
    home.query("insert into raw.zotero_items values (%s, 'https://doi.org/10.1007/978-3-7908-2604-3_16'), (%s, null)",
               (ADA, ADA))
    return home


def apis(fake: FakeScholarly, **overrides) -> ScholarlyApisResource:
    settings = dict(openalex_url=fake.url("openalex"), crossref_url=fake.url("crossref"), timeout_seconds=0.5,
                    max_attempts=3, backoff_factor=0.05, max_retry_delay_seconds=2.0, min_interval_seconds=0.0)
    settings.update(overrides)
    return ScholarlyApisResource(**settings)


def run_cache(home, resource: ScholarlyApisResource) -> dg.ExecuteInProcessResult:
    return materialize([raw_citation_cache], home.warehouse, scholarly_apis=resource)


def test_first_run_resolves_through_faults(cache_home, fake, monkeypatch, caplog, capfd):
    # LECUN: OpenAlex 429 with Retry-After: 1, then 503, then answers.
    fake.fault("openalex", LECUN.doi, ("status", 429, 1), ("status", 503))
    # LSTM: OpenAlex times out twice (0.5 s client timeout), then answers.
    fake.fault("openalex", LSTM.doi, ("sleep", 1.0), ("sleep", 1.0))
    # NUMPY: OpenAlex answers 200 with junk: Crossref is asked and answers.
    fake.fault("openalex", NUMPY.doi, ("body", b"<html>Service Unavailable</html>"))
    # DOWN: both providers fail on every attempt.
    fake.fault("openalex", DOWN, *[("status", 500)] * 3)
    fake.fault("crossref", DOWN, *[("status", 503)] * 3)
    # The secrets come from the environment, bound by name as the lead wires them.
    monkeypatch.setenv("STUDENTOPS_CONTACT_EMAIL", CONTACT)
    monkeypatch.setenv("OPENALEX_API_KEY", API_KEY)
    bound = scholarly_apis_from_env()
    resource = apis(fake, contact_email=bound.contact_email, openalex_api_key=bound.openalex_api_key)
    caplog.set_level(logging.DEBUG)
    instance = dg.DagsterInstance.ephemeral()

    result = materialize([raw_citation_cache], cache_home.warehouse, instance=instance, scholarly_apis=resource)

    assert cache_home.query(ROW_SQL) == sorted([
        expected(LECUN, "openalex"),
        expected(OPTUNA, "crossref"),  # OpenAlex 404, Crossref has it
        expected(ATTENTION, "openalex"),
        expected(NUMPY, "crossref"),
        expected(RETRACTED, "openalex"),
        expected(LSTM, "openalex"),
        expected(SGD, "openalex"),  # cited only in raw.zotero_items, with a resolver prefix
        expected(RESNET, "openalex"),  # cited in the note body, in capitals
        (DOWN, False, None, None, None, None, [], None, None,
         "openalex: HTTP 500 (3 attempts); crossref: HTTP 503 (3 attempts)"),
        (TYPO, False, None, None, None, None, [], None, None, "not found (OpenAlex and Crossref answered 404)"),
    ])
    assert fake.count("openalex", LECUN.doi) == 3 and fake.count("openalex", LSTM.doi) == 3
    # Retry-After: 1 was honoured (the backoff alone would have waited 0.05 s).
    lecun_times = [r.at for r in fake.requests if r.provider == "openalex" and LECUN.doi in r.path]
    assert lecun_times[1] - lecun_times[0] >= 0.95
    assert fake.count("crossref", LECUN.doi) == 0
    (record, provider_id, marker), = cache_home.query(
        "select _record, provider_id, provider_updated_at from raw.citation_cache where doi = %s", (LECUN.doi,))
    assert record["doi"] == "https://doi.org/10.1038/nature14539" and record["cited_by_count"] == 75321
    assert provider_id == record["id"] and marker == "2026-11-02T05:12:44.871263"
    (record,), = cache_home.query("select _record from raw.citation_cache where doi = %s", (DOWN,))
    assert record == {"openalex": {"outcome": "failed", "status": 500, "reason": "HTTP 500 (3 attempts)"},
                      "crossref": {"outcome": "failed", "status": 503, "reason": "HTTP 503 (3 attempts)"}}
    # The junk answer is quarantined under its DOI.
    assert cache_home.query("select file, location, reason from meta.quarantine where source = 'citation_cache'") == [
        (NUMPY.doi, "openalex", "openalex: HTTP 200 but the body is not JSON")]

    meta = metadata(result, "raw_citation_cache")
    assert meta["dois_cited"] == 10 and meta["looked_up_this_run"] == 10 and meta["deferred_to_next_run"] == 0
    assert (meta["resolved_this_run"], meta["unresolved_this_run"]) == (8, 2)
    assert meta["dois_cited_by_table"] == {"notes": 3, "bibtex_entries": 4, "ris_entries": 3, "zotero_items": 1}
    assert meta["resolved_by_provider"] == {"openalex": 6, "crossref": 2}
    assert meta["retracted_total"] == 1 and meta["dagster/row_count"] == 10

    # The key and the contact address went out, and nowhere else.
    openalex_request = next(r for r in fake.requests if r.provider == "openalex")
    assert openalex_request.query == {"mailto": [CONTACT], "api_key": [API_KEY]}
    assert all(f"mailto:{CONTACT}" in r.headers["User-Agent"] for r in fake.requests)
    stored = json.dumps(cache_home.query(
        "select (select json_agg(c) from raw.citation_cache c), (select json_agg(q) from meta.quarantine q)"))
    events = [*result.all_events, *instance.all_logs(result.run_id)]
    captured = capfd.readouterr()
    assert "api_key=***" in caplog.text  # urllib3 logged the request line, redacted
    for secret in (API_KEY, CONTACT, CONTACT.replace("@", "%40")):
        assert secret not in stored
        assert secret not in str(meta)
        assert secret not in "".join(str(e) for e in events)
        assert secret not in caplog.text
        assert secret not in captured.out + captured.err


def test_rerun_within_ttl_calls_nobody_and_changes_nothing(cache_home, fake):
    before, calls = snapshot(cache_home), len(fake.requests)
    result = run_cache(cache_home, apis(fake))
    assert len(fake.requests) == calls
    assert snapshot(cache_home) == before
    meta = metadata(result, "raw_citation_cache")
    assert (meta["looked_up_this_run"], meta["fresh_in_cache"]) == (0, 10)


def test_unresolved_rows_are_retried_after_a_day(cache_home, fake):
    # Unresolved answers are one day old now; the outage is over.
    cache_home.query("update raw.citation_cache set fetched_at = fetched_at - interval '25 hours' where not resolved")
    fake.crossref[DOWN] = Paper(DOWN, "A paper behind an outage", 2024, "Journal of Outages", (("Ops", "Person"),), 3)
    calls = len(fake.requests)
    result = run_cache(cache_home, apis(fake))
    # Two DOIs, each asked of OpenAlex (404) then Crossref.
    assert len(fake.requests) - calls == 4
    assert cache_home.query("select doi, resolved, provider, title from raw.citation_cache where doi in (%s, %s) "
                            "order by doi", (DOWN, TYPO)) == [
        (DOWN, True, "crossref", "A paper behind an outage"),
        (TYPO, False, None, None),
    ]
    assert metadata(result, "raw_citation_cache")["looked_up_this_run"] == 2


def test_resolved_rows_are_rechecked_after_the_ttl_and_kept_when_the_check_fails(cache_home, fake):
    cache_home.query("update raw.citation_cache set fetched_at = fetched_at - interval '31 days' where doi in (%s, %s)",
                     (LECUN.doi, LSTM.doi))
    kept = cache_home.query("select * from raw.citation_cache where doi = %s", (LSTM.doi,))
    fake.openalex[LECUN.doi] = Paper(**{**LECUN.__dict__, "cited_by": 80000})  # it was cited meanwhile
    fake.fault("openalex", LSTM.doi, *[("sleep", 1.0)] * 3)  # OpenAlex hangs...
    fake.fault("crossref", LSTM.doi, *[("status", 502)] * 3)  # ...and Crossref is down
    result = run_cache(cache_home, apis(fake))
    assert cache_home.query("select cited_by_count from raw.citation_cache where doi = %s", (LECUN.doi,)) == [(80000,)]
    # The failed re-check did not wipe good metadata.
    assert cache_home.query("select * from raw.citation_cache where doi = %s", (LSTM.doi,)) == kept
    meta = metadata(result, "raw_citation_cache")
    assert (meta["looked_up_this_run"], meta["kept_previous_on_failure"]) == (2, 1)


def test_lookups_per_run_are_bounded(cache_home, fake):
    # Due now: three new DOIs, and LSTM, whose failed re-check left it stale. New DOIs go first.
    more = ["10.1234/bounded.1", "10.1234/bounded.2", "10.1234/bounded.3"]
    cache_home.query("insert into raw.zotero_items select %s, unnest(%s::text[])", (ADA, more))
    first = run_cache(cache_home, apis(fake, max_lookups_per_run=2))
    assert metadata(first, "raw_citation_cache")["deferred_to_next_run"] == 2
    assert cache_home.query("select doi from raw.citation_cache where doi like '10.1234/bounded.%%' order by doi") == [
        ("10.1234/bounded.1",), ("10.1234/bounded.2",)]
    second = run_cache(cache_home, apis(fake, max_lookups_per_run=2))
    meta = metadata(second, "raw_citation_cache")
    assert (meta["looked_up_this_run"], meta["deferred_to_next_run"], meta["kept_previous_on_failure"]) == (2, 0, 0)
    assert cache_home.query("select count(*) from raw.citation_cache where doi like '10.1234/bounded.%%'") == [(3,)]
    assert cache_home.query("select fetched_at > now() - interval '1 hour' from raw.citation_cache where doi = %s",
                            (LSTM.doi,)) == [(True,)]


def test_offline_never_fails_the_run(cache_home):
    cache_home.query("insert into raw.zotero_items values (%s, '10.4321/offline'), (%s, '10.4321/offline2')", (ADA, ADA))
    # A port nothing listens on: every connection is refused.
    nowhere = f"http://127.0.0.1:{free_port()}"
    offline = ScholarlyApisResource(openalex_url=nowhere, crossref_url=nowhere,
                                    max_attempts=2, backoff_factor=0.01, min_interval_seconds=0.0)
    (started,), = cache_home.query("select now()")
    first = run_cache(cache_home, offline)
    # Only the first DOI of the run waited through the retries (one request per provider), and every
    # DOI gets the same reason whatever order they were asked in.
    assert metadata(first, "raw_citation_cache")["looked_up_this_run"] >= 2
    reason = "openalex: unreachable this run: cannot connect (2 attempts); crossref: unreachable this run: cannot connect (2 attempts)"
    ours = cache_home.query(
        "select resolved, failure_reason from raw.citation_cache where doi like '10.4321/offline%' order by doi")
    assert ours == [(False, reason), (False, reason)]
    this_run = dict(cache_home.query(
        "select failure_reason, count(*) from raw.citation_cache where fetched_at >= %s group by 1", (started,)))
    assert set(this_run) == {reason}, this_run

    # A rerun once they are due again, still offline, and with the DOIs asked in the other order:
    # the same answer, so no row of the cache changes (the rows stay due for the next run).
    # Due ones are asked oldest first: make offline2 the older, so it finds the outage this time.
    cache_home.query("update raw.citation_cache set fetched_at = fetched_at - case doi "
                     "when '10.4321/offline2' then interval '26 hours' else interval '25 hours' end "
                     "where doi like '10.4321/offline%'")
    before = snapshot(cache_home, ("raw",))
    again = run_cache(cache_home, offline)
    meta = metadata(again, "raw_citation_cache")
    assert meta["looked_up_this_run"] >= 2 and meta["unchanged_failures"] == meta["looked_up_this_run"]
    assert snapshot(cache_home, ("raw",)) == before
    # When they were asked is kept aside, so the next run does not ask again before the TTL.
    assert cache_home.query("select count(*) from meta.citation_rechecks where doi like '10.4321/offline%%' "
                            "and checked_at >= %s", (started,)) == [(2,)]
    assert metadata(run_cache(cache_home, offline), "raw_citation_cache")["looked_up_this_run"] == 0


def test_the_cache_depends_on_every_citing_table():
    spec = next(iter(raw_citation_cache.specs))
    assert {d.asset_key for d in spec.deps} == {
        dg.AssetKey(["raw", t]) for t in ("notes", "bibtex_entries", "ris_entries", "zotero_items")}
    assert spec.group_name == "references" and spec.kinds == {"dlt", "postgres"}
    assert spec.key == dg.AssetKey(["raw", "citation_cache"])

