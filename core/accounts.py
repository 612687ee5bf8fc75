"""Staff accounts: what happens around a login.

* every login, failed login, lockout (django-axes) and logout goes to the
  security log;
* a login stamps the session for the timeouts (core.middleware.SessionTimeoutMiddleware);
* deactivating an account ends all its sessions at once;
* the optional second factor (TOTP, django-otp): the confirmed device of a user.

Connected in ``CoreConfig.ready``.
"""

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import pre_save
from django.utils import timezone

from . import security


def confirmed_device(user):
    """The user's confirmed TOTP device, or None (no second factor set up)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if user is None or not user.pk:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def session_keys(user) -> list[str]:
    """Keys of the user's unexpired sessions. Sessions are signed blobs, so each
    one is decoded — fine for the few hundred sessions of a municipal staff (an
    undecodable one decodes to nothing and belongs to nobody)."""
    return [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]


def end_sessions(user) -> int:
    """Delete every session of ``user``; returns how many."""
    keys = session_keys(user)
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)


def _logged_in(sender, request, user, **kwargs):
    if request is None:
        return
    from .middleware import SessionTimeoutMiddleware as timeouts

    now = int(time.time())
    request.session[timeouts.LOGIN_AT] = now
    request.session[timeouts.SEEN_AT] = now
    security.log(security.LOGIN_SUCCEEDED, request, user=user,
                 second_factor=bool(getattr(request, "_sozialraum_second_factor", False)))


def _login_failed(sender, credentials, request=None, **kwargs):
    security.log(security.LOGIN_FAILED, request, user=None, username=(credentials or {}).get("username"), level=30)


def _logged_out(sender, request, user, **kwargs):
    if request is not None and user is not None:
        security.log(security.LOGOUT, request, user=user)


def _locked_out(sender, request, username, ip_address, **kwargs):
    security.log(security.LOCKED_OUT, request, user=None, username=username, level=30)


def _deactivated(sender, instance, update_fields=None, **kwargs):
    """A user saved as inactive who was active: end their sessions once the
    change is committed."""
    if instance.pk is None or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = type(instance).objects.filter(pk=instance.pk, is_active=True).exists()
    if was_active:
        def end():
            ended = end_sessions(instance)
            security.log(security.SESSIONS_ENDED, None, user=instance, reason="deactivated", sessions=ended)

        transaction.on_commit(end)


def connect() -> None:
    from axes.signals import user_locked_out

    user_logged_in.connect(_logged_in, dispatch_uid="sozialraum-login")
    user_login_failed.connect(_login_failed, dispatch_uid="sozialraum-login-failed")
    user_logged_out.connect(_logged_out, dispatch_uid="sozialraum-logout")
    user_locked_out.connect(_locked_out, dispatch_uid="sozialraum-locked-out")
    pre_save.connect(_deactivated, sender=get_user_model(), dispatch_uid="sozialraum-deactivated")
