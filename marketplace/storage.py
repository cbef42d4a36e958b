"""Object storage: one boto3 client configured from settings, and the presigning helpers.

Every byte of a dataset goes between the client and the store directly; our server only signs
short-lived URLs and asks the store for metadata."""

import threading

import boto3
from botocore.config import Config
from django.conf import settings

_local = threading.local()


def _client_config_key():
    return (
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_S3_REGION_NAME,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
        settings.AWS_S3_ADDRESSING_STYLE,
    )


def s3_client(*, connect_timeout: float = 5.0, read_timeout: float = 60.0, retries: int = 3):
    """A boto3 S3 client for the configured store (cached per thread and configuration; boto3
    clients are thread-safe but sessions are not)."""
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
                retries={"max_attempts": retries, "mode": "standard"},
            ),
        )
        cache[key] = client
    return client


def bucket() -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def presign_part_upload(*, key: str, upload_id: str, part_number: int) -> str:
    """A URL for one PUT of a multipart part. No Content-Type is signed: the SDK sends none."""
    return s3_client().generate_presigned_url(
        "upload_part",
        Params={"Bucket": bucket(), "Key": key, "UploadId": upload_id, "PartNumber": part_number},
        ExpiresIn=settings.PRESIGNED_UPLOAD_TTL_SECONDS,
        HttpMethod="PUT",
    )


def presign_download(*, key: str, filename: str, ttl: int | None = None) -> str:
    """A GET URL that makes browsers save the file under `filename`; S3 honours Range on it."""
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
