"""The global search ("Suche" in the header): regions by name or code,
organisations, offerings, agreements and networks — each through its own
FilterSet's ``q`` and scoped by ``for_user``, so a user finds only what they
may see. Ten hits per kind, with a link to the full filtered list."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from cooperation.filtersets import AgreementFilterSet, NetworkFilterSet, OrganizationFilterSet, ServiceFilterSet
from cooperation.models import Agreement, Network, Organization, Service
from core.access import Action
from regions.filtersets import RegionFilterSet
from regions.models import Region

HITS = 10
MIN_LENGTH = 2


def _groups(user):
    """(key, heading, queryset, FilterSet, list page, detail URL of a hit)."""
    return [
        ("regions", _("Sozialräume"), Region.objects.for_user(user, Action.VIEW).select_related("level"),
         RegionFilterSet, "region-list", lambda r: reverse("region-detail", args=[r.code])),
        ("organizations", _("Organisationen"), Organization.objects.for_user(user, Action.VIEW),
         OrganizationFilterSet, "organization-list", lambda o: reverse("organization-detail", args=[o.uuid])),
        ("services", _("Angebote"), Service.objects.directory_for(user).select_related("organization"),
         ServiceFilterSet, "directory", lambda s: reverse("service-detail", args=[s.uuid])),
        ("agreements", _("Vereinbarungen"), Agreement.objects.for_user(user, Action.VIEW),
         AgreementFilterSet, "agreement-list", lambda a: reverse("agreement-detail", args=[a.uuid])),
        ("networks", _("Netzwerke"), Network.objects.for_user(user, Action.VIEW),
         NetworkFilterSet, "network-list", lambda n: reverse("network-detail", args=[n.uuid])),
    ]


class SearchView(LoginRequiredMixin, TemplateView):
    template_name = "sozialraum/search.html"

    def get_context_data(self, **kwargs):
        q = " ".join(self.request.GET.get("q", "").split())[:200]
        groups = []
        if len(q) >= MIN_LENGTH:
            for key, heading, queryset, filterset_class, list_name, url_of in _groups(self.request.user):
                found = list(filterset_class({"q": q}, queryset=queryset, request=self.request).qs[:HITS + 1])
                groups.append({
                    "key": key, "heading": heading, "more": len(found) > HITS,
                    "hits": [{"object": obj, "url": url_of(obj)} for obj in found[:HITS]],
                    "list_url": f"{reverse(list_name)}?{urlencode({'q': q})}",
                })
        return super().get_context_data(q=q, groups=groups, too_short=0 < len(q) < MIN_LENGTH,
                                        total=sum(len(g["hits"]) for g in groups), **kwargs)
