"""Direct-to-storage uploads (MDC §6). Bytes never pass through our server: we start a storage
multipart upload, sign one short-lived URL per part, and on completion ask the store which parts
it holds, complete the upload and check the stored size. Completion reads no bytes, so it
answers in the same time whatever the file's size.

The package: `start` (rules and the start), `parts` (lookup, part URLs, stored parts, abort,
the web page's slots), `complete` (completion, and the browser's assembly before it),
`housekeeping` (expiry, purge).
"""

from marketplace.services.uploads.complete import file_upload_assemble, file_upload_complete
from marketplace.services.uploads.housekeeping import file_uploads_expire, submission_files_purge
from marketplace.services.uploads.parts import (
    StoredPart,
    UploadParts,
    UploadSlot,
    file_upload_abort,
    file_upload_get,
    file_upload_part_url,
    file_upload_parts_list,
    submission_upload_slots,
)
from marketplace.services.uploads.start import (
    ARCHIVE_SUFFIXES,
    LIVE_STATES,
    MAX_PARTS,
    MIN_PART_BYTES,
    file_upload_start,
)

__all__ = [
    "ARCHIVE_SUFFIXES",
    "LIVE_STATES",
    "MAX_PARTS",
    "MIN_PART_BYTES",
    "StoredPart",
    "UploadParts",
    "UploadSlot",
    "file_upload_abort",
    "file_upload_assemble",
    "file_upload_complete",
    "file_upload_get",
    "file_upload_part_url",
    "file_upload_parts_list",
    "file_upload_start",
    "file_uploads_expire",
    "submission_files_purge",
    "submission_upload_slots",
]
