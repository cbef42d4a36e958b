"""Changes of the catalogue that upper layers tell licensees about. Sent inside the change's
transaction; licensing (which knows who holds a grant) connects its receivers in its
AppConfig.ready(), so marketplace never imports licensing."""

from django.dispatch import Signal

# sender=DatasetVersion, version=<the new DatasetVersion>
dataset_version_published = Signal()
# sender=Dataset, dataset=<the removed Dataset>, reason=<str>, details=<dict or None: a
# takedown's reasonCategory, whatToDo, members, version (only that version removed when set)>
dataset_removed = Signal()
