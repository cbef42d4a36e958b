"""Small, real demo datasets for `seed_demo`: deterministic .tar.gz archives (a TSV index and
WAV clips) published through the same services a provider and a reviewer use, and the provider's
submissions that are not published (one in review, one rejected, one draft)."""

import gzip
import hashlib
import io
import math
import struct
import tarfile
import wave

from botocore.exceptions import ClientError

from marketplace.actors import Actor
from marketplace.models import CheckRun, Dataset, FileUpload, Submission, User
from marketplace.services.ingestion import check_run_execute, submission_checks_conclude
from marketplace.services.registry import registry_schema_ensure
from marketplace.services.review import submission_approve, submission_reject
from marketplace.services.submissions import (
    submission_after_submit,
    submission_create,
    submission_submit,
    submission_update,
)
from marketplace.services.uploads import file_upload_complete, file_upload_get, file_upload_start
from marketplace.storage import bucket, s3_client

DEMO_DATASETS = [
    {
        "env": "DEMO_FREE_DATASET_ID",
        "slug": "demo-welsh-read-speech",
        "name": "Demo Welsh Read Speech",
        "clips": 6,
        "sample": True,
        "fields": {
            "short_description": "Read sentences in Welsh with transcriptions.",
            "long_description": "Volunteers read prompted sentences. Each clip has a transcription "
            "in the TSV index. Demo data: tones stand in for speech.",
            "locale": "cy",
            "task": "ASR",
            "format": "TSV",
            "license_abbreviation": "CC-BY-4.0",
            "visibility": "public",
            "is_paid": False,
        },
    },
    {
        "env": "DEMO_RESTRICTED_DATASET_ID",
        "slug": "demo-clinical-dictation",
        "name": "Demo Clinical Dictation",
        "clips": 4,
        "sample": False,
        "fields": {
            "short_description": "Dictated clinical notes, access on request.",
            "long_description": "Synthetic dictations of clinical notes. Restricted: the provider "
            "reviews each access request.",
            "locale": "en",
            "task": "ASR",
            "format": "TSV",
            "license_abbreviation": "CC-BY-NC-4.0",
            "visibility": "restricted",
            "is_paid": False,
            "restrictions": "No re-identification attempts.",
        },
    },
    {
        "env": "DEMO_PAID_DATASET_ID",
        "slug": "demo-swahili-conversations",
        "name": "Demo Swahili Conversations",
        "clips": 8,
        "sample": True,
        "fields": {
            "short_description": "Conversational Swahili, compensated contributors.",
            "long_description": "Two-speaker conversations with turn-level transcripts. Revenue is "
            "shared with the speakers.",
            "locale": "sw",
            "task": "ASR",
            "format": "TSV",
            "license_abbreviation": "CC-BY-SA-4.0",
            "visibility": "public",
            "is_paid": True,
            "base_price_cents": 2500,
            "currency": "usd",
        },
    },
]


S = Submission.Status

# The provider's submissions besides the published datasets, each in the state named.
DEMO_SUBMISSIONS = [
    {
        "name": "Demo Yoruba Market Interviews",
        "slug": "demo-yoruba-market-interviews",
        "status": S.IN_REVIEW,
        "clips": 5,
        "base_freq": 250,
        "fields": {
            "short_description": "Interviews with traders at a Lagos market, in Yoruba.",
            "long_description": "Short interviews recorded with consent, transcribed by native "
            "speakers. Demo data: tones stand in for speech.",
            "locale": "yo",
            "task": "ASR",
            "format": "TSV",
            "license_abbreviation": "CC-BY-4.0",
            "visibility": "public",
            "is_paid": False,
        },
    },
    {
        "name": "Demo Street Noise Recordings",
        "slug": "demo-street-noise-recordings",
        "status": S.REJECTED,
        "clips": 3,
        "base_freq": 270,
        "note": "The clips are test tones, not street recordings, and the datasheet does not say "
        "where or with which microphones they were made. Upload the field recordings and "
        "describe the recording set-up, then submit again.",
        "fields": {
            "short_description": "City street ambience for noise-robust speech models.",
            "long_description": "Ambient recordings of busy streets at different times of day.",
            "locale": "en",
            "task": "ASR",
            "format": "TSV",
            "license_abbreviation": "CC-BY-4.0",
            "visibility": "public",
            "is_paid": False,
        },
    },
    {
        "name": "Demo Tamil Podcast Excerpts",
        "slug": "demo-tamil-podcast-excerpts",
        "status": S.DRAFT,
        "fields": {"short_description": "Excerpts of Tamil podcasts; datasheet in progress."},
    },
]


def _wav(seconds: float, freq: float) -> bytes:
    rate = 16_000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(int(seconds * rate))
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def demo_archive(slug: str, clips: int, base_freq: int = 220) -> bytes:
    """Byte-for-byte reproducible (fixed mtimes, gzip mtime 0), so re-seeding gives the same
    SHA-256 as the published version. `base_freq` gives an archive clips of its own (the
    published datasets keep the default, so their checksums never change)."""
    members = {"clips.tsv": "path\tsentence\tduration_s\n"}
    audio = {}
    for i in range(clips):
        name = f"clips/{slug}-{i:03d}.wav"
        audio[name] = _wav(0.5 + 0.1 * i, base_freq + 40 * i)
        members["clips.tsv"] += f"{name}\tDemo sentence number {i}.\t{0.5 + 0.1 * i:.1f}\n"
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, content in [("clips.tsv", members["clips.tsv"].encode()), *audio.items()]:
            info = tarfile.TarInfo(f"{slug}/{name}")
            info.size = len(content)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _upload(actor: Actor, submission: Submission, kind: str, data: bytes, filename: str) -> None:
    upload = file_upload_start(
        actor=actor,
        submission_id=submission.public_id,
        kind=kind,
        filename=filename,
        file_size=len(data),
        mime_type="application/gzip",
    )
    etag = (
        s3_client()
        .upload_part(
            Bucket=bucket(),
            Key=upload.key,
            UploadId=upload.storage_upload_id,
            PartNumber=1,
            Body=data,
        )["ETag"]
        .strip('"')
    )
    upload = file_upload_get(actor=actor, upload_id=upload.public_id, kind=kind)
    file_upload_complete(
        actor=actor,
        upload=upload,
        storage_upload_id=upload.storage_upload_id,
        parts=[{"partNumber": 1, "etag": etag}],
        checksum=hashlib.sha256(data).hexdigest(),
    )


def _ensure_object(object_key: str, data: bytes) -> None:
    """moto keeps objects in memory: after a restart, put the (identical) archive back."""
    client = s3_client()
    try:
        client.head_object(Bucket=bucket(), Key=object_key)
    except ClientError:
        client.put_object(
            Bucket=bucket(), Key=object_key, Body=data, ContentType="application/gzip"
        )


def _checks_run_inline(submission: Submission) -> Submission:
    """The automatic checks, here rather than on a worker, so the demo is ready now."""
    submission_after_submit(submission_pk=submission.pk)
    for run in CheckRun.objects.filter(submission=submission).order_by("pk"):
        check_run_execute(run_pk=run.pk)
    return submission_checks_conclude(submission_pk=submission.pk)


def demo_datasets_ensure(*, provider: Actor, reviewer: User) -> dict[str, str]:
    out = {}
    for spec in DEMO_DATASETS:
        archive = demo_archive(spec["slug"], spec["clips"])
        sample = demo_archive(f"{spec['slug']}-sample", 2) if spec["sample"] else None
        dataset = Dataset.objects.filter(slug=spec["slug"]).select_related("latest_version").first()
        if dataset is None:
            submission = submission_create(actor=provider, name=spec["name"])
            submission_update(
                actor=provider, submission_id=submission.public_id, data=spec["fields"]
            )
            _upload(provider, submission, "dataset", archive, f"{spec['slug']}.tar.gz")
            if sample:
                _upload(provider, submission, "sample", sample, f"{spec['slug']}-sample.tar.gz")
            submission_submit(actor=provider, submission_id=submission.public_id, agree=True)
            submission = _checks_run_inline(submission)
            version = submission_approve(submission=submission, actor=reviewer)
            dataset = version.dataset
        else:
            version = dataset.latest_version
            _ensure_object(version.archive_key, archive)
            if sample and version.sample_key:
                _ensure_object(version.sample_key, sample)
        # The loading schema of load_dataset, generated now rather than on the first request.
        registry_schema_ensure(dataset=dataset)
        out[spec["env"]] = dataset.public_id
    return out


def demo_submissions_ensure(*, provider: Actor, reviewer: User) -> list[Submission]:
    """The provider's unpublished submissions (DEMO_SUBMISSIONS), found by name. One the seed
    left half-way (uploaded but not submitted, or checks not concluded) is taken on to its
    state; one that is past it, or that someone changed since (a rejected one edited back to
    draft), is left as it is. Their archives are put back in storage when it lost them."""
    out = []
    for spec in DEMO_SUBMISSIONS:
        submission = (
            Submission.objects.filter(organization=provider.organization, name=spec["name"])
            .exclude(status=S.DELETED)
            .select_related("file_upload")
            .order_by("pk")
            .first()
        )
        if submission is None:
            submission = submission_create(actor=provider, name=spec["name"])
            submission = submission_update(
                actor=provider, submission_id=submission.public_id, data=spec["fields"]
            )
        if spec["status"] == S.DRAFT:
            out.append(submission)
            continue
        archive = demo_archive(spec["slug"], spec["clips"], spec["base_freq"])
        uploaded = (
            submission.file_upload is not None
            and submission.file_upload.state == FileUpload.State.COMPLETED
        )
        if submission.status == S.DRAFT and not uploaded:
            _upload(provider, submission, "dataset", archive, f"{spec['slug']}.tar.gz")
            submission = submission_submit(
                actor=provider, submission_id=submission.public_id, agree=True
            )
        if submission.status in (S.SUBMITTED, S.CHECKING):
            submission = _checks_run_inline(submission)
        if spec["status"] == S.REJECTED and submission.status == S.IN_REVIEW:
            submission = submission_reject(
                submission=submission, actor=reviewer, reason=spec["note"]
            )
        submission.refresh_from_db()
        if submission.file_upload is not None and submission.file_upload.key:
            _ensure_object(submission.file_upload.key, archive)
        out.append(submission)
    return out
