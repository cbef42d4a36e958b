"""Stripe Connect objects localstripe lacks: Account, AccountLink, Transfer, TransferReversal.

They are localstripe `StripeObject`s, so they live in localstripe's in-memory store, export and
paginate like its own objects, and can be `expand`ed. Events go through localstripe's
`schedule_webhook`, so they are signed and delivered exactly like its own.

Test-only switch: a destination account whose metadata has `emulator_fail_transfers=true` makes
every transfer to it fail with a 400 `balance_insufficient` error, as Stripe does when the
platform balance cannot cover a transfer.
"""

import time
from urllib.parse import urlencode

from localstripe.errors import UserError
from localstripe.resources import Charge, Event, List, StripeObject, schedule_webhook, store

ACCOUNT_TYPES = ("express", "standard", "custom")
ONBOARDING_FIELDS = [
    "business_type",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
FAIL_TRANSFERS_KEY = "emulator_fail_transfers"


def stripe_error(message, param=None, code=None, status=400):
    """A `UserError` rendered as Stripe's `{"error": {"type": "invalid_request_error", ...}}`."""
    contents = {key: value for key, value in (("param", param), ("code", code)) if value}
    return UserError(status, message, contents)


def reject_unknown(params):
    """`params`: the names left over after a function took the ones it knows."""
    unknown = next(iter(params), None)
    if unknown is not None:
        raise stripe_error(f"Received unknown parameter: {unknown}", param=unknown)


def positive_int(value, param, required=True):
    if value is None and not required:
        return None
    if value is None:
        raise stripe_error(f"Missing required param: {param}.", param, "parameter_missing")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if type(value) is not int or value <= 0:
        raise stripe_error("Invalid positive integer", param, "parameter_invalid_integer")
    return value


def optional_str(value, param):
    if value is not None and not isinstance(value, str):
        raise stripe_error(f"Invalid string: {value!r}", param)
    return value


def metadata_dict(value):
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise stripe_error("Invalid object", "metadata")
    return dict(value)


def merge_metadata(current, update):
    """Stripe semantics: keys are merged; a key set to "" is removed; metadata="" clears all."""
    if update == "":
        return {}
    merged = {**current, **metadata_dict(update)}
    return {key: value for key, value in merged.items() if value != ""}


def newest_first(cls, url, limit, starting_after, keep):
    """A Stripe list of the stored `cls` objects that pass `keep`, newest first."""
    li = List(url, limit=limit, starting_after=starting_after)
    prefix = cls.object + ":"
    li._list = [obj for key, obj in reversed(store.items()) if key.startswith(prefix) and keep(obj)]
    return li


class _Stored:
    """Stripe's error bodies for missing objects, instead of localstripe's bare 404."""

    @classmethod
    def _api_retrieve(cls, id):
        obj = store.get(f"{cls.object}:{id}")
        if obj is None:
            noun = cls.object.replace("_", " ")
            raise stripe_error(f"No such {noun}: '{id}'", "id", "resource_missing", 404)
        return obj

    @classmethod
    def _api_delete(cls, id):
        cls._api_retrieve(id)
        return super()._api_delete(id)

    @classmethod
    def _find(cls, id, param):
        """An id given as a request parameter: a missing object is a 400 naming the parameter."""
        if not isinstance(id, str) or not id:
            raise stripe_error(f"Missing required param: {param}.", param, "parameter_missing")
        obj = store.get(f"{cls.object}:{id}")
        if obj is None:
            raise stripe_error(f"No such {param}: '{id}'", param, "resource_missing")
        return obj


class Account(_Stored, StripeObject):
    object = "account"
    _id_prefix = "acct_"
    _updatable = ("email", "metadata", "capabilities", "business_type", "business_profile")

    def __init__(
        self,
        type=None,
        country="US",
        email=None,
        capabilities=None,
        metadata=None,
        business_type=None,
        business_profile=None,
        default_currency=None,
        **kwargs,
    ):
        reject_unknown(kwargs)
        if type not in ACCOUNT_TYPES:
            raise stripe_error(f"Invalid type: must be one of {', '.join(ACCOUNT_TYPES)}", "type")
        if not isinstance(country, str) or len(country) != 2:
            raise stripe_error(f"Invalid country: {country!r}", "country")
        requested = self._requested_capabilities(capabilities) or ["transfers"]
        metadata = metadata_dict(metadata)
        email = optional_str(email, "email")
        super().__init__()  # stores the object: every check must come before

        self.type = type
        self.country = country.upper()
        self.email = email
        self.capabilities = dict.fromkeys(requested, "inactive")
        self.metadata = metadata
        self.business_type = business_type
        self.business_profile = business_profile or {}
        self.default_currency = default_currency or "usd"
        self.charges_enabled = False
        self.payouts_enabled = False
        self.details_submitted = False

    @staticmethod
    def _requested_capabilities(capabilities):
        if capabilities is None:
            return []
        if not isinstance(capabilities, dict):
            raise stripe_error("Invalid object", "capabilities")
        return [
            name
            for name, spec in capabilities.items()
            if isinstance(spec, dict) and str(spec.get("requested")).lower() == "true"
        ]

    @property
    def requirements(self):
        due = [] if self.details_submitted else list(ONBOARDING_FIELDS)
        return {
            "currently_due": due,
            "eventually_due": list(due),
            "past_due": list(due),
            "pending_verification": [],
            "errors": [],
            "current_deadline": None,
            "disabled_reason": "requirements.past_due" if due else None,
        }

    @classmethod
    def _api_update(cls, id, metadata=None, capabilities=None, **data):
        account = cls._api_retrieve(id)
        reject_unknown(k for k in data if k not in cls._updatable)
        requested = cls._requested_capabilities(capabilities)
        optional_str(data.get("email"), "email")
        if metadata is not None:
            account.metadata = merge_metadata(account.metadata, metadata)
        state = "active" if account.details_submitted else "inactive"
        for name in requested:
            account.capabilities.setdefault(name, state)
        for key, value in data.items():
            setattr(account, key, value)
        account._changed()
        return account

    @classmethod
    def _api_list_all(cls, url, limit=None, starting_after=None, created=None, **kwargs):
        reject_unknown(kwargs)
        return newest_first(cls, url, limit, starting_after, lambda account: True)

    def _complete_onboarding(self):
        self.details_submitted = self.charges_enabled = self.payouts_enabled = True
        self.capabilities = dict.fromkeys(self.capabilities, "active")
        self._changed()
        return self

    def _changed(self):
        event = Event("account.updated", self)
        event.account = self.id  # a Connect event names the connected account
        schedule_webhook(event)


def account_link(base_url, /, account=None, type=None, refresh_url=None, return_url=None, **kw):
    """POST /v1/account_links: a link to the emulator's own onboarding page (see app.py)."""
    kw.pop("collect", None)
    kw.pop("collection_options", None)
    reject_unknown(kw)
    account = Account._find(account, "account")
    if type not in ("account_onboarding", "account_update"):
        raise stripe_error("Invalid type: must be account_onboarding or account_update", "type")
    urls = {"return_url": return_url, "refresh_url": refresh_url}
    query = urlencode({k: optional_str(v, k) for k, v in urls.items() if v is not None})
    now = int(time.time())
    return {
        "object": "account_link",
        "created": now,
        "expires_at": now + 300,
        "url": f"{base_url}/_emulator/onboarding/{account.id}" + (f"?{query}" if query else ""),
    }


class Transfer(_Stored, StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(
        self,
        amount=None,
        currency=None,
        destination=None,
        transfer_group=None,
        metadata=None,
        description=None,
        source_transaction=None,
        **kwargs,
    ):
        reject_unknown(kwargs)
        amount = positive_int(amount, "amount")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise stripe_error(f"Invalid currency: {currency}", "currency")
        account = Account._find(destination, "destination")
        if source_transaction is not None:
            self._check_charge(source_transaction)
        metadata = metadata_dict(metadata)
        optional_str(transfer_group, "transfer_group")
        optional_str(description, "description")
        if account.capabilities.get("transfers") != "active":
            raise stripe_error(
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                "destination",
                "insufficient_capabilities_for_transfer",
            )
        if account.metadata.get(FAIL_TRANSFERS_KEY, "").lower() == "true":
            raise stripe_error(
                "You have insufficient available funds in your Stripe account "
                f"(emulator: {account.id} has metadata {FAIL_TRANSFERS_KEY}=true).",
                code="balance_insufficient",
            )
        super().__init__()

        self.amount = amount
        self.currency = currency.lower()
        self.destination = account.id
        self.destination_payment = None
        self.balance_transaction = None
        self.transfer_group = transfer_group
        self.description = description
        self.source_transaction = source_transaction
        self.source_type = "card"
        self.metadata = metadata

    @staticmethod
    def _check_charge(charge_id):
        try:
            Charge._api_retrieve(charge_id)
        except UserError:
            raise stripe_error(
                f"No such charge: '{charge_id}'", "source_transaction", "resource_missing"
            ) from None

    @classmethod
    def _api_create(cls, **data):
        transfer = cls(**data)
        schedule_webhook(Event("transfer.created", transfer))
        return transfer

    @classmethod
    def _api_update(cls, id, metadata=None, description=None, **kwargs):
        transfer = cls._api_retrieve(id)
        reject_unknown(kwargs)
        if metadata is not None:
            transfer.metadata = merge_metadata(transfer.metadata, metadata)
        if description is not None:
            transfer.description = optional_str(description, "description")
        schedule_webhook(Event("transfer.updated", transfer))
        return transfer

    @classmethod
    def _api_delete(cls, id):
        raise UserError(405, "Method Not Allowed")

    @classmethod
    def _api_list_all(
        cls,
        url,
        destination=None,
        transfer_group=None,
        limit=None,
        starting_after=None,
        created=None,
        **kwargs,
    ):
        reject_unknown(kwargs)
        return newest_first(
            cls,
            url,
            limit,
            starting_after,
            lambda t: destination in (None, t.destination)
            and transfer_group in (None, t.transfer_group),
        )

    def _reversal_list(self, limit=None, starting_after=None):
        url = f"/v1/transfers/{self.id}/reversals"
        return newest_first(TransferReversal, url, limit, starting_after, lambda r: r._of(self))

    @property
    def reversals(self):
        return self._reversal_list()

    @property
    def amount_reversed(self):
        return sum(r.amount for r in self._reversal_list()._list)

    @property
    def reversed(self):
        return self.amount_reversed >= self.amount

    @classmethod
    def _api_create_reversal(cls, id, amount=None, metadata=None, description=None, **kwargs):
        kwargs.pop("refund_application_fee", None)
        reject_unknown(kwargs)
        transfer = cls._api_retrieve(id)
        remaining = transfer.amount - transfer.amount_reversed
        amount = positive_int(amount, "amount", required=False) or remaining
        if remaining == 0:
            raise stripe_error(f"Transfer {id} has already been fully reversed.", "amount")
        if amount > remaining:
            raise stripe_error(
                f"Reversal amount ({amount}) is greater than the amount remaining on the "
                f"transfer ({remaining}).",
                "amount",
            )
        description = optional_str(description, "description")
        reversal = TransferReversal(transfer, amount, metadata_dict(metadata), description)
        schedule_webhook(Event("transfer.reversed", transfer))
        return reversal

    @classmethod
    def _api_list_reversals(cls, id, limit=None, starting_after=None, **kwargs):
        reject_unknown(kwargs)
        return cls._api_retrieve(id)._reversal_list(limit, starting_after)

    @classmethod
    def _api_retrieve_reversal(cls, id, reversal_id, **kwargs):
        reject_unknown(kwargs)
        reversal = TransferReversal._api_retrieve(reversal_id)
        if not reversal._of(cls._api_retrieve(id)):
            raise stripe_error(f"No such transfer reversal: '{reversal_id}'", "id", status=404)
        return reversal


class TransferReversal(_Stored, StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer, amount, metadata, description):
        super().__init__()
        self.transfer = transfer.id
        self.amount = amount
        self.currency = transfer.currency
        self.metadata = metadata
        self.description = description
        self.balance_transaction = None
        self.destination_payment_refund = None
        self.source_refund = None

    def _of(self, transfer):
        return self.transfer == transfer.id

    @classmethod
    def _api_create(cls, **data):
        raise UserError(405, "Method Not Allowed")
