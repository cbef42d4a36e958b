"""Consent-withdrawal test state, built the production way: a paid dataset whose archive holds
members of two contributors, published through the API and the review service; shares through
the contributors service; the contributor's invitation claimed; purchases paid at the Stripe
emulator and confirmed by its webhook."""

import gzip
import hashlib
import io
import json
import os
import tarfile
import warnings
from dataclasses import dataclass

from django.core import mail
from django.test import Client
from joserfc import jws
from joserfc.jwk import KeySet

from contributors.models import Contributor
from contributors.services.invitations import contributor_claim, contributor_invite_send
from contributors.services.shares import share_table_set
from licensing.models import Grant
from marketplace.models import Dataset
from tests.catalogue_helpers import publish_dataset, wav_bytes
from tests.licensing.test_orders import deliver_committed, order_for, pay
from tests.parties import Party, claim_token, party, verified_address

PRICE = 1_000  # base price, cents
ALICE = "alice@example.org"
BOB = "bob@example.org"


def archive(members: dict[str, bytes]) -> bytes:
    """A real .tar.gz of these members, plus a TSV index (random, so no two are equal)."""
    index = b"path\tsentence\n" + b"".join(
        p.encode() + b"\t" + os.urandom(6).hex().encode() + b"\n"
        for p in members
        if p.endswith(".wav")
    )
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, payload in {"index.tsv": index, **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Corpus:
    dataset: Dataset
    submission_id: str
    files: dict[str, bytes]  # path -> bytes of version 1

    def digests(self, prefix: str) -> set[str]:
        return {sha(b) for p, b in self.files.items() if p.startswith(prefix)}


def corpus(provider: Party, name: str = "Two voices") -> Corpus:
    files = {
        "clips/alice/a1.wav": wav_bytes(3_000),
        "clips/alice/a2.wav": wav_bytes(3_200),
        "clips/bob/b1.wav": wav_bytes(2_800),
    }
    sid, version = publish_dataset(
        provider.secret,
        name=name,
        data=archive(files),
        isPaid=True,
        basePriceCents=PRICE,
        currency="usd",
    )
    return Corpus(Dataset.objects.get(pk=version.dataset_id), sid, files)


def shares(provider: Party, dataset: Dataset, lines: list[dict]) -> None:
    share_table_set(actor=provider.actor, dataset=dataset, basis="percentage", shares=lines)


def shared_corpus(provider: Party) -> Corpus:
    """`corpus` whose revenue shares name Alice (30 %) and Bob (20 %) besides the organisation
    (50 %); no member mapping yet."""
    c = corpus(provider)
    shares(
        provider,
        c.dataset,
        [
            {"organization": True, "percent": "50"},
            {"email": ALICE, "percent": "30"},
            {"email": BOB, "percent": "20"},
        ],
    )
    return c


def claimed(dataset: Dataset, email: str) -> Party:
    """A person who signed up and claimed the contributor profile invited as `email`."""
    profile = Contributor.objects.get(email=email)
    assert contributor_invite_send(contributor_id=profile.pk, dataset_id=dataset.pk)
    token = claim_token([m for m in mail.outbox if m.to == [email]][-1].body)
    person = party()
    contributor_claim(token=token, user=verified_address(person.user, email))
    return person


def buy(buyer: Party, dataset: Dataset) -> Grant:
    order = order_for(buyer, dataset)
    pay(order)
    deliver_committed("payment_intent.succeeded", order["paymentIntentId"])
    return Grant.objects.get(order_ref=order["id"], status="active")


def verify_offline(token: str) -> dict:
    """The manifest's claims, verified with nothing but the published JWK Set (joserfc)."""
    keyset = Client().get("/.well-known/jwks.json").json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verified = jws.deserialize_compact(
            token, KeySet.import_key_set(keyset), algorithms=["EdDSA"]
        )
    return json.loads(verified.payload)


def buyers() -> tuple[Party, Party]:
    return party(), party()
