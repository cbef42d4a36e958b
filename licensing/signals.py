from licensing.services.license_flags import dataset_flags_sync
from licensing.services.licenses import license_custom_ensure


def dataset_saved(sender, instance, **kwargs):
    """A dataset saved with a (new) latest version: its custom license exists, and the
    catalogue's copy of its terms flags follows its license and datasheet."""
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and "latest_version" not in update_fields:
        return
    license_custom_ensure(dataset=instance)
    if instance.latest_version_id is not None:
        dataset_flags_sync(dataset=instance)
