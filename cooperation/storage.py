"""Private file storage: uploads that must only be served through a view that
checks access (agreement documents). Below MEDIA_ROOT/private/, which no URL
maps to (the app serves no MEDIA_URL at all)."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property


class PrivateStorage(FileSystemStorage):
    """MEDIA_ROOT/private/ (follows a changed MEDIA_ROOT setting, like the
    default storage)."""

    @cached_property
    def base_location(self):
        return os.path.join(self._value_or_setting(self._location, settings.MEDIA_ROOT), "private")

    def url(self, name):
        raise ValueError("private files have no URL; they are served by a view that checks access")


_storage = PrivateStorage()


def private_storage() -> FileSystemStorage:
    """The storage (a callable, so migrations do not record a path)."""
    return _storage
