"""TokClient and its resources, mirroring the API's paths."""

from __future__ import annotations

import copy
import datetime
from decimal import Decimal
import os
from typing import Any, Callable, Literal, Mapping, NamedTuple, Optional, Sequence, TypeVar, Union, overload
from urllib.parse import quote

from . import models as m
from ._http import RetryEvent, Transport
from ._model import Model
from ._response import Response
from .pagination import Page

DEFAULT_BASE_URL = "https://api.tokapi.io/v1"
SANDBOX_BASE_URL = "https://sandbox.api.tokapi.io/v1"

M = TypeVar("M", bound=Model)
Date = Union[str, datetime.date]


Decode = Callable[[Mapping[str, Any]], M]


class TokClient:
    """The Tok API client.

    ``api_key`` defaults to the TOK_API_KEY environment variable and ``base_url`` to
    TOK_API_URL, else https://api.tokapi.io/v1 for a live key and
    https://sandbox.api.tokapi.io/v1 for a sandbox key.
    ``timeout`` is per attempt, in seconds; ``max_retries`` counts retries after a 429, a
    502/503/504 or a connection error; ``on_retry`` is called before each retry.
    """

    def __init__(self, api_key: Optional[str] = None, *, base_url: Optional[str] = None, timeout: float = 30.0,
                 max_retries: int = 3, max_retry_delay: float = 60.0,
                 on_retry: Optional[Callable[[RetryEvent], None]] = None):
        key = api_key or os.environ.get("TOK_API_KEY")
        if not key:
            raise ValueError("TokClient: no API key (pass api_key or set TOK_API_KEY)")
        default = SANDBOX_BASE_URL if key.startswith("tok_sandbox_") else DEFAULT_BASE_URL
        self._transport = Transport(api_key=key, base_url=base_url or os.environ.get("TOK_API_URL") or default,
                                    timeout=timeout, max_retries=max_retries, max_retry_delay=max_retry_delay,
                                    on_retry=on_retry)
        self._resources()

    def _resources(self) -> None:
        self.banks = Banks(self)
        self.consents = Consents(self)
        self.accounts = Accounts(self)
        self.transactions = Transactions(self)
        self.standing_orders = StandingOrders(self)
        self.webhooks = Webhooks(self)
        self.events = Events(self)
        self.payments = Payments(self)
        self.vrp = Vrp(self)
        self.refunds = Refunds(self)
        self.organisation = Organisation(self)
        self.api_keys = ApiKeys(self)
        self.members = Members(self)
        self.sandbox = Sandbox(self)

    def with_options(self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None) -> TokClient:
        """A copy of this client with another timeout or retry count."""
        other = copy.copy(self)
        other._transport = copy.copy(self._transport)
        if timeout is not None:
            other._transport.timeout = timeout
        if max_retries is not None:
            other._transport.max_retries = max_retries
        other._resources()
        return other

    def request(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
                headers: Optional[Mapping[str, str]] = None, idempotency_key: Optional[str] = None,
                creates: bool = False) -> tuple[Any, Response]:
        """Any API call, for endpoints this SDK does not wrap yet: the parsed JSON body (None for
        204) and the response. Errors are raised as the typed TokError subclasses."""
        return self._transport.send(method, path, query=query, body=body, headers=headers,
                                    idempotency_key=idempotency_key, creates=creates)

    def _one(self, decode: Decode[M], method: str, path: str, body: Any = None, *, creates: bool = False,
             idempotency_key: Optional[str] = None) -> M:
        data, response = self.request(method, path, body=body, creates=creates, idempotency_key=idempotency_key)
        obj = decode(data or {})
        object.__setattr__(obj, "_http_response", response)
        return obj

    def _page(self, decode: Decode[M], path: str, query: Mapping[str, Any]) -> Page[M]:
        def fetch(cursor: Optional[str]) -> Page[M]:
            data, response = self.request("GET", path, query={**query, "cursor": cursor})
            return Page([decode(d) for d in data["data"]], bool(data.get("hasMore")), data.get("nextCursor"),
                        response, fetch)
        return fetch(query.get("cursor"))


def _seg(s: str) -> str:
    return quote(s, safe="")


def _date(d: Optional[Date]) -> Optional[str]:
    return d.isoformat() if isinstance(d, datetime.date) else d


def _drop_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


Amount = Union[str, Decimal]


@overload
def _amount(v: Amount) -> str: ...
@overload
def _amount(v: None) -> None: ...
def _amount(v: Optional[Amount]) -> Optional[str]:
    """An amount for the wire: a decimal string or decimal.Decimal, never a float."""
    if isinstance(v, float):
        raise TypeError("amounts must be decimal strings or decimal.Decimal, not floats")
    return None if v is None else str(v)


class PeriodicLimit(NamedTuple):
    """One periodic limit of a VRP consent: at most ``maximum_amount`` a DAY, WEEK, MONTH or
    YEAR, aligned to the CONSENT's start (default) or the CALENDAR."""

    maximum_amount: Amount
    period_type: Literal["DAY", "WEEK", "MONTH", "YEAR"]
    period_alignment: Optional[Literal["CONSENT", "CALENDAR"]] = None


class _Resource:
    def __init__(self, client: TokClient):
        self._c = client


class Banks(_Resource):
    def list(self, *, country: Optional[str] = None, service: Optional[str] = None) -> Page[m.Bank]:
        return self._c._page(m.Bank.from_dict, "/banks", {"country": country, "service": service})

    def get(self, bank_id: str) -> m.Bank:
        return self._c._one(m.Bank.from_dict, "GET", f"/banks/{_seg(bank_id)}")


class Consents(_Resource):
    def create(self, *, callback_url: str, bank_id: Optional[str] = None, access: Optional[Sequence[str]] = None,
               valid_until: Optional[Date] = None, locale: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> m.Consent:
        """Starts a consent; send the customer to ``redirect_url``: the bank's SCA page, or
        without ``bank_id`` Tok's hosted pages, where the customer picks the bank (in
        ``locale``, default the browser's language). Retried safely under an Idempotency-Key
        (a UUID unless given)."""
        body = _drop_none({"bankId": bank_id, "callbackUrl": callback_url,
                           "access": list(access) if access is not None else None, "validUntil": _date(valid_until),
                           "locale": locale})
        return self._c._one(m.Consent.from_dict, "POST", "/consents", body, creates=True, idempotency_key=idempotency_key)

    def list(self, *, status: Optional[str] = None, bank_id: Optional[str] = None, limit: Optional[int] = None,
             cursor: Optional[str] = None) -> Page[m.Consent]:
        return self._c._page(m.Consent.from_dict, "/consents", {"status": status, "bankId": bank_id, "limit": limit, "cursor": cursor})

    def get(self, consent_id: str) -> m.Consent:
        return self._c._one(m.Consent.from_dict, "GET", f"/consents/{_seg(consent_id)}")

    def revoke(self, consent_id: str) -> m.Consent:
        """Revokes the consent at the bank and at Tok."""
        return self._c._one(m.Consent.from_dict, "DELETE", f"/consents/{_seg(consent_id)}")

    def renew(self, consent_id: str, *, callback_url: Optional[str] = None, valid_until: Optional[Date] = None,
              idempotency_key: Optional[str] = None) -> m.Consent:
        """Starts a renewal with a new SCA on the same bank connection."""
        body = _drop_none({"callbackUrl": callback_url, "validUntil": _date(valid_until)})
        return self._c._one(m.Consent.from_dict, "POST", f"/consents/{_seg(consent_id)}/renew", body, creates=True,
                            idempotency_key=idempotency_key)

    def refresh(self, consent_id: str, *, psu_ip_address: Optional[str] = None,
                idempotency_key: Optional[str] = None) -> m.ConsentRefresh:
        """Syncs the consent's accounts now (202; sync.completed follows). Without ``psu_ip_address``
        it takes one of the day's unattended accesses (AccessExceededError when none is left)."""
        body = _drop_none({"psuIpAddress": psu_ip_address})
        return self._c._one(m.ConsentRefresh.from_dict, "POST", f"/consents/{_seg(consent_id)}/refresh", body, creates=True,
                            idempotency_key=idempotency_key)


class Accounts(_Resource):
    def list(self, *, consent_id: Optional[str] = None, bank_id: Optional[str] = None, currency: Optional[str] = None,
             limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.Account]:
        return self._c._page(m.Account.from_dict, "/accounts", {"consentId": consent_id, "bankId": bank_id, "currency": currency,
                                                      "limit": limit, "cursor": cursor})

    def get(self, account_id: str) -> m.Account:
        return self._c._one(m.Account.from_dict, "GET", f"/accounts/{_seg(account_id)}")

    def balances(self, account_id: str) -> m.AccountBalances:
        return self._c._one(m.AccountBalances.from_dict, "GET", f"/accounts/{_seg(account_id)}/balances")


class Transactions(_Resource):
    def list(self, account_id: str, *, date_from: Optional[Date] = None, date_to: Optional[Date] = None,
             status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.Transaction]:
        """Newest first; ``status`` is booked, pending or all (default)."""
        return self._c._page(m.Transaction.from_dict, f"/accounts/{_seg(account_id)}/transactions",
                             {"dateFrom": _date(date_from), "dateTo": _date(date_to), "status": status, "limit": limit,
                              "cursor": cursor})

    def get(self, account_id: str, transaction_id: str) -> m.Transaction:
        return self._c._one(m.Transaction.from_dict, "GET", f"/accounts/{_seg(account_id)}/transactions/{_seg(transaction_id)}")

    def changes(self, account_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.TransactionChange]:
        """What changed since ``cursor`` (everything without one); keep the last page's ``next_cursor``."""
        return self._c._page(m.TransactionChange.from_dict, f"/accounts/{_seg(account_id)}/transactions/changes",
                             {"limit": limit, "cursor": cursor})


class StandingOrders(_Resource):
    def list(self, account_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.StandingOrder]:
        return self._c._page(m.StandingOrder.from_dict, f"/accounts/{_seg(account_id)}/standing-orders", {"limit": limit, "cursor": cursor})

    def get(self, account_id: str, standing_order_id: str) -> m.StandingOrder:
        return self._c._one(m.StandingOrder.from_dict, "GET", f"/accounts/{_seg(account_id)}/standing-orders/{_seg(standing_order_id)}")


class Webhooks(_Resource):
    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.Webhook]:
        return self._c._page(m.Webhook.from_dict, "/webhooks", {"limit": limit, "cursor": cursor})

    def create(self, *, url: str, events: Sequence[str], description: Optional[str] = None,
               enabled: Optional[bool] = None, idempotency_key: Optional[str] = None) -> m.WebhookWithSecret:
        """Registers an endpoint; the returned ``secret`` is shown only here."""
        body = _drop_none({"url": url, "events": list(events), "description": description, "enabled": enabled})
        return self._c._one(m.WebhookWithSecret.from_dict, "POST", "/webhooks", body, creates=True, idempotency_key=idempotency_key)

    def get(self, webhook_id: str) -> m.Webhook:
        return self._c._one(m.Webhook.from_dict, "GET", f"/webhooks/{_seg(webhook_id)}")

    def update(self, webhook_id: str, *, url: Optional[str] = None, events: Optional[Sequence[str]] = None,
               description: Optional[str] = None, enabled: Optional[bool] = None) -> m.Webhook:
        body = _drop_none({"url": url, "events": list(events) if events is not None else None,
                           "description": description, "enabled": enabled})
        return self._c._one(m.Webhook.from_dict, "PATCH", f"/webhooks/{_seg(webhook_id)}", body)

    def delete(self, webhook_id: str) -> None:
        self._c.request("DELETE", f"/webhooks/{_seg(webhook_id)}")

    def rotate_secret(self, webhook_id: str) -> m.WebhookWithSecret:
        """A new secret; the old one keeps signing (a second signature) for 24 hours."""
        return self._c._one(m.WebhookWithSecret.from_dict, "POST", f"/webhooks/{_seg(webhook_id)}/rotate-secret")

    def test(self, webhook_id: str) -> m.PingEvent:
        """Sends a webhook.ping to this endpoint."""
        return self._c._one(m.PingEvent.from_dict, "POST", f"/webhooks/{_seg(webhook_id)}/test")

    def deliveries(self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.WebhookDelivery]:
        return self._c._page(m.WebhookDelivery.from_dict, f"/webhooks/{_seg(webhook_id)}/deliveries", {"limit": limit, "cursor": cursor})

    def delivery(self, webhook_id: str, delivery_id: str) -> m.WebhookDelivery:
        return self._c._one(m.WebhookDelivery.from_dict, "GET", f"/webhooks/{_seg(webhook_id)}/deliveries/{_seg(delivery_id)}")

    def redeliver(self, webhook_id: str, delivery_id: str) -> m.WebhookDelivery:
        return self._c._one(m.WebhookDelivery.from_dict, "POST",
                            f"/webhooks/{_seg(webhook_id)}/deliveries/{_seg(delivery_id)}/redeliver")


class Events(_Resource):
    def list(self, *, type: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.Event]:
        return self._c._page(m.event_from_dict, "/events", {"type": type, "limit": limit, "cursor": cursor})

    def get(self, event_id: str) -> m.Event:
        return self._c._one(m.event_from_dict, "GET", f"/events/{_seg(event_id)}")


class Payments(_Resource):
    def create(self, *, creditor_iban: str, amount: Union[str, Decimal], currency: str, callback_url: str,
               creditor_name: Optional[str] = None, remittance_info: Optional[str] = None,
               account_id: Optional[str] = None, bank_id: Optional[str] = None, debtor_iban: Optional[str] = None,
               end_to_end_id: Optional[str] = None, execution_date: Optional[Date] = None,
               instant: Optional[bool] = None, psu_ip_address: Optional[str] = None,
               locale: Optional[str] = None, idempotency_key: Optional[str] = None) -> m.Payment:
        """Initiates a payment (at most one of ``account_id`` and ``bank_id``; with neither the
        customer picks the bank on Tok's hosted pages, in ``locale``); send the customer
        to ``redirect_url``. ``amount`` is a decimal string or a decimal.Decimal, never a float.
        Retried safely under an Idempotency-Key (a UUID unless given)."""
        body = _drop_none({"creditorIban": creditor_iban, "amount": _amount(amount), "currency": currency,
                           "callbackUrl": callback_url, "creditorName": creditor_name, "remittanceInfo": remittance_info,
                           "accountId": account_id, "bankId": bank_id, "debtorIban": debtor_iban,
                           "endToEndId": end_to_end_id, "executionDate": _date(execution_date), "instant": instant,
                           "psuIpAddress": psu_ip_address, "locale": locale})
        return self._c._one(m.Payment.from_dict, "POST", "/payments", body, creates=True, idempotency_key=idempotency_key)

    def list(self, *, status: Optional[str] = None, account_id: Optional[str] = None,
             created_from: Optional[Date] = None, created_to: Optional[Date] = None, limit: Optional[int] = None,
             cursor: Optional[str] = None) -> Page[m.Payment]:
        return self._c._page(m.Payment.from_dict, "/payments", {
            "status": status, "accountId": account_id, "createdFrom": _date(created_from),
            "createdTo": _date(created_to), "limit": limit, "cursor": cursor})

    def get(self, payment_id: str) -> m.Payment:
        return self._c._one(m.Payment.from_dict, "GET", f"/payments/{_seg(payment_id)}")

    def cancel(self, payment_id: str) -> m.Payment:
        """Cancels a payment awaiting authorisation or scheduled (ConflictError otherwise)."""
        return self._c._one(m.Payment.from_dict, "DELETE", f"/payments/{_seg(payment_id)}")

    def confirm_funds(self, *, account_id: str, amount: Amount, currency: str,
                      idempotency_key: Optional[str] = None) -> m.FundsConfirmation:
        """Asks the bank whether an account of a consent given for funds confirmation covers
        ``amount``; nothing is reserved."""
        body = {"accountId": account_id, "amount": _amount(amount), "currency": currency}
        return self._c._one(m.FundsConfirmation.from_dict, "POST", "/funds-confirmations", body, creates=True,
                            idempotency_key=idempotency_key)


class Vrp(_Resource):
    """Variable recurring payments: /v1/vrp-consents and /v1/vrps. Amounts are decimal strings
    or decimal.Decimal, never floats."""

    def create_consent(self, *, creditor_iban: str, creditor_name: str, currency: str, maximum_individual_amount: Amount,
                       periodic_limits: Sequence[PeriodicLimit], remittance_info: str, callback_url: str,
                       vrp_type: Literal["SWEEPING", "OTHER"], bank_id: Optional[str] = None,
                       account_id: Optional[str] = None, debtor_iban: Optional[str] = None,
                       minimum_individual_amount: Optional[Amount] = None, maximum_occurrences: Optional[int] = None,
                       start_date_time: Optional[str] = None, end_date_time: Optional[str] = None,
                       time_zone: Optional[str] = None, psu_ip_address: Optional[str] = None,
                       idempotency_key: Optional[str] = None) -> m.VrpConsent:
        """Asks the customer for a VRP consent with its limits; send the customer to
        ``redirect_url``. Retried safely under an Idempotency-Key (a UUID unless given)."""
        limits = [_drop_none({"maximumAmount": _amount(p.maximum_amount), "periodType": p.period_type,
                              "periodAlignment": p.period_alignment}) for p in periodic_limits]
        body = _drop_none({"bankId": bank_id, "accountId": account_id, "debtorIban": debtor_iban,
                           "creditorIban": creditor_iban, "creditorName": creditor_name, "currency": currency,
                           "maximumIndividualAmount": _amount(maximum_individual_amount),
                           "minimumIndividualAmount": _amount(minimum_individual_amount), "periodicLimits": limits,
                           "maximumOccurrences": maximum_occurrences, "startDateTime": start_date_time,
                           "endDateTime": end_date_time, "timeZone": time_zone, "remittanceInfo": remittance_info,
                           "callbackUrl": callback_url, "vrpType": vrp_type, "psuIpAddress": psu_ip_address})
        return self._c._one(m.VrpConsent.from_dict, "POST", "/vrp-consents", body, creates=True,
                            idempotency_key=idempotency_key)

    def list_consents(self, *, status: Optional[str] = None, limit: Optional[int] = None,
                      cursor: Optional[str] = None) -> Page[m.VrpConsent]:
        return self._c._page(m.VrpConsent.from_dict, "/vrp-consents", {"status": status, "limit": limit, "cursor": cursor})

    def get_consent(self, consent_id: str) -> m.VrpConsent:
        """The consent with ``remaining``: per periodic limit what is left and when it resets."""
        return self._c._one(m.VrpConsent.from_dict, "GET", f"/vrp-consents/{_seg(consent_id)}")

    def revoke_consent(self, consent_id: str) -> m.VrpConsent:
        """Revokes the consent, at the bank too; later payments are ConsentRevokedError."""
        return self._c._one(m.VrpConsent.from_dict, "DELETE", f"/vrp-consents/{_seg(consent_id)}")

    def consent_payments(self, consent_id: str, *, limit: Optional[int] = None,
                         cursor: Optional[str] = None) -> Page[m.Payment]:
        """The payments made under the consent, newest first."""
        return self._c._page(m.Payment.from_dict, f"/vrp-consents/{_seg(consent_id)}/payments", {"limit": limit, "cursor": cursor})

    def confirm_funds(self, consent_id: str, *, amount: Amount, idempotency_key: Optional[str] = None) -> m.FundsConfirmation:
        """Asks the bank whether the consent's account covers ``amount``; nothing is reserved or sent."""
        return self._c._one(m.FundsConfirmation.from_dict, "POST", f"/vrp-consents/{_seg(consent_id)}/confirm-funds",
                            {"amount": _amount(amount)}, creates=True, idempotency_key=idempotency_key)

    def pay(self, *, consent_id: str, amount: Amount, currency: str, remittance_info: Optional[str] = None,
            end_to_end_id: Optional[str] = None, confirm_funds: Optional[bool] = None,
            idempotency_key: Optional[str] = None) -> m.Payment:
        """Pays under a consent, without the customer. It always carries an Idempotency-Key (a
        UUID unless given: give your own to retry safely across processes). Over a limit it is
        LimitExceededError, whose ``details[0]`` names the limit and says what is left; nothing
        is sent to the bank."""
        body = _drop_none({"consentId": consent_id, "amount": _amount(amount), "currency": currency,
                           "remittanceInfo": remittance_info, "endToEndId": end_to_end_id, "confirmFunds": confirm_funds})
        return self._c._one(m.Payment.from_dict, "POST", "/vrps", body, creates=True, idempotency_key=idempotency_key)

    def list_payments(self, *, status: Optional[str] = None, limit: Optional[int] = None,
                      cursor: Optional[str] = None) -> Page[m.Payment]:
        return self._c._page(m.Payment.from_dict, "/vrps", {"status": status, "limit": limit, "cursor": cursor})

    def get_payment(self, payment_id: str) -> m.Payment:
        return self._c._one(m.Payment.from_dict, "GET", f"/vrps/{_seg(payment_id)}")


class Refunds(_Resource):
    def create(self, payment_id: str, *, amount: Optional[Union[str, Decimal]] = None, account_id: Optional[str] = None,
               remittance_info: Optional[str] = None, reason: Optional[str] = None, callback_url: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> m.Refund:
        """Refunds a completed payment to its payer (``amount`` defaults to what is left; never a
        float); send the organisation to ``redirect_url``. Retried safely under an
        Idempotency-Key (a UUID unless given); over what is left is RefundExceedsPaymentError."""
        body = _drop_none({"amount": _amount(amount), "accountId": account_id,
                           "remittanceInfo": remittance_info, "reason": reason, "callbackUrl": callback_url})
        return self._c._one(m.Refund.from_dict, "POST", f"/payments/{_seg(payment_id)}/refunds", body, creates=True,
                            idempotency_key=idempotency_key)

    def list(self, *, status: Optional[str] = None, payment_id: Optional[str] = None,
             created_from: Optional[Date] = None, created_to: Optional[Date] = None, limit: Optional[int] = None,
             cursor: Optional[str] = None) -> Page[m.Refund]:
        return self._c._page(m.Refund.from_dict, "/refunds", {
            "status": status, "paymentId": payment_id, "createdFrom": _date(created_from),
            "createdTo": _date(created_to), "limit": limit, "cursor": cursor})

    def list_for_payment(self, payment_id: str, *, status: Optional[str] = None, limit: Optional[int] = None,
                         cursor: Optional[str] = None) -> Page[m.Refund]:
        return self._c._page(m.Refund.from_dict, f"/payments/{_seg(payment_id)}/refunds",
                             {"status": status, "limit": limit, "cursor": cursor})

    def get(self, refund_id: str) -> m.Refund:
        return self._c._one(m.Refund.from_dict, "GET", f"/refunds/{_seg(refund_id)}")

    def cancel(self, refund_id: str) -> m.Refund:
        """Cancels a refund awaiting authorisation, not in a batch (ConflictError otherwise); its amount is refundable again."""
        return self._c._one(m.Refund.from_dict, "POST", f"/refunds/{_seg(refund_id)}/cancel", creates=True)

    def create_batch(self, refund_ids: Sequence[str], *, callback_url: Optional[str] = None,
                     idempotency_key: Optional[str] = None) -> m.RefundBatch:
        """Sends refunds awaiting authorisation as one bulk payment with one SCA (``redirect_url``)."""
        body = _drop_none({"refundIds": list(refund_ids), "callbackUrl": callback_url})
        return self._c._one(m.RefundBatch.from_dict, "POST", "/refund-batches", body, creates=True,
                            idempotency_key=idempotency_key)

    def get_batch(self, batch_id: str) -> m.RefundBatch:
        return self._c._one(m.RefundBatch.from_dict, "GET", f"/refund-batches/{_seg(batch_id)}")


class Organisation(_Resource):
    def get(self) -> m.Organisation:
        return self._c._one(m.Organisation.from_dict, "GET", "/organisation")

    def update(self, *, allowed_origins: Optional[Sequence[str]] = None, callback_url: Optional[str] = None,
               display_name: Optional[str] = None, logo_url: Optional[str] = None,
               brand_color: Optional[str] = None, refund_account_id: Optional[str] = None) -> m.Organisation:
        """Changes the settings (admin, live key; a sandbox admin key may set the sandbox
        ``refund_account_id``); None leaves a field, "" clears an optional one."""
        body = _drop_none({"allowedOrigins": list(allowed_origins) if allowed_origins is not None else None,
                           "callbackUrl": callback_url, "displayName": display_name, "logoUrl": logo_url,
                           "brandColor": brand_color, "refundAccountId": refund_account_id})
        return self._c._one(m.Organisation.from_dict, "PATCH", "/organisation", body)


class ApiKeys(_Resource):
    """The organisation's key pairs (admin; creating, rotating and revoking need a live key)."""

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.KeyPair]:
        return self._c._page(m.KeyPair.from_dict, "/api-keys", {"limit": limit, "cursor": cursor})

    def create(self, *, role: Literal["admin", "developer", "read_only"], member_id: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> m.NewKeyPair:
        """A new key pair; its keys are in this answer only."""
        return self._c._one(m.NewKeyPair.from_dict, "POST", "/api-keys", _drop_none({"role": role, "memberId": member_id}),
                            creates=True, idempotency_key=idempotency_key)

    def rotate(self, key_pair_id: str, *, grace_period_seconds: Optional[int] = None,
               idempotency_key: Optional[str] = None) -> m.NewKeyPair:
        """Replaces the pair with a new one of the same role; the old one works for the grace period."""
        return self._c._one(m.NewKeyPair.from_dict, "POST", f"/api-keys/{_seg(key_pair_id)}/rotate",
                            _drop_none({"gracePeriodSeconds": grace_period_seconds}), creates=True,
                            idempotency_key=idempotency_key)

    def revoke(self, key_pair_id: str) -> None:
        """Revokes both keys of the pair at once."""
        self._c.request("DELETE", f"/api-keys/{_seg(key_pair_id)}")


class Members(_Resource):
    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[m.Member]:
        return self._c._page(m.Member.from_dict, "/members", {"limit": limit, "cursor": cursor})

    def add(self, *, email: str, role: Literal["owner", "admin", "developer", "viewer"],
            idempotency_key: Optional[str] = None) -> m.Member:
        return self._c._one(m.Member.from_dict, "POST", "/members", {"email": email, "role": role}, creates=True,
                            idempotency_key=idempotency_key)

    def get(self, member_id: str) -> m.Member:
        return self._c._one(m.Member.from_dict, "GET", f"/members/{_seg(member_id)}")

    def update(self, member_id: str, *, role: Literal["owner", "admin", "developer", "viewer"]) -> m.Member:
        """Changes the member's role (admin)."""
        return self._c._one(m.Member.from_dict, "PATCH", f"/members/{_seg(member_id)}", {"role": role})

    def remove(self, member_id: str) -> None:
        self._c.request("DELETE", f"/members/{_seg(member_id)}")


class Sandbox(_Resource):
    """Controls for sandbox keys only (a live key gets NotFoundError)."""

    def expire_consent(self, consent_id: str) -> m.SandboxConsentChange:
        return self._c._one(m.SandboxConsentChange.from_dict, "POST", f"/sandbox/consents/{_seg(consent_id)}/expire", creates=True)

    def revoke_consent(self, consent_id: str) -> m.SandboxConsentChange:
        return self._c._one(m.SandboxConsentChange.from_dict, "POST", f"/sandbox/consents/{_seg(consent_id)}/revoke", creates=True)

    def revoke_vrp_consent(self, vrp_consent_id: str) -> m.VrpConsent:
        """The customer revokes the VRP consent's mandate at the bank (revoked_by "bank")."""
        return self._c._one(m.VrpConsent.from_dict, "POST", f"/sandbox/vrp-consents/{_seg(vrp_consent_id)}/revoke", creates=True)

    def fire_webhook(self, *, type: str) -> m.Event:
        """Publishes an event of any type with sample data to the subscribed endpoints."""
        return self._c._one(m.event_from_dict, "POST", "/sandbox/webhooks/fire", {"type": type}, creates=True)

    def add_transaction(self, account_id: str, *, amount: Union[str, Decimal], direction: Optional[str] = None,
                        counterparty_name: Optional[str] = None, remittance_info: Optional[str] = None) -> m.SandboxTransaction:
        """Books a transaction at the sandbox bank; the next sync reads it."""
        body = _drop_none({"amount": _amount(amount), "direction": direction, "counterpartyName": counterparty_name,
                           "remittanceInfo": remittance_info})
        return self._c._one(m.SandboxTransaction.from_dict, "POST", f"/sandbox/accounts/{_seg(account_id)}/transactions", body, creates=True)
