"""Import kinds register here (apps above core add theirs in AppConfig.ready)."""

_importers: dict[str, type] = {}


def register(importer_class):
    _importers[importer_class.kind] = importer_class
    return importer_class


def get(kind: str):
    try:
        return _importers[kind]
    except KeyError:
        raise KeyError(f"unknown import kind {kind!r}; known: {', '.join(sorted(_importers))}") from None


def kinds() -> dict[str, type]:
    return dict(sorted(_importers.items()))
