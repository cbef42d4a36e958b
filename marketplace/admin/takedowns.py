"""The staff console's takedown queue (issue 13 §3): notices listed by state, each read in full
(the claimant's contact details are for staff only) with the provider's counter-notice, and
decided through the services: accept (an action, or the change form) removes the dataset or the
named version; reject needs a reason, which the claimant is e-mailed. Viewing and deciding need
`marketplace.takedown_dataset` (the reviewer group); nothing is added, edited or deleted here."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied

from marketplace.admin.permissions import ReadOnlyInline, perm_check, service_message
from marketplace.models import CounterNotice, TakedownNotice
from marketplace.services.takedowns import (
    TAKEDOWN_PERMISSION,
    takedown_notice_accept,
    takedown_notice_reject,
)

ACCEPT, REJECT = "accept", "reject"


class CounterNoticeInline(ReadOnlyInline):
    model = CounterNotice
    fields = ["statement", "contact", "organization", "filed_by", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "counter-notice from the provider"

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(TAKEDOWN_PERMISSION)


class TakedownDecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Not decided yet"),
            (ACCEPT, "Accept: remove the dataset (or the named version)"),
            (REJECT, "Reject with the reason below"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason for a rejection",
        help_text="E-mailed to the claimant.",
    )

    class Meta:
        model = TakedownNotice
        fields: list[str] = []

    def clean(self):
        data = super().clean()
        if data.get("decision") == REJECT and not (data.get("reason") or "").strip():
            self.add_error("reason", "A rejection needs a reason the claimant can read.")
        return data


def _fields() -> list[str]:
    return [f.name for f in TakedownNotice._meta.fields if f.name != "id"]


@admin.register(TakedownNotice)
class TakedownNoticeAdmin(admin.ModelAdmin):
    form = TakedownDecisionForm
    list_display = [
        "reference",
        "dataset",
        "version",
        "basis",
        "status",
        "claimant_name",
        "created_at",
        "decided_at",
    ]
    list_filter = ["status", "basis"]
    search_fields = ["reference", "dataset__public_id", "dataset__name", "claimant_name"]
    list_select_related = ["dataset", "version"]
    inlines = [CounterNoticeInline]
    actions = ["accept"]
    has_takedown_permission = perm_check(TAKEDOWN_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(TAKEDOWN_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(TAKEDOWN_PERMISSION)

    def has_add_permission(self, request):
        return False  # filed by claimants (web form, API)

    def has_delete_permission(self, request, obj=None):
        return False  # every notice stays on record

    def get_readonly_fields(self, request, obj=None):
        return _fields()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and obj.status != TakedownNotice.Status.RECEIVED:
            form.base_fields.pop("decision", None)
            form.base_fields.pop("reason", None)
        return form

    def save_model(self, request, obj, form, change):
        if not change or not request.user.has_perm(TAKEDOWN_PERMISSION):
            raise PermissionDenied
        decision = form.cleaned_data.get("decision")
        if decision == ACCEPT:
            service_message(
                request,
                lambda: takedown_notice_accept(notice=obj, actor=request.user),
                success=f"Notice {obj.reference} accepted: {obj.dataset} was removed.",
            )
        elif decision == REJECT:
            service_message(
                request,
                lambda: takedown_notice_reject(
                    notice=obj, actor=request.user, reason=form.cleaned_data["reason"]
                ),
                success=f"Notice {obj.reference} rejected; the claimant is told why.",
            )
        obj.refresh_from_db()

    @admin.action(
        description="Accept selected notices (remove what they name)", permissions=["takedown"]
    )
    def accept(self, request, queryset):
        for notice in queryset.order_by("pk"):
            service_message(
                request,
                lambda n=notice: takedown_notice_accept(notice=n, actor=request.user),
                success=f"Notice {notice.reference} accepted.",
            )
