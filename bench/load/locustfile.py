"""The load test's users (locust), run by bench/load/run.py — not on its own: it
reads the accounts that run.py made from the file named in ``LOAD_ACCOUNTS``.

Three personas, each virtual user with a login (and a token) of its own:

* ``Planner`` (30 % of the users): dashboards, directory searches, and indicator
  imports — a JSON batch to ``/api/v1/indicator-values/bulk/`` and a CSV file to
  ``/api/v1/imports/`` that the Celery worker processes (polled until done; the
  time from upload to done is its own request type, ``IMPORT``);
* ``RegionLead`` (20 %, the 12 Bezirke in turn): dashboards of their Bezirk and
  directory searches;
* ``ProviderEditor`` (50 %, each of another demo organisation): the home page,
  "Mein Träger", searches, and offering edits — the edit form (GET, then POST
  with a changed field, as a browser sends it) and ``PATCH /api/v1/services/<uuid>/``
  with the organisation's write token.

Every request states the status it expects; anything else is a failure (and
fails the run). The requests carry ``X-Forwarded-Proto: https`` as the TLS proxy
in front of gunicorn sends it (so the production settings' HTTPS redirect, secure
cookies and CSRF origin check apply as deployed), and forms are posted with the
``Origin`` a browser sends.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import datetime
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from locust import FastHttpUser, between, events, task

ACCOUNTS = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text(encoding="utf-8"))
DATA = ACCOUNTS["data"]
PASSWORD = ACCOUNTS["password"]
PROXY = {"X-Forwarded-Proto": "https"}
IMPORT_TIMEOUT = 60  # seconds an uploaded file may take until the worker has processed it
POLL_EVERY = 0.5
WAIT = between(1, 3)  # think time between two actions of one user

_next = {persona: itertools.count() for persona in ("planner", "region_lead", "provider_editor")}

# Every request as it happened, for run.py's exact percentiles (locust's own CSV rounds them):
# written to LOAD_SAMPLES when locust quits.
_run = {"test_start": None, "spawning_complete": None, "test_stop": None, "samples": []}


@events.test_start.add_listener
def _test_start(**_kwargs):
    _run["test_start"] = time.time()


@events.spawning_complete.add_listener
def _spawning_complete(**_kwargs):
    _run["spawning_complete"] = time.time()


@events.test_stop.add_listener
def _test_stop(**_kwargs):
    _run["test_stop"] = time.time()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, start_time=None, **_kwargs):
    start = start_time if start_time is not None else time.time() - response_time / 1000
    _run["samples"].append([request_type, name, round(start, 3), round(response_time, 1), response_length or 0,
                            None if exception is None else str(exception)[:500]])


@events.quitting.add_listener
def _write_samples(**_kwargs):
    if os.environ.get("LOAD_SAMPLES"):
        Path(os.environ["LOAD_SAMPLES"]).write_text(json.dumps(_run), encoding="utf-8")


def _snippet(response) -> str:
    try:
        text = response.text or ""
    except Exception:  # noqa: BLE001 — a body that cannot be decoded
        text = ""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()
    return text[:240]


class FormParser(HTMLParser):
    """The fields of every ``<form method="post">`` of a page, as a browser would
    submit them unchanged: text inputs, checked boxes and radios, selected options
    (the first one of a single select if none is selected), text areas; disabled
    fields and buttons left out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self.fields: list[tuple[str, str]] | None = None
        self._select = None  # (name, multiple, options, selected)
        self._option = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.fields = []
            self.forms.append(self.fields)
            return
        if self.fields is None or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
                return
            self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = (name, "multiple" in a, [], [])
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._option is not None:
            self._option[2] += data
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if self.fields is None:
            return
        if tag == "option" and self._option is not None:
            value, selected, text = self._option
            value = value if value is not None else text.strip()
            self._select[2].append(value)
            if selected:
                self._select[3].append(value)
            self._option = None
        elif tag == "select" and self._select is not None:
            name, multiple, options, selected = self._select
            if not selected and not multiple and options:
                selected = options[:1]
            self.fields.extend((name, v) for v in selected)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self.fields.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self.fields = None


def form_fields(html: str, field: str) -> list[tuple[str, str]]:
    """The fields of the page's first post form that has a CSRF token and a
    field named ``field`` (the page may have others, e.g. the logout button's)."""
    parser = FormParser()
    parser.feed(html)
    for fields in parser.forms:
        names = {name for name, _value in fields}
        if "csrfmiddlewaretoken" in names and field in names:
            return fields
    return []


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = f"----sozialraum-load-{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, content_type) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Visitor(FastHttpUser):
    """What every persona does: log in, check each response's status."""

    abstract = True
    wait_time = WAIT
    persona = ""
    token: str | None = None

    def on_start(self):
        pool = ACCOUNTS[self.persona]
        self.index = next(_next[self.persona])
        self.account = pool[self.index % len(pool)]
        self.token = self.account.get("token")
        self.origin = f"https://{urlsplit(self.host).netloc}"
        # The production settings mark the session and CSRF cookies Secure. The browser sends them
        # over HTTPS to the TLS proxy; this client stands for both and talks plain HTTP to gunicorn
        # on loopback (with X-Forwarded-Proto: https), so it must send Secure cookies over http too.
        self.client.cookiejar.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))
        self.login()

    # -- requests ----------------------------------------------------------------

    def request(self, method, name, path, expect=200, token=False, headers=None, **kwargs):
        """One request; a status other than ``expect`` is a failure. Returns the
        response, or None on a failure."""
        # X-Load-Name: the request type, for the server time per type in gunicorn's access log
        all_headers = {**PROXY, "X-Load-Name": quote(name), **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Token {self.token}"
        if method != "GET" and not token:
            all_headers.setdefault("Origin", self.origin)
            all_headers.setdefault("Referer", f"{self.origin}{path}")
        with self.client.request(method, path, name=name, headers=all_headers, catch_response=True,
                                 allow_redirects=False, **kwargs) as response:
            if response.status_code != expect:
                where = response.headers.get("Location", "") if response.headers else ""
                response.failure(f"status {response.status_code} instead of {expect}"
                                 f"{' → ' + where if where else ''}: {_snippet(response)}")
                return None
            response.success()
            return response

    def get(self, name, path, **kwargs):
        return self.request("GET", name, path, **kwargs)

    def post_form(self, name, path, fields, expect=302):
        return self.request("POST", name, path, expect=expect, data=urlencode(fields, doseq=True),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def login(self):
        page = self.get("login: form", "/anmelden/")
        if page is None:
            return
        fields = dict(form_fields(page.text, "username"))
        fields.update(username=self.account["username"], password=PASSWORD, next="/")
        response = self.post_form("login: submit", "/anmelden/", fields)
        if response is not None and response.headers.get("Location") != "/":
            events.request.fire(request_type="CHECK", name="login: redirect target", response_time=0,
                                response_length=0, exception=AssertionError(response.headers.get("Location")),
                                context={})

    # -- shared actions ----------------------------------------------------------

    def home(self):
        self.get("dashboard: home", "/")

    def region_profile(self, code):
        self.get("dashboard: region profile", f"/raeume/{code}/profil/")

    def directory(self):
        params = {"q": random.choice(DATA["search_terms"])}
        extra = random.choice(["", "field", "region", "age", "target_group"])
        if extra == "field":
            params["field"] = random.choice(DATA["fields"])
        elif extra == "region":
            params["region"] = random.choice(DATA["bezirke"])
        elif extra == "age":
            params["age"] = random.randint(0, 80)
        elif extra == "target_group" and DATA["target_groups"]:
            params["target_group"] = random.choice(DATA["target_groups"])
        self.get("search: Angebotsfinder", f"/angebotsfinder/?{urlencode(params)}")

    def services_api(self):
        params = {"q": random.choice(DATA["search_terms"])}
        if random.random() < 0.5:
            params["field"] = random.choice(DATA["fields"])
        self.get("search: services API", f"/api/v1/services/?{urlencode(params)}", token=self.token is not None)

    def map_data(self, levels=("bezirk", "prognoseraum", "planungsraum")):
        metric = f"indicator:{random.choice(DATA['indicators'])}"
        self.get("dashboard: map-data API", f"/api/v1/map-data/?level={random.choice(levels)}&metric={metric}")


class Planner(Visitor):
    persona = "planner"
    fixed_count = len(ACCOUNTS["planner"])

    def on_start(self):
        super().on_start()
        if self.index == 0:  # every run, also a short one, has both kinds of import at least once
            self.import_bulk()
            self.import_file()

    @task(3)
    def dashboard_home(self):
        self.home()

    @task(2)
    def overview_map(self):
        variant = random.choice([
            "", "?ebene=prognoseraum&kennzahl=indicator:k01",
            f"?ebene=bezirk&kennzahl=budget:{random.choice(DATA['budgets'])}",
            f"?ebene=planungsraum&kennzahl=indicator:{random.choice(DATA['indicators'])}",
        ])
        self.get("dashboard: overview map", f"/uebersicht/karte/{variant}")

    @task(1)
    def overview_budget(self):
        self.get("dashboard: overview budget", f"/uebersicht/budget/?jahr={random.choice(DATA['fiscal_years'])}")

    @task(1)
    def overview_coverage(self):
        if random.random() < 0.25:  # the big one: 542 Planungsräume × 15 fields (~600 KB)
            self.get("dashboard: coverage (Planungsräume)", "/uebersicht/versorgung/?ebene=planungsraum")
        else:
            self.get("dashboard: coverage (Bezirke)", "/uebersicht/versorgung/?ebene=bezirk")

    @task(2)
    def dashboard_map_data(self):
        self.map_data()

    @task(2)
    def dashboard_region_profile(self):
        self.region_profile(random.choice(DATA["bezirke"] + DATA["planungsraeume"][::20]))

    @task(2)
    def search_directory(self):
        self.directory()

    @task(2)
    def search_api(self):
        self.services_api()

    @task(2)
    def import_bulk(self):
        """A small JSON batch (25 Planungsräume) through the bulk API."""
        records = [{"region_code": code, "indicator": DATA["bulk_indicator"], "period": self.account["bulk_period"],
                    "value": random.randint(0, 5000)} for code in random.sample(DATA["planungsraeume"], 25)]
        response = self.request("POST", "import: values bulk API", "/api/v1/indicator-values/bulk/", token=True,
                                json=records)
        if response is not None and response.json().get("status") != "succeeded":
            events.request.fire(request_type="CHECK", name="import: values bulk API result", response_time=0,
                                response_length=0, exception=AssertionError(response.text[:300]), context={})

    @task(2)
    def import_file(self):
        """A CSV of every Planungsraum (542 values) uploaded to the import API and
        processed by the worker; polled until done. The time from upload to done
        is reported as ``IMPORT import: CSV end-to-end``."""
        lines = ["region_code;indicator;period;value"]
        lines += [f"{code};{DATA['file_indicator']};{self.account['file_period']};{random.randint(0, 900)},{i % 10}"
                  for i, code in enumerate(DATA["planungsraeume"])]
        body, content_type = multipart(
            {"kind": "indicator_values"},
            {"file": ("lasttest.csv", ("\r\n".join(lines) + "\r\n").encode("utf-8"), "text/csv")},
        )
        started = time.perf_counter()
        response = self.request("POST", "import: CSV upload", "/api/v1/imports/", expect=202, token=True,
                                data=body, headers={"Content-Type": content_type})
        if response is None:
            return
        run_id = response.json()["id"]
        error, status, last = None, response.json().get("status"), response.text
        while status in ("pending", "running"):
            if time.perf_counter() - started > IMPORT_TIMEOUT:
                error = TimeoutError(f"import {run_id} still {status} after {IMPORT_TIMEOUT} s")
                break
            time.sleep(POLL_EVERY)
            poll = self.get("import: CSV status poll", f"/api/v1/imports/{run_id}/", token=True)
            if poll is None:
                error = RuntimeError("status poll failed")
                break
            status, last = poll.json().get("status"), poll.text
        if error is None and status != "succeeded":
            error = AssertionError(f"import {run_id} {status}: {last[:300]}")
        events.request.fire(request_type="IMPORT", name="import: CSV end-to-end",
                            response_time=(time.perf_counter() - started) * 1000, response_length=len(body),
                            exception=error, context={})


class RegionLead(Visitor):
    persona = "region_lead"
    fixed_count = len(ACCOUNTS["region_lead"])

    def on_start(self):
        super().on_start()
        bezirk = self.account["bezirk"]
        self.planungsraeume = [c for c in DATA["planungsraeume"] if c.startswith(bezirk)] or [bezirk]

    @task(3)
    def dashboard_home(self):
        self.home()

    @task(2)
    def overview_map(self):
        self.get("dashboard: overview map", random.choice([
            "/uebersicht/karte/", "/uebersicht/karte/?ebene=planungsraum&kennzahl=indicator:k01"]))

    @task(2)
    def overview_coverage(self):
        self.get("dashboard: coverage (Bezirke)", "/uebersicht/versorgung/?ebene=bezirk")

    @task(2)
    def dashboard_map_data(self):
        self.map_data(levels=("prognoseraum", "planungsraum"))

    @task(3)
    def dashboard_region_profile(self):
        self.region_profile(random.choice([self.account["bezirk"], *self.planungsraeume]))

    @task(3)
    def search_directory(self):
        self.directory()

    @task(1)
    def search_api(self):
        self.services_api()


class ProviderEditor(Visitor):
    persona = "provider_editor"
    fixed_count = len(ACCOUNTS["provider_editor"])

    def on_start(self):
        super().on_start()
        if self.index == 0:  # every run, also a short one, has both kinds of edit at least once
            self.edit_form()
            self.edit_api()

    @task(2)
    def dashboard_home(self):
        self.home()

    @task(1)
    def my_provider(self):
        self.get("dashboard: Mein Träger", "/mein-traeger/")

    @task(1)
    def dashboard_region_profile(self):
        self.region_profile(random.choice(DATA["bezirke"]))

    @task(3)
    def search_directory(self):
        self.directory()

    @task(1)
    def search_api(self):
        self.services_api()

    @task(2)
    def edit_form(self):
        """The offering's edit form, then the same form posted back with new
        opening hours (and "still current" ticked, as the form offers)."""
        service = random.choice(self.account["services"])
        path = f"/organisationen/angebote/{service}/bearbeiten/"
        page = self.get("edit: offering form (GET)", path)
        if page is None:
            return
        fields = [(k, v) for k, v in form_fields(page.text, "name") if k != "opening_hours"]
        if not fields:
            events.request.fire(request_type="CHECK", name="edit: offering form (parse)", response_time=0,
                                response_length=0, exception=AssertionError("no offering form on the page"), context={})
            return
        fields.append(("opening_hours", f"Mo–Fr 9–{random.randint(14, 19)} Uhr (Lasttest {time.strftime('%H:%M:%S')})"))
        response = self.post_form("edit: offering form (POST)", path, fields, expect=302)
        if response is not None and not response.headers.get("Location", "").startswith(
                f"/organisationen/angebote/{service}/"):
            events.request.fire(request_type="CHECK", name="edit: offering form (redirect)", response_time=0,
                                response_length=0, exception=AssertionError(response.headers.get("Location")),
                                context={})

    @task(2)
    def edit_api(self):
        """Free places reported through the API with the organisation's token."""
        service = random.choice(self.account["services_with_places"])
        body = {"free_places": random.randint(0, service["capacity"]),
                # the server's date (Europe/Berlin): a date in the future is refused
                "free_places_reported_at": datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()}
        self.request("PATCH", "edit: offering API PATCH", f"/api/v1/services/{service['uuid']}/", token=True,
                     json=body)
