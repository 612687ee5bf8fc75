"""Login with an optional second factor, and "Mein Konto".

The login asks for the password first. An account with a confirmed TOTP device
(django-otp) is then asked for the six-digit code of its authenticator app; only
after the code is the session logged in. Five wrong codes end the attempt and
count as a failed login for the lockout (django-axes). On "Mein Konto" everyone
can set up the second factor (an authenticator app scans a QR code drawn on the
server) and switch it off again with a current code.
"""

import base64
import time
from io import BytesIO

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import security
from .accounts import confirmed_device

PENDING = "_sozialraum_second_factor"
PENDING_SECONDS = 300  # the code must follow the password within five minutes
MAX_CODE_TRIES = 5


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Sechsstelliger Code aus der Authenticator-App"), max_length=6, min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": "[0-9]{6}", "autofocus": True}),
        error_messages={"min_length": _("Der Code hat sechs Ziffern."), "max_length": _("Der Code hat sechs Ziffern.")},
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise forms.ValidationError(_("Der Code besteht nur aus Ziffern."))
        return code


class LoginView(auth_views.LoginView):
    """Django's login; an account with a second factor continues to the code."""

    template_name = "core/login.html"

    def form_valid(self, form):
        user = form.get_user()
        if confirmed_device(user) is None:
            return super().form_valid(form)
        self.request.session[PENDING] = {
            "user": user.pk, "backend": user.backend, "at": int(time.time()), "tries": 0,
            "next": self.get_success_url(),
        }
        return redirect("login-second-factor")


class SecondFactorView(View):
    template_name = "core/login_second_factor.html"

    def pending(self, request):
        pending = request.session.get(PENDING)
        if not pending or time.time() - pending["at"] > PENDING_SECONDS:
            request.session.pop(PENDING, None)
            return None, None
        user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
        return pending, user

    def restart(self, request, text):
        request.session.pop(PENDING, None)
        messages.error(request, text)
        return redirect("login")

    def get(self, request):
        pending, user = self.pending(request)
        if user is None:
            return self.restart(request, gettext("Bitte melden Sie sich an."))
        return render(request, self.template_name, {"form": CodeForm()})

    def post(self, request):
        pending, user = self.pending(request)
        if user is None:
            return self.restart(request, gettext("Die Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an."))
        form = CodeForm(request.POST)
        device = confirmed_device(user)
        error = check_code(device, form.cleaned_data["code"]) if form.is_valid() and device else None
        if form.is_valid() and device is not None and error is None:
            request.session.pop(PENDING, None)
            request._sozialraum_second_factor = True
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, device)
            security.log(security.SECOND_FACTOR_SUCCEEDED, request, user=user)
            target = pending["next"]
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
                target = "/"
            return redirect(target)
        pending["tries"] += 1
        request.session[PENDING] = pending
        security.log(security.SECOND_FACTOR_FAILED, request, user=user, tries=pending["tries"], level=30)
        if pending["tries"] >= MAX_CODE_TRIES:
            # counts as a failed login for the lockout
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
            return self.restart(request, gettext("Zu viele falsche Codes. Bitte melden Sie sich erneut an."))
        if error:
            form.add_error("code", error)
        return render(request, self.template_name, {"form": form}, status=400)


def check_code(device, code: str) -> str | None:
    """None if the code is right; otherwise why not. After a wrong code django-otp
    makes the next try wait (1, 2, 4, … seconds) against guessing."""
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1) if locked_until else 1
        return ngettext("Zu schnell nach einem falschen Code: bitte in %(n)d Sekunde erneut versuchen.",
                        "Zu schnell nach einem falschen Code: bitte in %(n)d Sekunden erneut versuchen.",
                        seconds) % {"n": seconds}
    if device.verify_token(code):
        return None
    return gettext("Der Code stimmt nicht (oder ist abgelaufen). Bitte den aktuellen Code eingeben.")


def qr_code_data_uri(text: str) -> str:
    """The text as a QR code, an SVG drawn on the server, as a data: URI."""
    buffer = BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def group(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


class AccountView(LoginRequiredMixin, View):
    """Mein Konto: the account, its roles, and the second factor."""

    template_name = "core/account.html"

    def context(self, request, **extra):
        user = request.user
        device = confirmed_device(user)
        context = {"device": device, "nav": "account", "verified": bool(getattr(user, "is_verified", lambda: False)())}
        setup = TOTPDevice.objects.filter(user=user, confirmed=False).first() if device is None else None
        if setup is not None:
            context.update(setup=setup, qr=qr_code_data_uri(setup.config_url),
                           secret=group(base64.b32encode(setup.bin_key).decode()))
        context.setdefault("form", CodeForm())
        context.update(extra)
        return context

    def get(self, request):
        return render(request, self.template_name, self.context(request))

    def post(self, request):
        action = request.POST.get("action")
        user = request.user
        if action == "start":
            if confirmed_device(user) is None:
                TOTPDevice.objects.filter(user=user, confirmed=False).delete()
                TOTPDevice.objects.create(user=user, name=gettext("Authenticator-App"), confirmed=False)
            return redirect("account")
        if action == "cancel":
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            return redirect("account")
        if action in ("confirm", "disable"):
            form = CodeForm(request.POST)
            device = (TOTPDevice.objects.filter(user=user, confirmed=False).first() if action == "confirm"
                      else confirmed_device(user))
            if device is None:
                return redirect("account")
            error = check_code(device, form.cleaned_data["code"]) if form.is_valid() else None
            if form.is_valid() and error is None:
                if action == "confirm":
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    otp_login(request, device)
                    text = gettext("Der zweite Faktor ist eingerichtet. Ab der nächsten Anmeldung fragen wir nach dem "
                                   "Code.")
                else:
                    TOTPDevice.objects.filter(user=user).delete()
                    text = gettext("Der zweite Faktor ist ausgeschaltet.")
                security.log(security.ACCOUNT_CHANGED, request,
                             action={"confirm": "second_factor_on", "disable": "second_factor_off"}[action])
                messages.success(request, text)
                return redirect("account")
            security.log(security.SECOND_FACTOR_FAILED, request, action=action, level=30)
            if error:
                form.add_error("code", error)
            return render(request, self.template_name, self.context(request, form=form, form_for=action), status=400)
        return redirect("account")


def locked_out(request, original_response, credentials):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): a page
    saying for how long, status 429."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "core/locked_out.html", {"lockout_minutes": minutes}, status=429)
