"""Choice sets of organisations and service offerings (German labels; the
stored values are English keys, HSDS values where HSDS has a list)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationKind(models.TextChoices):
    PROVIDER = "provider", _("freier Träger")
    PUBLIC_FUNDER = "public_funder", _("Leistungsträger (öffentlich)")
    SCHOOL = "school", _("Schule")
    DAYCARE = "daycare", _("Kita")
    RELIGIOUS = "religious", _("Kirche / Religionsgemeinschaft")
    POLICE = "police", _("Polizei")
    JOB_CENTRE = "job_centre", _("Jobcenter / Arbeitsagentur")
    HEALTH = "health", _("Gesundheitsdienst")
    BUSINESS = "business", _("Unternehmen")
    INITIATIVE = "initiative", _("Bürgerinitiative")
    ASSOCIATION = "association", _("Verein / Verband")
    OTHER = "other", _("sonstige")


class Umbrella(models.TextChoices):
    PARITAETISCHER = "paritaetischer", _("Paritätischer")
    DIAKONIE = "diakonie", _("Diakonie")
    CARITAS = "caritas", _("Caritas")
    AWO = "awo", _("AWO")
    DRK = "drk", _("DRK")
    ZWST = "zwst", _("ZWST")
    NONE = "none", _("keiner")


class LegalForm(models.TextChoices):
    EV = "ev", _("eingetragener Verein (e. V.)")
    GGMBH = "ggmbh", _("gemeinnützige GmbH (gGmbH)")
    GMBH = "gmbh", _("GmbH")
    FOUNDATION = "foundation", _("Stiftung")
    COOPERATIVE = "cooperative", _("Genossenschaft (eG)")
    PUBLIC_BODY = "public_body", _("Körperschaft / Anstalt des öffentlichen Rechts")
    AUTHORITY = "authority", _("Behörde / kommunale Einrichtung")
    CHURCH_BODY = "church_body", _("kirchliche Körperschaft")
    PARTNERSHIP = "partnership", _("GbR / nicht eingetragene Initiative")
    OTHER = "other", _("sonstige")


class MembershipRole(models.TextChoices):
    EDITOR = "editor", _("bearbeiten")
    VIEWER = "viewer", _("lesen")


class Setting(models.TextChoices):
    AMBULANT = "ambulant", _("ambulant")
    SEMI_RESIDENTIAL = "semi_residential", _("teilstationär")
    RESIDENTIAL = "residential", _("stationär")
    OPEN = "open", _("offen / niedrigschwellig")


class WorkMode(models.TextChoices):
    CASE_SPECIFIC = "case_specific", _("fallspezifisch")
    CASE_OVERARCHING = "case_overarching", _("fallübergreifend")
    CASE_UNSPECIFIC = "case_unspecific", _("fallunspezifisch (präventiv)")


class ServiceStatus(models.TextChoices):
    """The HSDS 3.0 service status values."""

    ACTIVE = "active", _("aktiv")
    TEMPORARILY_CLOSED = "temporarily closed", _("vorübergehend geschlossen")
    INACTIVE = "inactive", _("inaktiv")
    DEFUNCT = "defunct", _("eingestellt")


class Cost(models.TextChoices):
    FREE = "free", _("kostenfrei")
    INCOME_DEPENDENT = "income_dependent", _("einkommensabhängig")
    FEE = "fee", _("kostenpflichtig")


class AccessMode(models.TextChoices):
    WALK_IN = "walk_in", _("ohne Anmeldung (offene Sprechstunde)")
    APPOINTMENT = "appointment", _("nach Terminvereinbarung")
    REFERRAL_YOUTH_OFFICE = "referral_youth_office", _("Zuweisung durch das Jugendamt")
    REFERRAL_SOCIAL_OFFICE = "referral_social_office", _("Zuweisung durch das Sozialamt")
    REFERRAL_JOB_CENTRE = "referral_job_centre", _("Zuweisung durch das Jobcenter")
    REFERRAL_MEDICAL = "referral_medical", _("ärztliche Verordnung / Überweisung")
    OUTREACH = "outreach", _("aufsuchend (kommt zu den Menschen)")
    ONLINE = "online", _("online / telefonisch")


class LegalBasis(models.TextChoices):
    SGB_VIII_11 = "sgb8_11", _("SGB VIII § 11 (Jugendarbeit)")
    SGB_VIII_13 = "sgb8_13", _("SGB VIII § 13 (Jugendsozialarbeit)")
    SGB_VIII_16 = "sgb8_16", _("SGB VIII § 16 (Förderung der Erziehung in der Familie)")
    SGB_VIII_22 = "sgb8_22", _("SGB VIII §§ 22 ff. (Kindertagesbetreuung)")
    SGB_VIII_27 = "sgb8_27", _("SGB VIII §§ 27 ff. (Hilfen zur Erziehung)")
    SGB_VIII_35A = "sgb8_35a", _("SGB VIII § 35a (Eingliederungshilfe für seelisch behinderte Kinder)")
    SGB_VIII_41 = "sgb8_41", _("SGB VIII § 41 (Hilfe für junge Volljährige)")
    SGB_II = "sgb2", _("SGB II (Grundsicherung für Arbeitsuchende)")
    SGB_III = "sgb3", _("SGB III (Arbeitsförderung)")
    SGB_V = "sgb5", _("SGB V (Krankenversicherung)")
    SGB_IX = "sgb9", _("SGB IX (Rehabilitation und Teilhabe)")
    SGB_XI = "sgb11", _("SGB XI (Pflegeversicherung)")
    SGB_XII = "sgb12", _("SGB XII (Sozialhilfe)")
    SGB_XII_67 = "sgb12_67", _("SGB XII §§ 67 ff. (besondere soziale Schwierigkeiten)")
    SGB_XII_71 = "sgb12_71", _("SGB XII § 71 (Altenhilfe)")
    ASYLBLG = "asylblg", _("AsylbLG")
    VOLUNTARY = "voluntary", _("freiwillige Leistung / Zuwendung")
    OTHER = "other", _("sonstige")


class Language(models.TextChoices):
    """ISO 639-1 codes of languages offerings are commonly given in."""

    DE = "de", _("Deutsch")
    DE_EASY = "de-easy", _("Leichte Sprache")
    DGS = "sgn-de", _("Deutsche Gebärdensprache")
    EN = "en", _("Englisch")
    TR = "tr", _("Türkisch")
    AR = "ar", _("Arabisch")
    RU = "ru", _("Russisch")
    UK = "uk", _("Ukrainisch")
    PL = "pl", _("Polnisch")
    FA = "fa", _("Persisch (Farsi/Dari)")
    KU = "ku", _("Kurdisch")
    FR = "fr", _("Französisch")
    ES = "es", _("Spanisch")
    VI = "vi", _("Vietnamesisch")
    RO = "ro", _("Rumänisch")
    BG = "bg", _("Bulgarisch")
    SR = "sr", _("Serbisch/Kroatisch/Bosnisch")
    TI = "ti", _("Tigrinya")
    SO = "so", _("Somali")
    PS = "ps", _("Paschtu")


class Accessibility(models.TextChoices):
    STEP_FREE = "step_free", _("stufenloser Zugang")
    ACCESSIBLE_TOILET = "accessible_toilet", _("barrierefreies WC")
    LIFT = "lift", _("Aufzug")
    HEARING_LOOP = "hearing_loop", _("Induktionsschleife")
    SIGN_LANGUAGE = "sign_language", _("Beratung in Gebärdensprache")
    EASY_LANGUAGE = "easy_language", _("Informationen in Leichter Sprache")
    BRAILLE = "braille", _("Informationen in Brailleschrift")
    HOME_VISITS = "home_visits", _("Hausbesuche möglich")


class AgreementKind(models.TextChoices):
    SERVICE = "service", _("Leistungsvereinbarung")
    COOPERATION = "cooperation", _("Kooperationsvereinbarung")
    PROVIDER_ALLIANCE = "provider_alliance", _("Trägerverbund")
    FRAMEWORK = "framework", _("Rahmenvertrag")
    NETWORK = "network", _("Netzwerkvereinbarung")


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Entwurf")
    NEGOTIATION = "negotiation", _("in Verhandlung")
    ACTIVE = "active", _("aktiv")
    SUSPENDED = "suspended", _("ausgesetzt")
    EXPIRED = "expired", _("abgelaufen")
    TERMINATED = "terminated", _("beendet")


class PartyRole(models.TextChoices):
    FUNDER = "funder", _("Leistungsträger (Finanzierung)")
    LEAD = "lead", _("federführender Träger")
    PARTNER = "partner", _("Partner")


class DocumentKind(models.TextChoices):
    CONTRACT = "contract", _("Vertragstext")
    ANNEX = "annex", _("Anlage")
    CONCEPT = "concept", _("Konzept")
    REPORT = "report", _("Bericht")
    MINUTES = "minutes", _("Protokoll")
    OTHER = "other", _("Sonstiges")


class GoalStatus(models.TextChoices):
    NO_DATA = "no_data", _("keine Werte")
    ACHIEVED = "achieved", _("erreicht")
    ON_TRACK = "on_track", _("auf dem Weg")
    OFF_TRACK = "off_track", _("keine Verbesserung")
    MISSED = "missed", _("verfehlt")


class NetworkKind(models.TextChoices):
    SOCIAL_SPACE_TEAM = "social_space_team", _("Sozialraumteam")
    DISTRICT_CONFERENCE = "district_conference", _("Stadtteilkonferenz")
    EXPERT_BOARD = "expert_board", _("Fachgremium")
    CASE_CONFERENCE = "case_conference", _("Fallkonferenz")
    PROVIDER_ALLIANCE = "provider_alliance", _("Trägerverbund")
    NETWORK = "network", _("Netzwerk")


class NetworkRole(models.TextChoices):
    COORDINATION = "coordination", _("Koordination")
    MEMBER = "member", _("Mitglied")
    GUEST = "guest", _("Gast")


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("wöchentlich")
    BIWEEKLY = "biweekly", _("vierzehntägig")
    MONTHLY = "monthly", _("monatlich")
    QUARTERLY = "quarterly", _("vierteljährlich")
    HALF_YEARLY = "half_yearly", _("halbjährlich")
    YEARLY = "yearly", _("jährlich")
    AS_NEEDED = "as_needed", _("nach Bedarf")


class NeedStatus(models.TextChoices):
    NEW = "new", _("neu")
    IN_REVIEW = "in_review", _("in Prüfung")
    PLANNED = "planned", _("in die Planung übernommen")
    DECLINED = "declined", _("abgelehnt")


class PlanningPhase(models.TextChoices):
    MANDATE = "mandate", _("Auftragsklärung")
    ANALYSIS = "analysis", _("Analyse")
    GOALS = "goals", _("Ziele")
    MEASURES = "measures", _("Maßnahmen")
    IMPLEMENTATION = "implementation", _("Umsetzung")
    EVALUATION = "evaluation", _("Bewertung")


class PlanningRole(models.TextChoices):
    LEAD = "lead", _("Federführung")
    PARTICIPANT = "participant", _("Beteiligt")
    EXPERT = "expert", _("Fachliche Beratung")


class SwotQuadrant(models.TextChoices):
    STRENGTH = "strength", _("Stärke")
    WEAKNESS = "weakness", _("Schwäche")
    OPPORTUNITY = "opportunity", _("Chance")
    THREAT = "threat", _("Risiko")


class DecisionKind(models.TextChoices):
    MEASURE = "measure", _("Maßnahme")
    AGREEMENT = "agreement", _("Vereinbarung")
    BUDGET = "budget", _("Budgetänderung")
    OTHER = "other", _("Sonstiges")


class ConflictStatus(models.TextChoices):
    OPEN = "open", _("offen")
    RESOLVED = "resolved", _("gelöst")
    MEDIATED = "mediated", _("vermittelt")
    UNRESOLVED = "unresolved", _("ohne Einigung beendet")
