from rest_framework.renderers import JSONRenderer


class GeoJSONRenderer(JSONRenderer):
    """``?format=geojson``: regions as an RFC 7946 FeatureCollection (WGS84, no
    ``crs`` member). The view puts the features together; this sets the media type."""

    media_type = "application/geo+json"
    format = "geojson"
