"""Malware check against a real clamd with the EICAR test signature (conftest.clamd_url)."""

import pytest

from devtools.processes import free_port
from marketplace.ingestion import ClamdClient, ClamdError, Status, inspect_archive
from tests.ingestion.corpus import EICAR, OnceReader, targz, wav


def test_eicar_member_fails_naming_the_signature(clamd_url):
    archive = targz([("data/ok.txt", b"hello\n"), ("data/eicar.com", EICAR), ("a.wav", wav(0.5))])
    report = inspect_archive(OnceReader(archive), clamd=ClamdClient(clamd_url))
    malware = report.check("malware")
    assert malware.status == Status.FAIL and report.status == Status.FAIL
    [finding] = malware.details["findings"]
    assert finding["member"] == "data/eicar.com"
    assert finding["signature"].startswith("Eicar-Test-Signature")
    assert "Eicar-Test-Signature" in malware.summary
    assert malware.details["scanned_clean"] == 2


def test_clean_archive_passes(clamd_url):
    archive = targz([("a.txt", b"clean\n"), ("b.wav", wav(0.5)), ("empty.txt", b"")])
    report = inspect_archive(OnceReader(archive), clamd=ClamdClient(clamd_url))
    assert report.check("malware").status == Status.PASS
    assert report.check("malware").details["scanned_clean"] == 3


def test_members_over_the_stream_limit_are_scanned_partially(clamd_url):
    client = ClamdClient(clamd_url, max_stream_bytes=1000)
    report = inspect_archive(OnceReader(targz([("big.txt", b"x" * 5000 + b"\n")])), clamd=client)
    malware = report.check("malware")
    assert malware.status == Status.WARN  # not shown to be clean: not a pass (issue 11)
    assert malware.details["partially_scanned_members"] == ["big.txt"]
    assert "first 1000 bytes" in malware.summary


def test_client_protocol(clamd_url):
    client = ClamdClient(clamd_url)
    assert client.ping() and client.version().startswith("ClamAV")
    infected = client.scan_bytes(EICAR)
    assert infected.infected and infected.signature.startswith("Eicar-Test-Signature")
    assert not client.scan_bytes(b"harmless").infected


def test_unreachable_clamd_is_an_error_not_a_crash():
    client = ClamdClient(f"tcp://127.0.0.1:{free_port()}", timeout=2)  # nothing listens there
    report = inspect_archive(
        OnceReader(targz([("a.txt", b"a\n"), ("b.txt", b"b\n")])), clamd=client
    )
    malware = report.check("malware")
    assert malware.status == Status.ERROR
    assert len(malware.details["findings"]) == 1  # the first failure disables clamd for the run
    assert report.check("formats").status == Status.PASS
    with pytest.raises(ClamdError):
        client.ping()


def test_bad_urls():
    for url in ("http://x:1", "tcp://nohost", "unix://"):
        with pytest.raises(ValueError):
            ClamdClient(url)
