import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext

from . import security


class GermanFirstLocaleMiddleware(LocaleMiddleware):
    """German unless the user chose another language (language switch → cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language; a German
    administration's software speaks German to everyone by default.
    """

    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class SessionTimeoutMiddleware:
    """Ends a signed-in session after ``SESSION_IDLE_MINUTES`` without a request
    and ``SESSION_MAX_HOURS`` after its login, whatever happened in between. The
    page asks to log in again (the message says why); the API answers as to an
    anonymous request. The last activity is written at most once a minute, so a
    busy page does not save its session on every request."""

    LOGIN_AT = "_sozialraum_login_at"
    SEEN_AT = "_sozialraum_seen_at"
    WRITE_EVERY = 60  # seconds

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and "_auth_user_id" in session:
            expired = self.check(request, session)
            if expired:
                return expired
        return self.get_response(request)

    def check(self, request, session):
        now = int(time.time())
        login_at = session.setdefault(self.LOGIN_AT, now)  # sessions from before this check start now
        seen_at = session.get(self.SEEN_AT, now)
        if now - seen_at > settings.SESSION_IDLE_MINUTES * 60:
            reason = "idle"
            text = gettext("Sie wurden nach %(minutes)d Minuten ohne Aktivität abgemeldet. Bitte melden Sie sich "
                           "erneut an.") % {"minutes": settings.SESSION_IDLE_MINUTES}
        elif now - login_at > settings.SESSION_MAX_HOURS * 3600:
            reason = "max_age"
            text = gettext("Sie wurden %(hours)d Stunden nach der Anmeldung abgemeldet. Bitte melden Sie sich "
                           "erneut an.") % {"hours": settings.SESSION_MAX_HOURS}
        else:
            if now - seen_at >= self.WRITE_EVERY or self.SEEN_AT not in session:
                session[self.SEEN_AT] = now
            return None
        security.log(security.SESSION_EXPIRED, request, user=request.user, reason=reason)
        logout(request)
        if request.path.startswith("/api/"):
            return None  # continue as anonymous: 401
        messages.info(request, text)
        return redirect_to_login(request.get_full_path())


class RefusalLogMiddleware:
    """Writes every refused authorisation — a 401 or 403 answer of a page or
    the API, CSRF failures included — to the security log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in (401, 403):
            security.log(security.ACCESS_DENIED, request, level=30, status=response.status_code)
        return response
