"""Every stored field, reviewed for personal data (DSGVO Art. 5(1)(c), 25, 30).

The application holds no personal data of clients (the people receiving help)
and as little as possible of staff. This test walks every model Django knows
and checks each concrete field — ``app.Model.field``, many-to-many included —
against ``ALLOWED`` below, where a reviewer gave it a category. A field added
later without review fails here by name; so does an entry whose field is gone.

- Our apps (``OUR_APPS``) and ``auth.User`` are reviewed field by field.
- The history tables that django-pghistory generates (``…Event``) copy their
  tracked model's fields: each copied field must be reviewed on the tracked
  model; the ``pgh_*`` bookkeeping columns are technical.
- Other third-party models are reviewed as a whole (``THIRD_PARTY``, with the
  reason); their schema changes only with a pinned dependency.

On top, field names (and German labels) are searched for words that suggest
data about a person: words for client data (birth, gender, diagnosis, client,
…) must appear nowhere; person names and contact details only in the reviewed
staff-account and organisation fields.

docs/processing-register.md describes the processing these categories serve.
"""

import re

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from pghistory.models import Event

OUR_APPS = ("core", "regions", "cooperation", "budgets", "sozialraum")

# --- categories -------------------------------------------------------------------------

TECH = "technical"  # ids, timestamps, states, keys, paths, ordering, bookkeeping
STAFF = "staff account (minimal)"  # user name, names, work e-mail, roles, memberships of staff
STAFF_REF = "staff reference"  # the id of a staff account as author, decision-maker or person responsible
SECURITY = "security record (staff)"  # password hash, last login, token digest and use
NOTICE = "staff notification"  # a message to one staff member (reminders)
ORG = "organisation data"  # names, addresses, functional contacts and offerings of organisations
COOP = "cooperation record (organisation level)"  # agreements, networks, meetings, needs, planning, conflicts
AGG = "aggregate figure"  # figures per region, budgets, amounts, counts
MASTER = "master data"  # areas, catalogues (fields of action, target groups, indicators), rules
PAYEE = "payee (organisation or contractor)"  # free-text recipient of an expenditure

CATEGORIES = {TECH, STAFF, STAFF_REF, SECURITY, NOTICE, ORG, COOP, AGG, MASTER, PAYEE}

TIMESTAMPED = "id created_at updated_at"  # TimeStampedModel's own columns (the authors are STAFF_REF)
AUTHORS = "created_by updated_by"

# model label → {category: "field field …"}
ALLOWED = {
    # --- Django's user model: the only place with names and e-mail addresses of people ----------
    "auth.User": {
        TECH: "id is_active is_staff is_superuser date_joined",
        STAFF: "username first_name last_name email groups user_permissions",
        SECURITY: "password last_login",
    },
    # --- core -------------------------------------------------------------------------------------
    "core.ImportRun": {
        TECH: f"{TIMESTAMPED} kind status file original_name options dry_run started_at finished_at summary "
              "errors error_count",
        STAFF_REF: AUTHORS,
    },
    "core.FieldOfAction": {
        TECH: f"{TIMESTAMPED} path depth",
        STAFF_REF: AUTHORS,
        MASTER: "key name parent description legal_basis order active",
    },
    # a task the broker could not take: a Celery task name and its ids (index id, period, budget id)
    "core.PendingTask": {TECH: "id task args kwargs key created_at attempts"},
    "core.Notification": {
        TECH: "id kind event_key created_at read_at emailed_at",
        STAFF: "user",
        NOTICE: "title text url",
    },
    # --- regions ----------------------------------------------------------------------------------
    "regions.RegionLevel": {TECH: TIMESTAMPED, STAFF_REF: AUTHORS, MASTER: "key name name_plural rank"},
    "regions.Region": {
        TECH: f"{TIMESTAMPED} path depth",
        STAFF_REF: f"{AUTHORS} lead",
        MASTER: "code name level parent lead_unit official_area_m2 boundary area_m2 centroid_lon centroid_lat "
                "bbox_min_lon bbox_min_lat bbox_max_lon bbox_max_lat",
    },
    "regions.RoleAssignment": {TECH: TIMESTAMPED, STAFF_REF: AUTHORS, STAFF: "user role region"},
    "regions.Indicator": {
        TECH: TIMESTAMPED,
        STAFF_REF: AUTHORS,
        MASTER: "key name unit description source direction rollup weight_indicator decimals",
    },
    "regions.IndicatorValue": {
        TECH: f"{TIMESTAMPED} import_run",
        STAFF_REF: AUTHORS,
        AGG: "indicator region period value is_rollup rollup_weight",
    },
    "regions.CompositeIndex": {
        TECH: TIMESTAMPED,
        STAFF_REF: AUTHORS,
        MASTER: "key name description kind scope_level scope_ancestor exclude_indicator exclude_below "
                "restandardise result_indicator",
    },
    "regions.IndexComponent": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS, MASTER: "index indicator weight standardise invert order",
    },
    "regions.IndexClass": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS,
        MASTER: "index label lower lower_inclusive upper upper_inclusive order",
    },
    "regions.IndexResult": {
        TECH: "id status reason missing computed_at",
        AGG: "index region period value weighted_sum class_label inputs",
    },
    # --- cooperation ------------------------------------------------------------------------------
    "cooperation.Organization": {
        TECH: f"{TIMESTAMPED} uuid",
        STAFF_REF: AUTHORS,
        # functional contact channels of the organisation, not of its staff
        ORG: "name kind umbrella legal_form register_number description parent email phone website street "
             "postal_code city regions",
    },
    "cooperation.Membership": {TECH: "id created_at", STAFF: "user organization role"},
    "cooperation.TargetGroup": {TECH: TIMESTAMPED, STAFF_REF: AUTHORS, MASTER: "key name parent order"},
    "cooperation.Location": {
        TECH: f"{TIMESTAMPED} uuid",
        STAFF_REF: AUTHORS,
        ORG: "organization name street postal_code city latitude longitude region",
    },
    "cooperation.Service": {
        TECH: f"{TIMESTAMPED} uuid status last_confirmed_at search",
        STAFF_REF: AUTHORS,
        ORG: "organization name description keywords setting work_mode age_min age_max legal_bases languages "
             "accessibility cost cost_note access_modes city_wide opening_hours email phone url fields "
             "target_groups regions locations",
        AGG: "capacity free_places free_places_reported_at",
    },
    "cooperation.Agreement": {
        TECH: f"{TIMESTAMPED} uuid",
        STAFF_REF: AUTHORS,
        COOP: "title kind status valid_from valid_until goals review_interval_months next_review public regions "
              "fields services",
    },
    "cooperation.AgreementParty": {
        TECH: "id",
        STAFF_REF: "confirmed_by",
        COOP: "agreement organization role responsibilities work_modes confirmed_at",
        ORG: "contact availability",  # a functional address and office hours of the organisation
        AGG: "budget_share",
    },
    "cooperation.EscalationStep": {TECH: "id", COOP: "agreement network order handled_by days"},
    "cooperation.AgreementDocument": {
        TECH: f"{TIMESTAMPED} uuid content_type size",
        STAFF_REF: AUTHORS,
        COOP: "agreement title kind file original_name",
    },
    "cooperation.Goal": {
        TECH: TIMESTAMPED,
        STAFF_REF: AUTHORS,
        COOP: "agreement title indicator region baseline_period target_value target_date",
    },
    "cooperation.Network": {
        TECH: f"{TIMESTAMPED} uuid",
        STAFF_REF: AUTHORS,
        COOP: "name kind description coordinator cadence public active regions fields",
        ORG: "contact",  # the coordination's functional address
    },
    "cooperation.NetworkMember": {TECH: "id", COOP: "network organization role responsibilities"},
    "cooperation.Meeting": {
        TECH: f"{TIMESTAMPED} uuid",
        STAFF_REF: AUTHORS,
        COOP: "network starts_at place agenda decisions attendees case_fields",
        AGG: "cases_discussed",  # case conferences: the number of cases, anonymous
    },
    "cooperation.MeetingTask": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS, COOP: "meeting title responsible due done_at",
    },
    "cooperation.NeedReport": {
        TECH: f"{TIMESTAMPED} uuid status triaged_at",
        STAFF_REF: f"{AUTHORS} triaged_by",
        COOP: "reporter region field title description evidence decline_reason",
    },
    "cooperation.PlanningProcess": {
        TECH: f"{TIMESTAMPED} uuid",
        STAFF_REF: AUTHORS,
        COOP: "title phase closed mandate_goals mandate_actors mandate_provider_ask mandate_provider_join "
              "mandate_provider_coordination regions fields indicators indices need_reports",
    },
    "cooperation.PlanningParticipant": {TECH: "id", COOP: "process organization role joins_in"},
    "cooperation.SwotEntry": {TECH: TIMESTAMPED, STAFF_REF: AUTHORS, COOP: "process organization quadrant text"},
    "cooperation.PlanningDecision": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS, COOP: "process decided_on kind text agreement responsible",
    },
    "cooperation.ConflictCase": {
        TECH: f"{TIMESTAMPED} uuid status step step_started step_due closed_at",
        STAFF_REF: AUTHORS,
        COOP: "agreement network raised_by subject description outcome",
    },
    "cooperation.IntegrationToken": {
        TECH: "id name scope prefix created_at expires_at revoked_at",
        STAFF: "owner",
        STAFF_REF: "revoked_by",
        SECURITY: "key_digest last_used_at last_used_ip",
        ORG: "organization",
    },
    # --- budgets ----------------------------------------------------------------------------------
    "budgets.Budget": {
        TECH: f"{TIMESTAMPED} status",
        STAFF_REF: AUTHORS,
        AGG: "name fiscal_year field scope_region target_level total split_mode case_specific case_overarching "
             "preventive",
    },
    "budgets.AllocationRule": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS, MASTER: "budget part base_amount missing description",
    },
    "budgets.RuleTerm": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS, MASTER: "rule kind weight indicator factor_indicator period order",
    },
    "budgets.RegionBound": {TECH: TIMESTAMPED, STAFF_REF: AUTHORS, MASTER: "rule region floor cap"},
    "budgets.AllocationRun": {
        TECH: "id status trigger input_hash error attempts created_at started_at finished_at",
        STAFF_REF: "triggered_by",
        AGG: "budget snapshot",
    },
    "budgets.Allocation": {TECH: "id", AGG: "run region part amount bound"},
    "budgets.Adoption": {TECH: "id adopted_at", STAFF_REF: "adopted_by", AGG: "budget run"},
    "budgets.Expenditure": {
        TECH: TIMESTAMPED,
        STAFF_REF: AUTHORS,
        AGG: "budget region organization part category booking_date amount text",
        PAYEE: "recipient",  # free text when the payee is no registered organisation (a firm, a contractor)
    },
    "budgets.ProviderShare": {
        TECH: TIMESTAMPED, STAFF_REF: AUTHORS, AGG: "budget region part organization share",
    },
    "budgets.ProviderAllocation": {
        TECH: "id source computed_at",
        AGG: "budget run region part organization share amount agreements",
    },
}

# Third-party models reviewed as a whole: model label → why it may hold what it holds. Entries of apps
# that are not installed are ignored (reviewed ahead of the security work: django-axes, django-otp).
THIRD_PARTY = {
    "admin.LogEntry": "Django admin's action log: staff account id, object id and label, action — an audit "
                      "record, kept when an account is erased (records the erasure itself, with the pseudonym)",
    "auth.Permission": "technical: permission names",
    "auth.Group": "technical: group names",
    "contenttypes.ContentType": "technical: model names",
    "sessions.Session": "signed-in staff sessions (the account id inside); expire after SESSION_COOKIE_AGE, "
                        "ended when an account is erased",
    "pghistory.Context": "change-history context: the acting account's id and the URL or command; purged with "
                         "the history (AUDIT_RETENTION_DAYS)",
    "pghistory.Events": "unmanaged view over the history tables, no data of its own",
    "pghistory.MiddlewareEvents": "proxy of pghistory.Events (the acting account from the context)",
    "authtoken.Token": "DRF's API token of a staff account (a secret) — replaced by integration tokens",
    "axes.AccessAttempt": "failed logins for lockout: user name, IP address, user agent (security, staff)",
    "axes.AccessAttemptExpiration": "expiry of a lockout record (technical)",
    "axes.AccessFailureLog": "failed-login log: user name, IP address, user agent (security, staff)",
    "axes.AccessLog": "login/logout log: user name, IP address, user agent (security, staff)",
    "otp_totp.TOTPDevice": "a staff account's authenticator app (second factor): device name, secret key",
    "otp_static.StaticDevice": "a staff account's backup codes device",
    "otp_static.StaticToken": "one backup code (a secret) of a staff account",
    "otp_email.EmailDevice": "second factor by e-mail: the staff account's e-mail address",
    "otp_hotp.HOTPDevice": "a staff account's counter-based second factor: device name, secret key",
}

# The history tables' own bookkeeping columns.
HISTORY_COLUMNS = {"pgh_id", "pgh_created_at", "pgh_label", "pgh_obj", "pgh_context"}

# Words that suggest data about a client — they appear in no field name or label. German compounds
# are matched as substrings.
CLIENT_WORDS = re.compile(
    r"klient|client|patient|diagnos|birth|geburt|gender|geschlecht|nationalit|staatsangeh|religio|ethni"
    r"|insur|versicher|aktenz|fallnummer|fall_?nr|case_?(id|no|number)|health|gesundheit|disabilit|behinderung"
    r"|family|familie|household|haushaltsmitglied|income|einkommen|sozialleistung|benefit",
    re.IGNORECASE,
)
# A reviewed exception needs a reason here.
CLIENT_WORD_EXCEPTIONS: dict[str, str] = {}

# Words for a person's name: only in the staff account.
PERSON_NAME = re.compile(r"first_?name|last_?name|full_?name|surname|vorname|nachname|user_?name|person",
                         re.IGNORECASE)
# Words for contact details and whereabouts: only staff account, organisation data, security records, payee.
CONTACT_TOKENS = {"email", "mail", "phone", "telefon", "fax", "mobile", "street", "strasse", "address",
                  "adresse", "anschrift", "postal", "plz", "zip", "city", "wohnort", "contact", "kontakt",
                  "recipient", "ip"}
CONTACT_CATEGORIES = {STAFF, ORG, SECURITY, PAYEE}


# --- helpers ------------------------------------------------------------------------------


def fields_of(model):
    return list(model._meta.concrete_fields) + list(model._meta.many_to_many)


def is_history_table(model) -> bool:
    return issubclass(model, Event) and not model._meta.abstract


def field_review() -> dict[str, str]:
    """``app.Model.field`` → category, from ALLOWED."""
    out = {}
    for label, groups in ALLOWED.items():
        for category, names in groups.items():
            for name in names.split():
                key = f"{label}.{name}"
                assert key not in out, f"{key} is listed twice ({out[key]!r} and {category!r})"
                out[key] = category
    return out


def field_reviewed_models():
    """Models reviewed field by field: those of our apps (history tables aside) and auth.User."""
    user_model = get_user_model()
    return [m for m in django_models()
            if (m._meta.app_label in OUR_APPS and not is_history_table(m)) or m is user_model]


def django_models():
    return apps.get_models()


def all_fields():
    """(model label, field) of every concrete field of every model."""
    for model in django_models():
        for f in fields_of(model):
            yield model._meta.label, f


# --- the review ---------------------------------------------------------------------------


class TestFieldsReviewed:
    def test_categories_are_known(self):
        unknown = {category for groups in ALLOWED.values() for category in groups} - CATEGORIES
        assert not unknown

    def test_every_field_is_reviewed(self):
        review = field_review()
        present = {f"{m._meta.label}.{f.name}" for m in field_reviewed_models() for f in fields_of(m)}
        missing = sorted(present - set(review))
        assert not missing, (
            "fields without a data-protection review — add each to ALLOWED in tests/test_personal_data_fields.py "
            "with its category (and, if it holds personal data, to docs/processing-register.md):\n  "
            + "\n  ".join(missing))
        stale = sorted(set(review) - present)
        assert not stale, f"ALLOWED lists fields that no longer exist: {stale}"

    def test_history_tables_copy_only_reviewed_fields(self):
        review = field_review()
        tables = [m for m in django_models() if is_history_table(m) and m._meta.app_label in OUR_APPS]
        assert tables, "no pghistory event tables found"
        unreviewed = []
        for model in tables:
            tracked = model.pgh_tracked_model._meta.label
            for f in fields_of(model):
                if f.name in HISTORY_COLUMNS:
                    continue
                if f"{tracked}.{f.name}" not in review:
                    unreviewed.append(f"{model._meta.label}.{f.name} (copy of {tracked}.{f.name})")
        assert not unreviewed, "history columns whose field on the tracked model is not reviewed:\n  " + \
            "\n  ".join(unreviewed)

    def test_every_third_party_model_is_reviewed(self):
        user_model = get_user_model()
        third_party = {m._meta.label for m in django_models()
                       if m._meta.app_label not in OUR_APPS and m is not user_model}
        missing = sorted(third_party - set(THIRD_PARTY))
        assert not missing, f"third-party models without a review (THIRD_PARTY): {missing}"
        installed = {app.label for app in apps.get_app_configs()}
        stale = sorted(label for label in THIRD_PARTY
                       if label.split(".")[0] in installed and label not in third_party)
        assert not stale, f"THIRD_PARTY lists models of installed apps that no longer exist: {stale}"
        assert all(reason.strip() for reason in THIRD_PARTY.values())


class TestNoClientData:
    def test_no_field_suggests_client_data(self):
        found = []
        for label, f in all_fields():
            key = f"{label}.{f.name}"
            text = f"{f.name} {f.verbose_name}"
            if CLIENT_WORDS.search(text) and key not in CLIENT_WORD_EXCEPTIONS:
                found.append(f"{key} ({f.verbose_name})")
        assert not found, "fields whose name suggests data about clients:\n  " + "\n  ".join(found)

    def test_person_names_only_in_the_staff_account(self):
        review = field_review()
        wrong = [f"{label}.{f.name}" for label, f in all_fields()
                 if f"{label}.{f.name}" in review and PERSON_NAME.search(f.name)
                 and review[f"{label}.{f.name}"] != STAFF]
        assert not wrong, f"fields for a person's name outside the staff account: {wrong}"
        user_model = get_user_model()._meta.label
        elsewhere = [key for key, category in review.items()
                     if PERSON_NAME.search(key.rsplit(".", 1)[1]) and not key.startswith(user_model + ".")]
        assert not elsewhere, f"person names stored outside {user_model}: {elsewhere}"

    def test_contact_details_only_in_reviewed_staff_or_organisation_fields(self):
        review = field_review()
        wrong = []
        for key, category in review.items():
            tokens = set(key.rsplit(".", 1)[1].lower().split("_"))
            if tokens & CONTACT_TOKENS and category not in CONTACT_CATEGORIES:
                wrong.append(f"{key} ({category})")
        assert not wrong, f"contact-like fields outside staff/organisation/security/payee fields: {wrong}"


class TestStaffDataMinimal:
    def test_the_user_model_holds_only_the_reviewed_minimum(self):
        """No profile fields (phone, birthday, photo …) on the account: its
        fields are exactly those reviewed."""
        user_model = get_user_model()
        names = {f.name for f in fields_of(user_model)}
        reviewed = {key.rsplit(".", 1)[1] for key in field_review() if key.startswith(user_model._meta.label + ".")}
        assert names == reviewed
        staff_fields = {key.rsplit(".", 1)[1] for key, c in field_review().items()
                        if c == STAFF and key.startswith(user_model._meta.label + ".")}
        assert staff_fields == {"username", "first_name", "last_name", "email", "groups", "user_permissions"}

    def test_staff_categories_fit_the_fields(self):
        """A foreign key to the user model is a staff account or reference; a
        staff reference is always such a key; the staff account's own data
        (names, e-mail) lives on the user model only."""
        user_model = get_user_model()
        review = field_review()
        problems = []
        for model in field_reviewed_models():
            for f in fields_of(model):
                key = f"{model._meta.label}.{f.name}"
                category = review.get(key)
                to_user = f.is_relation and f.related_model is user_model
                if to_user and category not in (STAFF, STAFF_REF):
                    problems.append(f"{key}: points at the user model but is {category!r}")
                if category == STAFF_REF and not to_user:
                    problems.append(f"{key}: a staff reference that is no foreign key to the user model")
                if category == STAFF and model is not user_model and not (
                        f.is_relation or f.name in ("role",)):
                    problems.append(f"{key}: staff data outside the user model that is no relation or role")
        assert not problems, "\n".join(problems)


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_each_category_is_used(category):
    """No category stays empty (a dead category would hide a mistake)."""
    assert any(category in groups for groups in ALLOWED.values())
