"""The page "API-Zugänge" (integration tokens), below ``/api-zugaenge/``."""

from django.urls import path

from . import token_views

urlpatterns = [
    path("", token_views.TokenListView.as_view(), name="token-list"),
    path("<int:pk>/widerrufen/", token_views.TokenRevokeView.as_view(), name="token-revoke"),
]
