from licensing.services.licenses import license_custom_ensure


def dataset_saved(sender, instance, **kwargs):
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and "latest_version" not in update_fields:
        return
    license_custom_ensure(dataset=instance)
