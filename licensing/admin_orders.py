"""The finance side of an order's admin page: a refund started by finance staff (full or
partial, with a reason) through `licensing.services.refunds.order_refund_request`, and this
app's part of the finance overview (open disputes, staff refunds of the last days). Checked
with `licensing.refund_order`; the overview with `payouts.view_finance_overview`."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from licensing.models import Order, RefundRequest
from licensing.selectors import disputes_open
from licensing.services.refunds import order_refund_request
from marketplace.services.errors import ServiceError
from payouts.finance import RECENT_DAYS, finance_section_register

REFUND_ORDER = "licensing.refund_order"
SECTION_ROWS = 50


class RefundForm(forms.Form):
    FULL, PARTIAL = "full", "partial"

    kind = forms.ChoiceField(
        label="Refund",
        choices=[(FULL, "Everything not refunded yet"), (PARTIAL, "Part of it (amount below)")],
        widget=forms.RadioSelect,
        initial=FULL,
    )
    amount_cents = forms.IntegerField(
        label="Amount (cents)",
        required=False,
        min_value=1,
        help_text="For a partial refund: whole cents, e.g. 250 for 2.50.",
    )
    reason = forms.CharField(
        label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == self.PARTIAL and data.get("amount_cents") is None:
            self.add_error("amount_cents", "Enter the amount to refund, in cents.")
        return data

    def amount(self) -> int | None:
        """None for a full refund (the service refunds what is left)."""
        data = self.cleaned_data
        return data["amount_cents"] if data["kind"] == self.PARTIAL else None


def order_refund_view(model_admin, request, object_id: str):
    if not request.user.has_perm(REFUND_ORDER):
        raise PermissionDenied
    order = get_object_or_404(Order.objects.select_related("organization", "dataset"), pk=object_id)
    change_url = reverse("admin:licensing_order_change", args=[order.pk])
    form = RefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            refund = order_refund_request(
                user=request.user,
                order=order,
                amount_cents=form.amount(),
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            model_admin.message_user(
                request,
                f"Refund of {refund.amount_cents} cents requested at Stripe ({refund.status}"
                f"{', ' + refund.stripe_refund_id if refund.stripe_refund_id else ''}).",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(change_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Refund order {order.public_id}",
        "opts": model_admin.model._meta,
        "order": order,
        "left_cents": order.total_price_cents - order.refunded_cents,
        "form": form,
        "refund_requests": order.refund_requests.select_related("requested_by")[:SECTION_ROWS],
        "change_url": change_url,
    }
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "admin/licensing/order/refund.html", context, status=status)


def _finance_section(*, now) -> dict:
    since = now - timedelta(days=RECENT_DAYS)
    return {
        "disputes": list(disputes_open()[:SECTION_ROWS]),
        "refund_requests": list(
            RefundRequest.objects.filter(created_at__gte=since)
            .select_related("order", "requested_by")
            .order_by("-created_at", "-pk")[:SECTION_ROWS]
        ),
        "since": since,
    }


finance_section_register(
    title="Open disputes and staff refunds",
    template="admin/licensing/order/finance_section.html",
    context=_finance_section,
)


class OrderRefundMixin(admin.ModelAdmin):
    """The refund page of OrderAdmin and the link to it on the order's page."""

    change_form_template = "admin/licensing/order/change_form.html"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(
                    lambda r, object_id: order_refund_view(self, r, object_id)
                ),
                name="licensing_order_refund",
            ),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {
            "can_refund": request.user.has_perm(REFUND_ORDER),
            "refund_requests": RefundRequest.objects.filter(order_id=object_id)
            .select_related("requested_by")
            .order_by("-created_at", "-pk")[:SECTION_ROWS]
            if str(object_id).isdigit()
            else [],
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
