"""Private file storage: uploads that must only be served through a view that
checks access (agreement documents). Below MEDIA_ROOT/private/, which no URL
maps to (the app serves no MEDIA_URL at all)."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_storage() -> FileSystemStorage:
    """The storage (a callable, so migrations do not record a path)."""
    return FileSystemStorage(location=os.path.join(settings.MEDIA_ROOT, "private"), base_url=None)
