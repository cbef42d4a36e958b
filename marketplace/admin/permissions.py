"""What every admin of the project shares: read-only ModelAdmins and the permission checks that
actions name in `allowed_permissions` (Django calls `has_<name>_permission(request)`)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from marketplace.services.errors import ServiceError


def perm_check(*perms: str):
    """A `has_<name>_permission` method: the user holds every one of `perms`."""

    def check(self, request, obj=None) -> bool:
        return request.user.has_perms(perms)

    return check


def perm_require(request, *perms: str) -> None:
    """For a custom admin view or a write: 403 unless the user holds every one of `perms`."""
    if not request.user.has_perms(perms):
        raise PermissionDenied


def service_message(request, call, *, success: str | None = None) -> bool:
    """Run one service call for an admin action; its refusal is shown as an error message (the
    action goes on with the next object). True when it succeeded."""
    try:
        call()
    except ServiceError as exc:
        messages.error(request, exc.message)
        return False
    if success:
        messages.success(request, success)
    return True


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
