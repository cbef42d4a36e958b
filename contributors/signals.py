"""This app's reactions to changes in marketplace (a lower layer, which never imports us)."""

from contributors.services.share_drafts import share_draft_apply


def dataset_version_saved(sender, instance, created, raw=False, **kwargs):
    """A version was published (marketplace.services.review.submission_approve): the shares
    staged on its submission become the dataset's share table, in the same transaction."""
    if created and not raw:
        share_draft_apply(version=instance)
