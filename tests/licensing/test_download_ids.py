"""Public ids (the download session's among them): prefix + 20 characters of [a-z0-9], each
uniform over the 36 (random bytes mapped by `byte % 36`, the bytes 252..255 dropped)."""

import string
from collections import Counter

from licensing.models.downloads import new_download_id
from marketplace.models import catalogue
from marketplace.models.catalogue import new_public_id

ALPHABET = string.ascii_lowercase + string.digits


def test_shape():
    ids = {new_download_id() for _ in range(1000)}
    assert len(ids) == 1000
    for public_id in ids:
        assert public_id.startswith("dl") and len(public_id) == 22
        assert set(public_id[2:]) <= set(ALPHABET)


def test_bytes_map_modulo_36_and_the_last_four_values_are_dropped(monkeypatch):
    draws = iter(
        [
            bytes([0, 35, 36, 251, 252, 253, 254, 255] + [1] * 16),  # 20 usable bytes
            bytes([2] * 24),
        ]
    )
    monkeypatch.setattr(catalogue.secrets, "token_bytes", lambda n: next(draws))
    # 0 -> a, 35 -> 9, 36 -> a, 251 = 6 * 36 + 35 -> 9; 252..255 dropped, then 16 x b
    assert new_public_id("x") == "xa9a9" + "b" * 16


def test_too_few_usable_bytes_draw_again(monkeypatch):
    draws = iter([bytes([255] * 10 + [0] * 14), bytes([1] * 24)])
    monkeypatch.setattr(catalogue.secrets, "token_bytes", lambda n: next(draws))
    assert new_public_id("") == "a" * 14 + "b" * 6


def test_every_character_is_about_equally_likely():
    counts = Counter("".join(new_public_id("")[-20:] for _ in range(9000)))
    assert set(counts) == set(ALPHABET)
    expected = 9000 * 20 / 36  # 5000 each; the standard deviation is ~70
    assert all(abs(count - expected) < 500 for count in counts.values()), counts
