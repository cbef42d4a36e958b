from .access import AccessRequest
from .downloads import DownloadSession
from .grants import Certificate, Grant, SigningKey
from .licenses import License, TermsAcceptance, TermsDocument

__all__ = [
    "AccessRequest",
    "Certificate",
    "DownloadSession",
    "Grant",
    "License",
    "SigningKey",
    "TermsAcceptance",
    "TermsDocument",
]
