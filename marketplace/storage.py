"""Object storage: one boto3 client configured from settings, and the presigning helpers.

Every byte of a dataset goes between the client and the store directly; our server only signs
short-lived URLs and asks the store for metadata.

Every call is bounded (connect/read timeouts, a bounded number of attempts, from settings) so a
request path answers within ~30 s when the store is down or frozen; `storage_error` turns what
boto3 raises into the API's answer: 503 when the store cannot be reached, 410 when it lost a
multipart upload (the SDK then starts a new one)."""

import hashlib
import logging
import threading
import time

import boto3
import redis
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from marketplace.redis_clients import cache_redis
from marketplace.services.errors import Gone, ServiceError

logger = logging.getLogger(__name__)

_local = threading.local()


class StorageUnavailable(ServiceError):
    """The object store could not be reached (down, frozen, or answering 5xx)."""

    status_code = 503
    code = "storage_unavailable"


# Storage error codes that mean "try again later", not "your request is wrong".
_UNAVAILABLE_CODES = {"ServiceUnavailable", "SlowDown", "InternalError", "RequestTimeout", "503"}


def storage_error(exc: Exception) -> ServiceError | None:
    """The API error for a boto3/botocore exception, or None when it is not a storage fault."""
    if isinstance(exc, BotoCoreError):  # connection refused, timeouts, closed connections
        return StorageUnavailable(
            "Object storage is unreachable right now; nothing was changed. Try again shortly."
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if error.get("Code") == "NoSuchUpload":
            return Gone(
                "This upload no longer exists in storage; start a new one.", code="upload_lost"
            )
        if error.get("Code") in _UNAVAILABLE_CODES or status >= 500:
            return StorageUnavailable(
                "Object storage is failing right now; nothing was changed. Try again shortly."
            )
    return None


def _client_config_key():
    return (
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_S3_REGION_NAME,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
        settings.AWS_S3_ADDRESSING_STYLE,
    )


def s3_client(
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    retries: int | None = None,
):
    """A boto3 S3 client for the configured store (cached per thread and configuration; boto3
    clients are thread-safe but sessions are not). Timeouts (seconds) and the total number of
    attempts default to STORAGE_CONNECT_TIMEOUT_SECONDS, STORAGE_READ_TIMEOUT_SECONDS and
    STORAGE_MAX_ATTEMPTS; a worker streaming a large object may ask for a longer read timeout."""
    connect_timeout = connect_timeout or settings.STORAGE_CONNECT_TIMEOUT_SECONDS
    read_timeout = read_timeout or settings.STORAGE_READ_TIMEOUT_SECONDS
    retries = retries or settings.STORAGE_MAX_ATTEMPTS
    key = (*_client_config_key(), connect_timeout, read_timeout, retries)
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    client = cache.get(key)
    if client is None:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.AWS_S3_ENDPOINT_URL,
            region_name=settings.AWS_S3_REGION_NAME,
            aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
            aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": settings.AWS_S3_ADDRESSING_STYLE},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # Total attempts, the first included ("standard" retries throttling, 5xx,
                # timeouts and connection errors with jittered backoff).
                retries={"total_max_attempts": retries, "mode": "standard"},
            ),
        )
        cache[key] = client
    return client


# When this process last reached the store (monotonic seconds, per configuration).
_reached: dict[tuple, float] = {}


def storage_reachable_require() -> None:
    """Signing a URL needs no network, so a URL could be handed out for a store that is down.
    Before signing, make sure the store answers (one HEAD of the bucket, health-check timeouts,
    one attempt); a success is remembered for STORAGE_PROBE_CACHE_SECONDS in this process, so
    the download hot path pays for it once every few seconds. Raises StorageUnavailable."""
    key = _client_config_key() + (bucket(),)
    last = _reached.get(key)
    if last is not None and time.monotonic() - last < settings.STORAGE_PROBE_CACHE_SECONDS:
        return
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    try:
        s3_client(connect_timeout=timeout, read_timeout=timeout, retries=1).head_bucket(
            Bucket=bucket()
        )
    except (BotoCoreError, ClientError) as exc:
        _reached.pop(key, None)
        raise storage_error(exc) or StorageUnavailable(
            "Object storage is not usable right now; try again shortly."
        ) from exc
    _reached[key] = time.monotonic()


def multipart_upload_require(*, key: str, upload_id: str) -> None:
    """The store still holds this multipart upload (410 when it lost it, 503 when the store
    cannot be reached): checked before signing a part URL, so a client learns at once that it
    must start over instead of after uploading a part into nothing."""
    try:
        s3_client().list_parts(Bucket=bucket(), Key=key, UploadId=upload_id, MaxParts=1)
    except (BotoCoreError, ClientError) as exc:
        # No process signs a part of it from an earlier answer any more: each asks storage.
        multipart_upload_held_forget(key=key, upload_id=upload_id)
        raise storage_error(exc) or exc from exc


# --- what storage last said about a multipart upload, shared by every web process ------------
# A Redis set per multipart upload, living STORAGE_PROBE_CACHE_SECONDS from storage's last
# answer that it holds the upload: the part numbers signed while it lives (0, a sentinel, keeps
# it non-empty: parts start at 1). Every process reads and writes the same set, so a client
# asking again for a part (a retry) is caught whichever process signed it first, and one answer
# (the start's own CreateMultipartUpload included) serves every process.
_HELD_PREFIX = "storage-upload-held:"
_HELD_SIGN = """
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  return 1
end
return 0
"""
_CACHE_ERRORS = (redis.RedisError, OSError)


def _held_key(object_key: str, upload_id: str) -> str:
    where = "\0".join((settings.AWS_S3_ENDPOINT_URL or "", bucket(), object_key, upload_id))
    return _HELD_PREFIX + hashlib.sha256(where.encode()).hexdigest()[:40]


def _held_window_ms() -> int:
    return int(settings.STORAGE_PROBE_CACHE_SECONDS * 1000)


def multipart_upload_held_record(*, key: str, upload_id: str, part_number: int = 0) -> None:
    """Storage has just said it holds this multipart upload (it created it, or a ListParts
    found it) and `part_number` is being signed: for STORAGE_PROBE_CACHE_SECONDS every process
    may sign the other parts without asking storage again. Best effort: without Redis, storage
    is asked for every part."""
    window = _held_window_ms()
    if window <= 0:
        return
    name = _held_key(key, upload_id)
    try:
        pipe = cache_redis().pipeline(transaction=True)
        pipe.sadd(name, 0, part_number)
        pipe.pexpire(name, window)
        pipe.execute()
    except _CACHE_ERRORS:
        logger.warning("part-URL probe cache unreachable; storage is asked for every part")


def multipart_upload_held_forget(*, key: str, upload_id: str) -> None:
    """Storage did not confirm it holds this upload: every process asks it again."""
    try:
        cache_redis().delete(_held_key(key, upload_id))
    except _CACHE_ERRORS:
        # Readers that cannot reach it either ask storage; otherwise the record lapses within
        # STORAGE_PROBE_CACHE_SECONDS.
        logger.warning("part-URL probe cache unreachable; storage is asked for every part")


def multipart_upload_held_recently(*, key: str, upload_id: str, part_number: int) -> bool:
    """True when storage said it holds this upload less than STORAGE_PROBE_CACHE_SECONDS ago
    and no process signed `part_number` since (a part asked for again is a retry, possibly
    after storage refused the PUT: storage must be asked). Records `part_number` as signed.
    False, never an error, when Redis cannot answer: the caller asks storage."""
    if _held_window_ms() <= 0:
        return False
    try:
        client = cache_redis()
        return client.eval(_HELD_SIGN, 1, _held_key(key, upload_id), part_number) == 1
    except _CACHE_ERRORS:
        return False


def bucket() -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def presign_part_upload(
    *,
    key: str,
    upload_id: str,
    part_number: int,
    content_length: int | None = None,
    verify: bool = True,
) -> str:
    """A URL for one PUT of a multipart part. No Content-Type is signed: the SDK sends none.
    With `content_length` the Content-Length header is signed too (X-Amz-SignedHeaders
    "content-length;host"): storage refuses a PUT of any other length (SignatureDoesNotMatch).
    `verify=False` skips asking storage whether the upload still exists (the caller did)."""
    if verify:
        multipart_upload_require(key=key, upload_id=upload_id)  # 410 if lost, 503 if unreachable
    params = {"Bucket": bucket(), "Key": key, "UploadId": upload_id, "PartNumber": part_number}
    if content_length is not None:
        params["ContentLength"] = content_length
    return s3_client().generate_presigned_url(
        "upload_part",
        Params=params,
        ExpiresIn=settings.PRESIGNED_UPLOAD_TTL_SECONDS,
        HttpMethod="PUT",
    )


def presign_download(*, key: str, filename: str, ttl: int | None = None) -> str:
    """A GET URL that makes browsers save the file under `filename`; S3 honours Range on it.
    Not issued (StorageUnavailable, 503) while the store cannot be reached."""
    storage_reachable_require()
    return s3_client().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket(),
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        },
        ExpiresIn=ttl or settings.PRESIGNED_DOWNLOAD_TTL_SECONDS,
        HttpMethod="GET",
    )


def storage_bootstrap(*, cors_origins: list[str]) -> list[str]:
    """Create the bucket if missing and apply CORS, lifecycle and public-access rules. Returns
    what was done, one line each. Safe to run repeatedly."""
    client = s3_client()
    done = []
    name = bucket()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if name not in existing:
        params = {"Bucket": name}
        if settings.AWS_S3_REGION_NAME and settings.AWS_S3_REGION_NAME != "us-east-1":
            params["CreateBucketConfiguration"] = {
                "LocationConstraint": settings.AWS_S3_REGION_NAME
            }
        client.create_bucket(**params)
        done.append(f"created bucket {name}")
    else:
        done.append(f"bucket {name} exists")

    def optional(what: str, call, **kwargs) -> bool:
        """Some stores (community MinIO) implement CORS/lifecycle server-wide, not per bucket."""
        try:
            call(**kwargs)
        except client.exceptions.ClientError as exc:
            done.append(
                f"{what} not supported by this store ({exc.response['Error']['Code']}); "
                "configure it on the server"
            )
            return False
        return True

    cors_ok = optional(
        "bucket CORS",
        client.put_bucket_cors,
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": cors_origins,
                    "AllowedMethods": ["PUT", "POST", "GET", "DELETE"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )
    if cors_ok:
        done.append(f"CORS for {', '.join(cors_origins)} (PUT, POST, GET, DELETE; exposes ETag)")
    lifecycle_ok = optional(
        "bucket lifecycle",
        client.put_bucket_lifecycle_configuration,
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }
            ]
        },
    )
    if lifecycle_ok:
        done.append("lifecycle: abort incomplete multipart uploads after 7 days")
    if optional(
        "public access block",
        client.put_public_access_block,
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    ):
        done.append("public access blocked")
    return done
