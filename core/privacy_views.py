"""Data protection pages: the privacy notice (``/datenschutz/``, public) and,
for planners without a region limit, the staff accounts with the export of an
account's personal data (JSON) and its erasure (``core.privacy``)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView, TemplateView

from . import privacy

PAGE_SIZE = 50


class PrivacyNoticeView(TemplateView):
    """The privacy notice (Datenschutzerklärung, Art. 13 DSGVO); anyone may read it."""

    template_name = "core/datenschutz.html"

    def get_context_data(self, **kwargs):
        days = settings.AUDIT_RETENTION_DAYS
        kwargs.update(
            controller=settings.PRIVACY_CONTROLLER,
            contact_email=settings.PRIVACY_CONTACT_EMAIL,
            retention_days=days,
            retention_years=(days // 365 if days % 365 == 0 else round(days / 365, 1)) if days else None,
            session_days=settings.SESSION_COOKIE_AGE // 86400 if settings.SESSION_COOKIE_AGE >= 2 * 86400 else None,
            session_hours=max(1, settings.SESSION_COOKIE_AGE // 3600),
            session_idle_minutes=getattr(settings, "SESSION_IDLE_MINUTES", None),
            lockout_minutes=_minutes(getattr(settings, "AXES_COOLOFF_TIME", None)),
            session_at_browser_close=settings.SESSION_EXPIRE_AT_BROWSER_CLOSE,
            session_cookie=settings.SESSION_COOKIE_NAME,
            csrf_cookie=settings.CSRF_COOKIE_NAME,
            language_cookie=settings.LANGUAGE_COOKIE_NAME,
            may_manage_accounts=privacy.may_manage_accounts(self.request.user),
        )
        return super().get_context_data(**kwargs)


def _minutes(value):
    """A timedelta (or a number of hours, django-axes' other form) in whole minutes; None if unset."""
    if value is None or callable(value) or isinstance(value, str):
        return None
    if isinstance(value, (int, float)):
        return round(value * 60)
    return round(value.total_seconds() / 60)


class AccountManagerRequiredMixin(LoginRequiredMixin):
    """Planners without a region limit only; everyone else signed in gets 403,
    anonymous visitors the login page."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not privacy.may_manage_accounts(request.user):
            raise PermissionDenied(_("Nur die Planung ohne Raumbeschränkung verwaltet Benutzerkonten."))
        return super().dispatch(request, *args, **kwargs)

    def account(self, pk):
        return get_object_or_404(get_user_model()._base_manager, pk=pk)


class AccountListView(AccountManagerRequiredMixin, ListView):
    """Every staff account (user name, name, e-mail, last login), searchable."""

    template_name = "core/privacy_account_list.html"
    paginate_by = PAGE_SIZE
    context_object_name = "accounts"

    def get_queryset(self):
        qs = get_user_model()._default_manager.order_by("-is_active", "username")
        self.query = self.request.GET.get("q", "").strip()
        if self.query:
            qs = qs.filter(Q(username__icontains=self.query) | Q(first_name__icontains=self.query)
                           | Q(last_name__icontains=self.query) | Q(email__icontains=self.query))
        return qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(query=self.query, **kwargs)
        context["page_query"] = urlencode({"q": self.query}) if self.query else ""
        for account in context["accounts"]:
            account.erased = privacy.is_erased(account)
        return context


class AccountExportView(AccountManagerRequiredMixin, View):
    """The account's personal data as a JSON download (Art. 15/20 DSGVO)."""

    http_method_names = ["get"]

    def get(self, request, pk):
        account = self.account(pk)
        response = HttpResponse(privacy.export_json(account), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="personenbezogene-daten-konto-{account.pk}.json"'
        response["Cache-Control"] = "no-store"
        privacy.log_export(account, by=request.user, request=request)
        return response


class AccountEraseView(AccountManagerRequiredMixin, View):
    """GET: what erasing the account does (or why it may not be erased);
    POST: erase it (``core.privacy.erase_user``) and return to the list."""

    http_method_names = ["get", "post"]
    template_name = "core/privacy_account_erase.html"

    def get(self, request, pk):
        account = self.account(pk)
        return render(request, self.template_name, {
            "account": account,
            "refusal": privacy.refusal(account, request.user),
            "plan": privacy.plan_erasure(account),
        })

    def post(self, request, pk):
        account = self.account(pk)
        try:
            result = privacy.erase_user(account, request.user, request=request)
        except privacy.ErasureRefused as e:
            messages.error(request, str(e))
            return redirect("privacy-account-erase", pk=account.pk)
        messages.success(request, _("Die personenbezogenen Daten des Kontos sind gelöscht; im Änderungsverlauf "
                                    "erscheint es jetzt als „%(pseudonym)s“.") % {"pseudonym": result.pseudonym})
        return redirect("privacy-account-list")
