from .access import AccessRequest
from .downloads import DownloadSession
from .grants import Certificate, Grant, SigningKey
from .licenses import License, TermsAcceptance, TermsDocument
from .manifests import DeletionManifest
from .orders import Order, RefundRequest

__all__ = [
    "AccessRequest",
    "Certificate",
    "DeletionManifest",
    "DownloadSession",
    "Grant",
    "License",
    "Order",
    "RefundRequest",
    "SigningKey",
    "TermsAcceptance",
    "TermsDocument",
]
