"""The page "API-Zugänge": integration tokens made, listed and revoked in the
browser (cooperation.models.tokens). The secret is shown once, in the answer to
the form, and never stored."""

from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views import View

from core import security
from core.access import Action

from .forms import IntegrationTokenForm
from .models import IntegrationToken

DENIED = "Nur die Planung und Bearbeiter einer Organisation können API-Zugänge anlegen."


class TokenListView(LoginRequiredMixin, View):
    template_name = "cooperation/tokens/token_list.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not IntegrationToken.objects.can_add(request.user):
            raise PermissionDenied(gettext(DENIED))
        return super().dispatch(request, *args, **kwargs)

    def page(self, request, form, status=200):
        tokens = (IntegrationToken.objects.for_user(request.user, Action.VIEW)
                  .select_related("owner", "organization", "revoked_by"))
        return render(request, self.template_name, {
            "tokens": tokens, "form": form, "nav": "tokens",
            "error_count": len(form.errors), "error_forms": [form]}, status=status)

    def get(self, request):
        return self.page(request, IntegrationTokenForm(user=request.user))

    def post(self, request):
        form = IntegrationTokenForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.page(request, form, status=400)
        data = form.cleaned_data
        expires_at = None
        if data["expires_on"]:  # valid through the whole day, local time
            expires_at = timezone.make_aware(datetime.combine(data["expires_on"], time.max))
        token, key = IntegrationToken.issue(owner=request.user, name=data["name"], scope=data["scope"],
                                            organization=data["organization"], expires_at=expires_at)
        security.log(security.ACCOUNT_CHANGED, request, action="token_created", token=token.prefix,
                     scope=token.scope, organization=token.organization_id)
        response = render(request, "cooperation/tokens/token_created.html",
                          {"token": token, "key": key, "nav": "tokens"})
        response["Cache-Control"] = "no-store"  # the secret must not stay in any cache
        return response


class TokenRevokeView(LoginRequiredMixin, View):
    """POST only: revoke a token the user may change (others: 404)."""

    http_method_names = ["post"]

    def post(self, request, pk):
        token = IntegrationToken.objects.for_user(request.user, Action.CHANGE).filter(pk=pk).first()
        if token is None:
            raise Http404
        token.revoke(request.user)
        security.log(security.ACCOUNT_CHANGED, request, action="token_revoked", token=token.prefix)
        messages.success(request, gettext("API-Zugang „%(name)s“ widerrufen; er funktioniert ab sofort nicht mehr.")
                         % {"name": token.name})
        return redirect("token-list")
