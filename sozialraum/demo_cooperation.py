"""Fictional providers and offerings for the demo city (Berlin).

Generated deterministically (a seeded ``random.Random``, no network) over the
demo's real LOR regions: about 450 organisations — providers (freie Träger)
with their umbrella associations and some branches, schools, Kitas, parishes,
police prevention teams, job centres, youth-office teams, health services,
initiatives, clubs and a few businesses — and about 3,000 offerings across the
default fields of action and target groups, at locations whose points lie in
the demo's Prognoseraum boundaries (so each location gets its region).

**Everything here is invented**: the names are compounds of invented place
words ("Kinder- und Jugendhilfe Spreebogen e. V."), the streets are invented,
register numbers (VR/HRB 9xxxxx) are outside the ranges in use, e-mail and web
addresses use the reserved ``.example`` domain and the phone numbers the range
030 23125 xxx kept free for fiction. No real organisation and no person is named.

Idempotent: every generated object has a fixed UUID; a run creates only what
is missing (a second run creates nothing and changes nothing, and it never
overwrites what somebody changed in the demo).
"""

import random
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import shapely
from django.db import transaction
from django.utils import timezone

from cooperation.choices import MembershipRole
from cooperation.importers import ManyToMany, RegionLocator
from cooperation.models import Location, Membership, Organization, Service, TargetGroup
from core.models import FieldOfAction
from regions.models import Region

SEED = 20_240_611
NAMESPACE = uuid.UUID("6f1d3c1e-5a57-4d38-9a55-2f0c1de0a7b1")
FICTION = "Fiktive Organisation der Demo-Daten; Ähnlichkeiten mit realen Einrichtungen wären zufällig."

# The two demo provider logins and "their" organisation (index in the plan).
DEMO_MEMBERSHIPS = {"traeger-a": "provider:0", "traeger-b": "provider:1"}

PLACE_HEADS = [
    "Spree", "Kranich", "Otter", "Weiden", "Birken", "Erlen", "Reiher", "Lerchen", "Mohn", "Klee", "Holunder",
    "Sanddorn", "Schlehen", "Eisvogel", "Biber", "Ginster", "Wacholder", "Haselnuss", "Quitten", "Mispel", "Falken",
    "Uhu", "Libellen", "Schilf", "Binsen", "Brombeer", "Kiebitz", "Pirol", "Zaunkönig", "Wiedehopf", "Igel",
    "Lupinen", "Kastanien", "Ulmen", "Flieder",
]
PLACE_TAILS = ["bogen", "grund", "aue", "winkel", "ufer", "hain", "feld", "höhe", "wiese", "kamp", "eck", "horst",
               "anger", "bruch"]
STREET_TAILS = ["weg", "straße", "pfad", "ring", "allee", "steig", "gasse", "zeile", "damm", "promenade"]
KITA_NAMES = ["Wolkenschiff", "Kleine Otter", "Sternschnuppe", "Pusteblume", "Zwergenhügel", "Flaschenpost",
              "Wundertüte", "Kichererbse", "Sonnenkäfer", "Purzelbaum", "Hummelnest", "Luftballon", "Buntspecht",
              "Apfelbäckchen", "Seifenblase", "Kastanienkinder", "Murmelbahn", "Schatzinsel", "Leuchtturm",
              "Regenwurm", "Glühwürmchen", "Papierdrache", "Krümelkiste", "Weltentdecker", "Rasselbande"]

# A plausible postal code per Bezirk (real codes of the district; the streets are invented).
POSTAL_CODES = {
    "01": "10115 10117 10119 10178 10179 10551 10553 10555 10557 10559 13347 13349 13351 13353 13355 13357 13359",
    "02": "10243 10245 10247 10249 10961 10963 10965 10967 10969 10997 10999",
    "03": "10405 10407 10409 10435 10437 10439 13086 13088 13089 13125 13127 13129 13156 13158 13187 13189",
    "04": "10585 10587 10589 10623 10625 10627 10629 10707 10709 10711 10713 10715 10717 10719 14050 14052 14055",
    "05": "13581 13583 13585 13587 13589 13591 13593 13595 13597 13599 14089",
    "06": "12157 12161 12163 12165 12167 12169 12203 12205 12207 12209 12247 12249 14109 14129 14163 14165 14195",
    "07": "10777 10779 10781 10783 10823 10825 10827 10829 12099 12101 12103 12105 12107 12109 12277 12279 12305",
    "08": "12043 12045 12047 12049 12051 12053 12055 12057 12059 12347 12349 12351 12353 12355 12357 12359",
    "09": "12435 12437 12439 12459 12487 12489 12524 12526 12527 12555 12557 12559 12587 12589",
    "10": "12619 12621 12623 12627 12629 12679 12681 12683 12685 12687 12689",
    "11": "10315 10317 10318 10319 10365 10367 10369 13051 13053 13055 13057 13059",
    "12": "13403 13405 13407 13409 13435 13437 13439 13465 13467 13469 13503 13505 13507 13509",
}

OPENING_HOURS = {
    "office": ["Mo–Fr 9–17 Uhr", "Mo–Do 9–16 Uhr, Fr 9–13 Uhr", "Mo, Mi, Do 10–18 Uhr; Di 13–19 Uhr",
               "Di und Do 10–16 Uhr, offene Sprechstunde Mi 15–18 Uhr", "Mo–Fr 8–16 Uhr und nach Vereinbarung"],
    "open": ["Mo–Fr 14–20 Uhr", "Di–Sa 15–21 Uhr", "Mo, Mi, Fr 14–19 Uhr", "Mo–Do 13–19 Uhr, Fr 13–22 Uhr",
             "Di–Fr 15–20 Uhr, Sa 12–18 Uhr (Ferien: 10–16 Uhr)"],
    "kita": ["Mo–Fr 6–17 Uhr", "Mo–Fr 7–17 Uhr", "Mo–Fr 6.30–18 Uhr"],
    "residential": ["rund um die Uhr"],
    "appointment": ["nach Vereinbarung", "Termine nach telefonischer Vereinbarung (Mo–Fr 9–15 Uhr)"],
    "course": ["Kurse wochentags vormittags und abends, Termine im Programmheft",
               "Mi 9.30–11.30 Uhr (Eltern-Kind-Gruppe), Do 18–20 Uhr (Elternkurs)"],
}


@dataclass(frozen=True)
class Template:
    """An offering as a provider typically has it."""

    names: tuple[str, ...]  # "{place}" is filled in
    fields: tuple[str, ...]
    setting: str
    work_mode: str
    groups: tuple[str, ...]
    ages: tuple | None = None  # (min, max), either may be None
    legal: tuple[str, ...] = ()
    access: tuple[str, ...] = ("appointment",)
    cost: str = "free"
    capacity: tuple | None = None  # (lo, hi)
    hours: str = "office"
    description: str = ""
    keywords: str = ""
    located: float = 0.9  # share given at a location (the others are outreach/online/protected addresses)


T = Template
TEMPLATES: dict[str, list[Template]] = {
    "jugend": [
        T(("Jugendclub {place}", "Jugendfreizeiteinrichtung {place}", "Kinder- und Jugendtreff {place}"),
          ("kjh-jugendarbeit",), "open", "case_unspecific", ("jugendliche", "kinder-6-13"), (10, 21), ("sgb8_11",),
          ("walk_in",), hours="open", description="Offener Treff mit Hausaufgabenhilfe, Sport, Musik und Ausflügen.",
          keywords="Freizeit, Treffpunkt, Hausaufgaben, Ferienprogramm"),
        T(("Abenteuerspielplatz {place}", "Kinderbauernhof {place}"), ("kjh-jugendarbeit",), "open",
          "case_unspecific", ("kinder-6-13",), (6, 14), ("sgb8_11",), ("walk_in",), hours="open",
          description="Draußen spielen, bauen und gärtnern – betreut von pädagogischen Fachkräften.",
          keywords="Spielplatz, Natur, Tiere, Ferien"),
        T(("Straßensozialarbeit {place}", "Mobile Jugendarbeit {place}"), ("kjh-jugendsozialarbeit",), "ambulant",
          "case_overarching", ("jugendliche", "junge-volljaehrige"), (14, 27), ("sgb8_13",), ("outreach", "online"),
          hours="open", located=0.3, description="Aufsuchende Arbeit an Treffpunkten junger Menschen im Kiez.",
          keywords="Streetwork, aufsuchend, Beratung"),
        T(("Schulsozialarbeit an der {school}",), ("kjh-jugendsozialarbeit",), "ambulant", "case_overarching",
          ("kinder-6-13", "jugendliche", "eltern"), (6, 18), ("sgb8_13",), ("walk_in", "appointment"),
          description="Beratung für Schülerinnen und Schüler, Eltern und Lehrkräfte; Projekte zum sozialen Lernen.",
          keywords="Schule, Konflikte, Beratung, Klassenrat"),
        T(("Jugendberufshilfe {place}", "Übergang Schule–Beruf {place}"), ("kjh-jugendsozialarbeit", "arbeit"),
          "ambulant", "case_specific", ("jugendliche", "junge-volljaehrige"), (15, 25), ("sgb8_13", "sgb2"),
          ("appointment", "referral_job_centre"), description="Begleitung bei Berufsorientierung, Bewerbung und "
                                                             "Ausbildung.", keywords="Ausbildung, Bewerbung, Beruf"),
        T(("Medienkompetenz-Werkstatt {place}", "Präventionsprojekt „Sicher im Netz“ {place}"),
          ("kjh-jugendschutz",), "open", "case_unspecific", ("jugendliche", "kinder-6-13", "eltern"), (10, 18),
          ("sgb8_11",), ("walk_in", "appointment"), hours="course",
          description="Workshops zu sozialen Medien, Cybermobbing und Datenschutz für Klassen und Gruppen.",
          keywords="Medien, Prävention, Workshop"),
        T(("Soziale Gruppenarbeit {place}",), ("kjh-hze-gruppenarbeit",), "ambulant", "case_specific",
          ("kinder-6-13", "jugendliche"), (8, 15), ("sgb8_27",), ("referral_youth_office",), capacity=(8, 12),
          description="Wöchentliche Gruppe zum Trainieren sozialer Kompetenzen.",
          keywords="Gruppe, soziales Lernen, Hilfe zur Erziehung"),
        T(("Erziehungsbeistandschaft {place}",), ("kjh-hze-erziehungsbeistand",), "ambulant", "case_specific",
          ("jugendliche",), (10, 18), ("sgb8_27",), ("referral_youth_office",), located=0.6,
          description="Einzelbegleitung junger Menschen und ihrer Familien.", keywords="Einzelfallhilfe, Begleitung"),
    ],
    "familie": [
        T(("Familienzentrum {place}", "Stadtteilmütter und Familienzentrum {place}"),
          ("kjh-familienfoerderung", "familienbildung"), "open", "case_unspecific", ("familien", "eltern", "kinder"),
          (0, None), ("sgb8_16",), ("walk_in",), hours="office",
          description="Treffpunkt für Familien mit Elterncafé, Beratung, Kursen und Krabbelgruppen.",
          keywords="Elterncafé, Krabbelgruppe, Beratung, Familie"),
        T(("Erziehungs- und Familienberatung {place}",), ("kjh-hze-erziehungsberatung",), "ambulant",
          "case_specific", ("eltern", "kinder", "jugendliche"), (0, 27), ("sgb8_27", "sgb8_16"),
          ("appointment", "online"), description="Beratung bei Erziehungsfragen, Trennung und Scheidung, "
                                                 "Krisen in der Familie.", keywords="Erziehung, Trennung, Krise"),
        T(("Frühe Hilfen {place}", "Willkommensbesuche für Neugeborene {place}"), ("kjh-fruehe-hilfen",),
          "ambulant", "case_overarching", ("schwangere", "eltern"), (None, 3), ("sgb8_16",),
          ("appointment", "outreach"), located=0.7,
          description="Unterstützung rund um Schwangerschaft, Geburt und die ersten Lebensjahre.",
          keywords="Baby, Schwangerschaft, Familienhebamme"),
        T(("Familienbildung {place}", "Elternkurse {place}"), ("familienbildung",), "open", "case_unspecific",
          ("eltern", "familien"), None, ("sgb8_16",), ("appointment",), cost="fee", hours="course",
          description="Kurse und Gruppen für Eltern: Erziehung, Gesundheit, Medien, Alltag.",
          keywords="Kurs, Elternkurs, Eltern-Kind-Gruppe"),
        T(("Sozialpädagogische Familienhilfe {place}",), ("kjh-hze-spfh",), "ambulant", "case_specific",
          ("familien", "alleinerziehende"), None, ("sgb8_27",), ("referral_youth_office",), located=0.5,
          description="Intensive Begleitung von Familien im Alltag, zu Hause.", keywords="SPFH, Familie, Alltag"),
        T(("Beratung für Alleinerziehende {place}",), ("kjh-familienfoerderung",), "ambulant", "case_specific",
          ("alleinerziehende",), None, ("sgb8_16",), ("walk_in", "appointment"),
          description="Beratung zu Unterhalt, Betreuung, Beruf und Finanzen; Austauschgruppe.",
          keywords="alleinerziehend, Unterhalt, Gruppe"),
    ],
    "hze": [
        T(("Sozialpädagogische Familienhilfe {place}",), ("kjh-hze-spfh",), "ambulant", "case_specific",
          ("familien",), None, ("sgb8_27",), ("referral_youth_office",), located=0.5,
          description="Aufsuchende Hilfe für Familien in belasteten Lebenslagen.", keywords="SPFH, Hausbesuch"),
        T(("Intensive sozialpädagogische Einzelbetreuung {place}",), ("kjh-hze-ise",), "ambulant", "case_specific",
          ("jugendliche", "junge-volljaehrige"), (14, 21), ("sgb8_27", "sgb8_41"), ("referral_youth_office",),
          located=0.5, description="Einzelbetreuung junger Menschen in schwierigen Lebenslagen.",
          keywords="ISE, Einzelbetreuung"),
        T(("Tagesgruppe {place}",), ("kjh-hze-tagesgruppe",), "semi_residential", "case_specific",
          ("kinder-6-13",), (6, 13), ("sgb8_27",), ("referral_youth_office",), capacity=(8, 12),
          description="Betreuung nach der Schule mit Elternarbeit, Mo–Fr bis 17 Uhr.",
          keywords="Tagesgruppe, Nachmittag, Elternarbeit"),
        T(("Wohngruppe {place}", "Jugendwohngemeinschaft {place}"), ("kjh-hze-heimerziehung",), "residential",
          "case_specific", ("jugendliche",), (12, 18), ("sgb8_27",), ("referral_youth_office",), capacity=(6, 9),
          hours="residential", description="Betreutes Wohnen für Jugendliche, die nicht bei ihren Eltern leben "
                                           "können.", keywords="Wohngruppe, Heimerziehung"),
        T(("Betreutes Jugendwohnen {place}",), ("kjh-junge-volljaehrige",), "residential", "case_specific",
          ("junge-volljaehrige",), (17, 21), ("sgb8_41",), ("referral_youth_office",), capacity=(6, 12),
          hours="residential", description="Eigene Wohnung mit Begleitung auf dem Weg in die Selbstständigkeit.",
          keywords="Verselbstständigung, Wohnen"),
        T(("Pflegekinderdienst {place}",), ("kjh-hze-vollzeitpflege",), "ambulant", "case_specific",
          ("kinder", "familien"), (0, 18), ("sgb8_27",), ("appointment",),
          description="Beratung und Begleitung von Pflegefamilien; Informationsabende für Interessierte.",
          keywords="Pflegefamilie, Pflegekind"),
        T(("Krisenwohngruppe {place}",), ("kjh-inobhutnahme",), "residential", "case_specific",
          ("kinder-6-13", "jugendliche"), (6, 17), ("sgb8_27",), ("referral_youth_office",), capacity=(6, 8),
          hours="residential", located=0.0, description="Schutz und Unterkunft in akuten Krisen; "
                                                        "Adresse wird nicht veröffentlicht.",
          keywords="Inobhutnahme, Krise, Schutz"),
        T(("Lerntherapie und Autismusberatung {place}",), ("kjh-eingliederungshilfe",), "ambulant",
          "case_specific", ("kinder", "jugendliche"), (4, 18), ("sgb8_35a",), ("referral_youth_office",
                                                                               "appointment"),
          description="Therapie und Förderung bei seelischer Behinderung oder drohender Behinderung.",
          keywords="Autismus, Lernstörung, Therapie"),
    ],
    "kita": [
        T(("Kita {kita}",), ("kjh-kita",), "semi_residential", "case_unspecific", ("kinder-unter-6",), (1, 6),
          ("sgb8_22",), ("appointment",), cost="income_dependent", capacity=(40, 160), hours="kita",
          description="Kindertagesstätte mit Krippe und Elementarbereich; Sprachförderung im Alltag.",
          keywords="Kita, Krippe, Betreuung, Kitaplatz"),
    ],
    "senioren": [
        T(("Seniorentreff {place}", "Begegnungsstätte {place}"), ("altenhilfe",), "open", "case_unspecific",
          ("seniorinnen",), (60, None), ("sgb12_71",), ("walk_in",), hours="office",
          description="Mittagstisch, Kurse, Ausflüge und Beratung für ältere Menschen.",
          keywords="Senioren, Mittagstisch, Begegnung"),
        T(("Besuchsdienst {place}",), ("altenhilfe",), "ambulant", "case_overarching", ("seniorinnen",),
          (65, None), ("sgb12_71", "voluntary"), ("appointment", "outreach"), located=0.6,
          description="Ehrenamtliche besuchen alleinlebende ältere Menschen.", keywords="Besuch, Einsamkeit"),
        T(("Pflegeberatung {place}",), ("pflege",), "ambulant", "case_specific",
          ("pflegebeduerftige", "pflegende-angehoerige"), None, ("sgb11",), ("appointment", "online"),
          description="Beratung zu Pflegegrad, Leistungen und Entlastung pflegender Angehöriger.",
          keywords="Pflegegrad, Angehörige, Entlastung"),
        T(("Tagespflege {place}",), ("pflege",), "semi_residential", "case_specific", ("pflegebeduerftige",),
          (60, None), ("sgb11",), ("appointment",), cost="income_dependent", capacity=(12, 20),
          description="Betreuung und Pflege am Tag, Fahrdienst.", keywords="Tagespflege, Demenz"),
        T(("Ambulanter Pflegedienst {place}",), ("pflege",), "ambulant", "case_specific", ("pflegebeduerftige",),
          None, ("sgb11", "sgb5"), ("referral_medical", "appointment"), cost="income_dependent", located=0.8,
          description="Pflege und Hilfe im Haushalt zu Hause.", keywords="Pflege, häusliche Pflege"),
    ],
    "teilhabe": [
        T(("Betreutes Einzelwohnen {place}",), ("eingliederungshilfe",), "ambulant", "case_specific",
          ("menschen-mit-behinderung", "psychisch-erkrankte"), (18, None), ("sgb9",), ("referral_social_office",),
          located=0.6, description="Unterstützung im eigenen Wohnraum.", keywords="Wohnen, Assistenz"),
        T(("Tagesstätte {place}", "Zuverdienstprojekt {place}"), ("eingliederungshilfe", "arbeit"),
          "semi_residential", "case_specific", ("psychisch-erkrankte",), (18, None), ("sgb9",),
          ("referral_social_office", "appointment"), capacity=(15, 30),
          description="Tagesstruktur, Beschäftigung und Gemeinschaft.", keywords="Tagesstruktur, Beschäftigung"),
        T(("Wohngemeinschaft für Menschen mit Behinderung {place}",), ("eingliederungshilfe",), "residential",
          "case_specific", ("menschen-mit-behinderung",), (18, None), ("sgb9",), ("referral_social_office",),
          capacity=(8, 24), hours="residential", description="Gemeinschaftliches Wohnen mit Assistenz.",
          keywords="Wohnen, Assistenz, WG"),
        T(("Ergänzende unabhängige Teilhabeberatung {place}",), ("eingliederungshilfe",), "ambulant",
          "case_overarching", ("menschen-mit-behinderung",), None, ("sgb9",), ("walk_in", "appointment", "online"),
          description="Beratung von Betroffenen für Betroffene zu Leistungen der Teilhabe.",
          keywords="Teilhabe, Peer-Beratung"),
    ],
    "migration": [
        T(("Migrationsberatung {place}",), ("migration",), "ambulant", "case_specific", ("zugewanderte",),
          (27, None), ("voluntary",), ("walk_in", "appointment"),
          description="Beratung zu Aufenthalt, Sprachkursen, Arbeit und Wohnen.", keywords="Migration, Beratung"),
        T(("Beratung für Geflüchtete {place}",), ("migration",), "ambulant", "case_specific", ("gefluechtete",),
          None, ("asylblg",), ("walk_in",), description="Asylverfahrensberatung und Begleitung zu Behörden.",
          keywords="Asyl, Geflüchtete, Behörden"),
        T(("Sprachcafé {place}", "Deutsch im Kiez {place}"), ("migration", "bildung"), "open", "case_unspecific",
          ("zugewanderte", "gefluechtete"), (16, None), ("voluntary",), ("walk_in",), hours="course",
          description="Deutsch üben im Gespräch, ohne Anmeldung.", keywords="Deutsch, Sprache, Café"),
        T(("Integrationslotsinnen und -lotsen {place}",), ("migration",), "ambulant", "case_overarching",
          ("zugewanderte", "gefluechtete", "familien"), None, ("voluntary",), ("outreach", "appointment"),
          located=0.6, description="Mehrsprachige Begleitung zu Ämtern, Schulen und Ärzten.",
          keywords="Lotsen, Begleitung, Dolmetschen"),
    ],
    "arbeit": [
        T(("Bewerbungswerkstatt {place}",), ("arbeit",), "open", "case_specific", ("arbeitsuchende",), (18, None),
          ("sgb2", "sgb3"), ("walk_in", "referral_job_centre"),
          description="Hilfe bei Lebenslauf, Anschreiben und Stellensuche.", keywords="Bewerbung, Job"),
        T(("Beschäftigungsprojekt {place}",), ("arbeit",), "semi_residential", "case_specific",
          ("arbeitsuchende",), (25, None), ("sgb2",), ("referral_job_centre",), capacity=(10, 25),
          description="Gemeinnützige Beschäftigung mit Qualifizierung.", keywords="Beschäftigung, Qualifizierung"),
    ],
    "wohnen": [
        T(("Wohnungsnotfallhilfe {place}", "Beratung bei drohendem Wohnungsverlust {place}"), ("wohnen",),
          "ambulant", "case_specific", ("wohnungslose",), (18, None), ("sgb12_67",), ("walk_in", "appointment"),
          description="Beratung bei Mietschulden, Räumungsklage und Wohnungsverlust.",
          keywords="Wohnung, Mietschulden, Räumung"),
        T(("Notübernachtung {place}",), ("wohnen",), "residential", "case_specific", ("wohnungslose",),
          (18, None), ("sgb12_67",), ("walk_in",), capacity=(15, 40), hours="residential",
          description="Übernachtung, Abendessen und Frühstück; Aufnahme ab 19 Uhr.", keywords="Schlafplatz, Kälte"),
        T(("Sozialberatung {place}",), ("existenzsicherung",), "ambulant", "case_specific", ("erwachsene",),
          (18, None), ("sgb12", "sgb2"), ("walk_in", "appointment"),
          description="Hilfe bei Anträgen auf Bürgergeld, Grundsicherung, Wohngeld.",
          keywords="Anträge, Bürgergeld, Wohngeld"),
        T(("Lebensmittelausgabe {place}", "Kleiderkammer {place}"), ("existenzsicherung",), "open",
          "case_unspecific", ("alle",), None, ("voluntary",), ("walk_in",), hours="open",
          description="Ausgabe gespendeter Lebensmittel bzw. Kleidung gegen geringen Beitrag.",
          keywords="Lebensmittel, Kleidung, Spenden"),
        T(("Schuldner- und Insolvenzberatung {place}",), ("schuldnerberatung",), "ambulant", "case_specific",
          ("verschuldete",), (18, None), ("sgb12", "sgb2"), ("appointment",),
          description="Beratung zu Schulden, Pfändungsschutzkonto und Verbraucherinsolvenz.",
          keywords="Schulden, P-Konto, Insolvenz"),
    ],
    "sucht": [
        T(("Suchtberatung {place}", "Alkohol- und Medikamentenberatung {place}"), ("sucht",), "ambulant",
          "case_specific", ("suchtkranke", "erwachsene"), (18, None), ("sgb5",), ("walk_in", "appointment"),
          description="Beratung für Betroffene und Angehörige, Vermittlung in Behandlung.",
          keywords="Sucht, Alkohol, Drogen, Angehörige"),
        T(("Kontaktladen {place}",), ("sucht", "gesundheit"), "open", "case_unspecific", ("suchtkranke",),
          (18, None), ("voluntary",), ("walk_in",), hours="open",
          description="Niedrigschwelliger Treffpunkt mit Spritzentausch und medizinischer Sprechstunde.",
          keywords="Kontaktladen, Harm Reduction"),
        T(("Suchtprävention an Schulen {place}",), ("sucht", "kjh-jugendschutz"), "open", "case_unspecific",
          ("jugendliche", "fachkraefte"), (12, 18), ("voluntary",), ("appointment",), located=0.4,
          description="Workshops für Klassen und Fortbildungen für Lehrkräfte.", keywords="Prävention, Schule"),
    ],
    "gesundheit": [
        T(("Gesundheitsberatung {place}",), ("gesundheit",), "ambulant", "case_specific", ("erwachsene",),
          None, ("sgb5",), ("walk_in", "appointment"), description="Beratung zu Gesundheit und Versorgung.",
          keywords="Gesundheit, Beratung"),
        T(("Bewegung im Kiez {place}",), ("gesundheit",), "open", "case_unspecific", ("alle", "seniorinnen"),
          None, ("sgb5", "voluntary"), ("walk_in",), hours="course",
          description="Bewegungsangebote im Park und im Nachbarschaftsraum.", keywords="Sport, Bewegung"),
        T(("Psychosoziale Kontakt- und Beratungsstelle {place}",), ("gesundheit", "eingliederungshilfe"),
          "open", "case_overarching", ("psychisch-erkrankte",), (18, None), ("sgb9", "voluntary"), ("walk_in",),
          description="Treffpunkt und Beratung für Menschen in seelischen Krisen.", keywords="Psyche, Krise"),
    ],
    "gewaltschutz": [
        T(("Frauenberatung {place}",), ("gewaltschutz",), "ambulant", "case_specific",
          ("frauen", "gewaltbetroffene"), (16, None), ("voluntary",), ("appointment", "online"),
          description="Beratung bei häuslicher und sexualisierter Gewalt, auch anonym.",
          keywords="Gewalt, Frauen, anonym"),
        T(("Schutzwohnungen {place}",), ("gewaltschutz",), "residential", "case_specific",
          ("frauen", "gewaltbetroffene", "kinder"), None, ("sgb2", "voluntary"), ("online",), capacity=(8, 16),
          hours="residential", located=0.0, description="Geschützte Unterkunft für Frauen und ihre Kinder; "
                                                        "Adresse wird nicht veröffentlicht.",
          keywords="Frauenhaus, Schutz"),
        T(("Täterarbeit häusliche Gewalt {place}",), ("gewaltschutz",), "ambulant", "case_specific", ("maenner",),
          (18, None), ("voluntary",), ("appointment",), cost="income_dependent",
          description="Trainingskurse für gewaltausübende Männer.", keywords="Täterarbeit, Prävention"),
    ],
    "quartier": [
        T(("Stadtteilladen {place}", "Nachbarschaftstreff {place}"), ("quartiersmanagement",), "open",
          "case_unspecific", ("alle",), None, ("voluntary",), ("walk_in",),
          description="Raum für Nachbarschaft, Initiativen und Beteiligung im Kiez.",
          keywords="Nachbarschaft, Beteiligung, Raum"),
        T(("Gemeinwesenarbeit {place}",), ("quartiersmanagement",), "ambulant", "case_unspecific",
          ("alle", "fachkraefte"), None, ("voluntary",), ("walk_in", "outreach"),
          description="Vernetzung der Akteure und Aktivierung der Bewohnerschaft.",
          keywords="Vernetzung, Kiez, Beteiligung"),
        T(("Hausaufgabenhilfe {place}", "Lernwerkstatt {place}"), ("bildung",), "open", "case_unspecific",
          ("kinder-6-13", "jugendliche"), (6, 16), ("voluntary",), ("walk_in",), hours="open",
          description="Ehrenamtliche helfen bei Hausaufgaben und beim Lernen.", keywords="Lernen, Schule"),
    ],
}

# Offerings of organisations that are not providers.
OTHER_TEMPLATES = {
    "school": [
        T(("Ganztagsbetreuung {place}",), ("bildung", "kjh-jugendarbeit"), "open", "case_unspecific",
          ("kinder-6-13",), (6, 12), ("sgb8_22",), ("appointment",), cost="income_dependent", capacity=(80, 300),
          hours="kita", description="Ergänzende Förderung und Betreuung bis 16 bzw. 18 Uhr.",
          keywords="Hort, Ganztag, Betreuung"),
        T(("Elterncafé {place}",), ("bildung", "kjh-familienfoerderung"), "open", "case_unspecific", ("eltern",),
          None, ("voluntary",), ("walk_in",), hours="course", description="Austausch für Eltern der Schule.",
          keywords="Eltern, Schule, Austausch"),
        T(("Lernförderung {place}",), ("bildung",), "ambulant", "case_specific", ("kinder-6-13", "jugendliche"),
          (6, 18), ("sgb2",), ("appointment",), description="Nachhilfe für Kinder mit Anspruch auf Bildung und "
                                                            "Teilhabe.", keywords="Nachhilfe, BuT"),
    ],
    "daycare": TEMPLATES["kita"],
    "religious": [
        T(("Seniorenkreis {place}",), ("altenhilfe",), "open", "case_unspecific", ("seniorinnen",), (60, None),
          ("voluntary",), ("walk_in",), hours="course", description="Gemeinsames Kaffeetrinken, Vorträge, "
                                                                    "Ausflüge.", keywords="Senioren, Gemeinde"),
        T(("Lebensmittelausgabe {place}",), ("existenzsicherung",), "open", "case_unspecific", ("alle",), None,
          ("voluntary",), ("walk_in",), hours="open", description="Ausgabe gespendeter Lebensmittel.",
          keywords="Lebensmittel, Spenden"),
        T(("Kinder- und Jugendgruppe {place}",), ("kjh-jugendarbeit",), "open", "case_unspecific",
          ("kinder-6-13", "jugendliche"), (6, 16), ("sgb8_11",), ("walk_in",), hours="open",
          description="Wöchentliche Gruppe, Freizeiten in den Ferien.", keywords="Gruppe, Freizeit"),
        T(("Café für Geflüchtete {place}",), ("migration",), "open", "case_unspecific", ("gefluechtete",), None,
          ("voluntary",), ("walk_in",), hours="course", description="Begegnung, Deutsch üben, Beratung.",
          keywords="Begegnung, Geflüchtete"),
    ],
    "police": [
        T(("Präventionsberatung {place}",), ("kjh-jugendschutz", "gewaltschutz"), "ambulant", "case_unspecific",
          ("alle", "seniorinnen", "jugendliche"), None, ("other",), ("appointment",),
          description="Vorträge und Beratung zu Einbruchschutz, Betrug an älteren Menschen und Gewaltprävention.",
          keywords="Prävention, Sicherheit, Einbruch"),
        T(("Kontaktbereichsdienst {place}",), ("quartiersmanagement",), "ambulant", "case_overarching", ("alle",),
          None, ("other",), ("outreach", "walk_in"), located=0.5,
          description="Ansprechpersonen der Polizei im Kiez; Sprechstunde im Stadtteilladen.",
          keywords="Polizei, Kiez, Sprechstunde"),
    ],
    "job_centre": [
        T(("Arbeitsvermittlung U25 {place}",), ("arbeit",), "ambulant", "case_specific", ("junge-volljaehrige",),
          (15, 25), ("sgb2",), ("appointment",), description="Beratung und Vermittlung für junge Menschen.",
          keywords="Ausbildung, Arbeit, U25"),
        T(("Leistungsberatung {place}",), ("existenzsicherung",), "ambulant", "case_specific",
          ("arbeitsuchende",), (18, None), ("sgb2",), ("appointment", "online"),
          description="Anträge auf Bürgergeld und Leistungen für Bildung und Teilhabe.", keywords="Bürgergeld"),
        T(("Beratung für Alleinerziehende {place}",), ("arbeit",), "ambulant", "case_specific",
          ("alleinerziehende",), None, ("sgb2",), ("appointment",), description="Arbeit und Kinderbetreuung "
                                                                                "vereinbaren.",
          keywords="Alleinerziehende, Teilzeit"),
    ],
    "public_funder": [
        T(("Regionaler Sozialpädagogischer Dienst {place}",), ("kjh-hze",), "ambulant", "case_specific",
          ("familien", "kinder", "jugendliche"), (0, 27), ("sgb8_27",), ("walk_in", "appointment"),
          description="Beratung, Hilfeplanung und Kinderschutz des Jugendamts.", keywords="Jugendamt, Kinderschutz"),
        T(("Elterngeld- und Unterhaltsvorschussstelle {place}",), ("existenzsicherung", "kjh-familienfoerderung"),
          "ambulant", "case_specific", ("eltern", "alleinerziehende"), None, ("other",), ("appointment", "online"),
          description="Anträge und Beratung.", keywords="Elterngeld, Unterhaltsvorschuss"),
        T(("Soziale Wohnhilfe {place}",), ("wohnen",), "ambulant", "case_specific", ("wohnungslose",), (18, None),
          ("sgb12_67",), ("walk_in",), description="Unterbringung und Hilfe bei Wohnungsnot.",
          keywords="Wohnungsnot, Unterbringung"),
        T(("Seniorenberatung {place}",), ("altenhilfe",), "ambulant", "case_specific", ("seniorinnen",), (60, None),
          ("sgb12_71",), ("appointment",), description="Beratung zu Hilfen im Alter.", keywords="Alter, Beratung"),
    ],
    "health": [
        T(("Sprechstunde {place}",), ("gesundheit",), "ambulant", "case_specific", ("kinder", "familien"),
          (0, 18), ("other",), ("appointment", "walk_in"), description="Beratung und Untersuchungen.",
          keywords="Gesundheit, Sprechstunde"),
        T(("Einschulungsuntersuchung {place}",), ("gesundheit", "bildung"), "ambulant", "case_specific",
          ("kinder-unter-6",), (5, 6), ("other",), ("appointment",), description="Untersuchung vor der Einschulung.",
          keywords="Einschulung, Untersuchung"),
        T(("Krisendienst {place}",), ("gesundheit",), "ambulant", "case_specific", ("psychisch-erkrankte",),
          (18, None), ("other",), ("walk_in", "online", "outreach"), hours="residential",
          description="Hilfe in seelischen Krisen, auch nachts und am Wochenende.", keywords="Krise, Notfall"),
    ],
    "initiative": [
        T(("Nachbarschaftsfest und Hofcafé {place}",), ("quartiersmanagement",), "open", "case_unspecific",
          ("alle",), None, ("voluntary",), ("walk_in",), hours="course", description="Nachbarn laden Nachbarn ein.",
          keywords="Nachbarschaft, Fest"),
        T(("Repair-Café {place}",), ("quartiersmanagement",), "open", "case_unspecific", ("alle",), None,
          ("voluntary",), ("walk_in",), hours="course", description="Gemeinsam reparieren statt wegwerfen.",
          keywords="Reparatur, Umwelt"),
        T(("Lesepatenschaften {place}",), ("bildung",), "open", "case_unspecific", ("kinder-6-13",), (6, 10),
          ("voluntary",), ("appointment",), located=0.5, description="Ehrenamtliche lesen mit Kindern.",
          keywords="Lesen, Ehrenamt"),
    ],
    "association": [
        T(("Kinder- und Jugendsport {place}",), ("kjh-jugendarbeit", "gesundheit"), "open", "case_unspecific",
          ("kinder-6-13", "jugendliche"), (5, 18), ("voluntary",), ("walk_in",), cost="fee", hours="open",
          description="Training in mehreren Sportarten, Beitrag nach Einkommen ermäßigt.",
          keywords="Sport, Verein, Training"),
        T(("Offene Werkstatt {place}",), ("quartiersmanagement", "bildung"), "open", "case_unspecific", ("alle",),
          None, ("voluntary",), ("walk_in",), hours="open", description="Werkstatt und Kurse für alle.",
          keywords="Werkstatt, Kultur"),
    ],
    "business": [
        T(("Ausbildungsplätze und Praktika {place}",), ("arbeit",), "ambulant", "case_specific",
          ("jugendliche", "junge-volljaehrige"), (15, 25), ("other",), ("appointment",),
          description="Praktika und Ausbildung für junge Menschen aus dem Kiez.", keywords="Ausbildung, Praktikum"),
        T(("Mieterberatung {place}",), ("wohnen",), "ambulant", "case_specific", ("erwachsene",), (18, None),
          ("other",), ("appointment",), description="Sozialberatung für Mieterinnen und Mieter.",
          keywords="Miete, Beratung"),
    ],
}

# Provider profiles: which families of offerings a provider has (weights).
PROFILES = [("jugend", 18), ("familie", 16), ("hze", 14), ("kita", 6), ("senioren", 10), ("teilhabe", 8),
            ("migration", 9), ("arbeit", 4), ("wohnen", 8), ("sucht", 5), ("gesundheit", 4), ("gewaltschutz", 3),
            ("quartier", 8)]
PROVIDER_THEMES = {
    "jugend": ["Kinder- und Jugendhilfe", "Jugendwerk", "Jugendhilfeverbund", "Kinder- und Jugendwerk"],
    "familie": ["Familienhilfe", "Familienwerk", "Familien- und Nachbarschaftswerk", "Eltern-Kind-Werk"],
    "hze": ["Jugendhilfe", "Hilfen zur Erziehung", "Jugendhilfe im Verbund", "Kinderschutzwerk"],
    "kita": ["Kitaverbund", "Kinderwelten", "Kindergärten"],
    "senioren": ["Seniorenwerk", "Altenhilfe", "Pflegewerk", "Generationenhaus"],
    "teilhabe": ["Teilhabewerk", "Assistenzdienste", "Inklusionswerk"],
    "migration": ["Integrationswerk", "Interkulturelles Zentrum", "Migrationsdienste"],
    "arbeit": ["Beschäftigungswerk", "Arbeit und Bildung"],
    "wohnen": ["Wohnhilfe", "Sozialwerk", "Hilfe in Wohnungsnot"],
    "sucht": ["Suchthilfe", "Drogen- und Suchthilfe"],
    "gesundheit": ["Gesundheitswerk", "Gesundheitsladen"],
    "gewaltschutz": ["Frauenzentrum", "Frauen helfen Frauen"],
    "quartier": ["Nachbarschaftswerk", "Stadtteilverein", "Gemeinwesenverein"],
}
UMBRELLAS = [("paritaetischer", 45), ("diakonie", 16), ("caritas", 11), ("awo", 12), ("drk", 6), ("zwst", 2),
             ("none", 8)]
UMBRELLA_PREFIX = {"diakonie": ["Evangelisches", "Diakonisches"], "caritas": ["Katholisches", "Christliches"]}
LEGAL_FORMS = [("ev", 60), ("ggmbh", 32), ("foundation", 8)]
LEGAL_SUFFIX = {"ev": "e. V.", "ggmbh": "gGmbH", "foundation": "Stiftung", "cooperative": "eG"}
LANGUAGE_POOL = [("en", 30), ("tr", 18), ("ar", 16), ("ru", 10), ("uk", 10), ("pl", 7), ("fa", 6), ("ku", 5),
                 ("fr", 5), ("es", 5), ("vi", 4), ("ro", 4), ("bg", 3), ("sr", 3), ("ti", 2), ("so", 1), ("ps", 1)]
# kind: (count, services per organisation (lo, hi), name patterns)
OTHERS = {
    "school": (40, (1, 3), ["{place}-Grundschule", "Grundschule am {place}", "Integrierte Sekundarschule {place}",
                            "Gymnasium {place}", "Gemeinschaftsschule {place}", "Förderzentrum {place}"]),
    "daycare": (30, (1, 1), ["Kita {kita}", "Kita {kita} am {place}", "Kinderladen {kita}"]),
    "religious": (18, (1, 3), ["Ev. Kirchengemeinde {place}", "Kath. Kirchengemeinde {place}",
                               "Freie evangelische Gemeinde {place}", "Interkultureller Moscheeverein {place} e. V."]),
    "police": (8, (1, 2), ["Polizeiabschnitt {place} – Präventionsteam"]),
    "job_centre": (6, (2, 3), ["Jobcenter-Standort {place}"]),
    "public_funder": (12, (3, 4), ["Jugend- und Sozialamt, Region {place}"]),
    "health": (14, (2, 3), ["Kinder- und Jugendgesundheitsdienst {place}", "Sozialpsychiatrischer Dienst {place}",
                            "Zentrum für Gesundheit und Familienplanung {place}"]),
    "initiative": (26, (1, 2), ["Nachbarschaftsinitiative {place}", "Elterninitiative {place}",
                                "Mieterinitiative {place}", "Initiative Willkommen in {place}"]),
    "association": (18, (1, 2), ["Sportverein Blau-Weiß {place} e. V.", "Kulturverein {place} e. V.",
                                 "Förderverein Kiezleben {place} e. V."]),
    "business": (8, (1, 1), ["Wohnungsgenossenschaft {place} eG", "Stadtteilbetriebe {place} GmbH"]),
}
OTHER_LEGAL = {"school": "authority", "daycare": "ggmbh", "religious": "church_body", "police": "authority",
               "job_centre": "public_body", "public_funder": "authority", "health": "authority",
               "initiative": "partnership", "association": "ev", "business": "cooperative"}
PROVIDERS = 200
BRANCH_SHARE = 0.3
FACILITIES = ["Familienzentrum", "Jugendhaus", "Stadtteilzentrum", "Begegnungshaus", "Beratungszentrum",
              "Kinderhaus", "Nachbarschaftshaus"]


# --- the plan -------------------------------------------------------------------------


@dataclass
class OrgPlan:
    key: str
    name: str
    kind: str
    umbrella: str
    legal_form: str
    register_number: str
    bezirk: str
    slug: str
    parent: int | None = None  # index in the plan
    profiles: list[str] = field(default_factory=list)
    region_codes: list[str] = field(default_factory=list)
    street: str = ""
    postal_code: str = ""
    locations: list[int] = field(default_factory=list)  # indexes into the location plan
    service_count: int = 0
    place: str = ""  # the invented place word in its name


@dataclass
class LocationPlan:
    key: str
    org: int
    name: str
    street: str
    postal_code: str
    prognoseraum: str
    latitude: Decimal
    longitude: Decimal
    place: str = ""  # a fictional neighbourhood name for the offerings given there


@dataclass
class ServicePlan:
    key: str
    org: int
    values: dict
    fields: list[str]
    groups: list[str]
    region_codes: list[str]
    location: int | None


class Geography:
    """The demo regions: Bezirke, Prognoseräume with their boundaries (for
    points), and the Bezirksregionen/Planungsräume below each Prognoseraum."""

    def __init__(self):
        rows = list(Region.objects.select_related("level").only(
            "pk", "code", "name", "parent_id", "boundary", "level__key").order_by("code"))
        by_pk = {r.pk: r for r in rows}
        self.ids = {r.code: r.pk for r in rows}
        self.bezirke = [r.code for r in rows if r.level.key == "bezirk"]
        self.prognoseraeume: dict[str, list[str]] = defaultdict(list)  # Bezirk → Prognoseräume (with boundary)
        self.shapes = {}
        self.below: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # PR → level → codes
        self.bezirk_of = {}
        for r in rows:
            if r.level.key == "prognoseraum" and r.boundary and r.parent_id in by_pk:
                self.prognoseraeume[by_pk[r.parent_id].code].append(r.code)
                shape = shapely.geometry.shape(r.boundary)
                inner = shape.buffer(-0.0006)  # ≈ 50 m inside, clear of the simplified borders
                self.shapes[r.code] = inner if not inner.is_empty else shape
                shapely.prepare(self.shapes[r.code])
                self.bezirk_of[r.code] = by_pk[r.parent_id].code
        for r in rows:
            if r.level.key in ("bezirksregion", "planungsraum"):
                ancestor = r
                while ancestor is not None and ancestor.level.key != "prognoseraum":
                    ancestor = by_pk.get(ancestor.parent_id)
                if ancestor is not None:
                    self.below[ancestor.code][r.level.key].append(r.code)
        self.bezirke = [b for b in self.bezirke if self.prognoseraeume.get(b)]

    def point_in(self, rng, prognoseraum) -> tuple[Decimal, Decimal]:
        shape = self.shapes[prognoseraum]
        minx, miny, maxx, maxy = shape.bounds
        for _ in range(1000):
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(shape, lon, lat):
                break
        else:  # pragma: no cover - a sliver; its representative point lies inside
            point = shape.representative_point()
            lon, lat = point.x, point.y
        q = Decimal("0.000001")
        return Decimal(repr(lat)).quantize(q), Decimal(repr(lon)).quantize(q)


def _weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _slug(text):
    text = text.lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40]


class Planner:
    """Builds the whole demo in memory, deterministically."""

    def __init__(self, geo: Geography, fields: set[str], groups: set[str], seed=SEED):
        self.geo, self.fields, self.groups = geo, fields, groups
        self.rng = random.Random(seed)
        self.orgs: list[OrgPlan] = []
        self.locations: list[LocationPlan] = []
        self.services: list[ServicePlan] = []
        self.names: set[str] = set()
        self.places = [h + t for h in PLACE_HEADS for t in PLACE_TAILS]
        self.rng.shuffle(self.places)
        self.place_i = 0
        self.last_place = ""
        self.phone = 0
        self.register = 0

    def place(self):
        name = self.last_place = self.places[self.place_i % len(self.places)]
        self.place_i += 1
        return name

    def street(self):
        head = self.rng.choice(PLACE_HEADS)
        tail = self.rng.choice(STREET_TAILS)
        return f"{head}{tail} {self.rng.randint(1, 140)}"

    def phone_number(self):
        self.phone += 1
        return f"030 23125 {self.phone % 1000:03d}"

    def unique(self, make):
        for _ in range(50):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("no unique name")  # pragma: no cover

    def build(self):
        rng = self.rng
        bezirke = self.geo.bezirke
        # the providers; the first two belong to the demo logins traeger-a and traeger-b
        for i in range(PROVIDERS):
            if i == 0:
                profiles, umbrella, legal, bezirk = ["jugend", "familie", "hze"], "paritaetischer", "ev", "08"
                name, self.last_place = self.unique(lambda: "Kinder- und Jugendhilfe Spreebogen e. V."), "Spreebogen"
            elif i == 1:
                profiles, umbrella, legal, bezirk = ["familie", "senioren", "migration"], "diakonie", "ggmbh", "08"
                name, self.last_place = self.unique(lambda: "Evangelisches Familienwerk Kranichaue gGmbH"), "Kranichaue"
            else:
                profiles = list(dict.fromkeys(_weighted(rng, PROFILES) for _ in range(rng.choice([1, 1, 2, 2, 3]))))
                umbrella, legal = _weighted(rng, UMBRELLAS), _weighted(rng, LEGAL_FORMS)
                bezirk = rng.choice(bezirke)

                def make(profiles=profiles, umbrella=umbrella, legal=legal):
                    theme = rng.choice(PROVIDER_THEMES[profiles[0]])
                    if legal == "foundation":
                        return f"Stiftung {theme} {self.place()}"
                    if umbrella in UMBRELLA_PREFIX and theme.endswith(("werk", "zentrum", "haus")) and \
                            rng.random() < 0.7:  # "Evangelisches Jugendwerk …" (neuter nouns only)
                        theme = f"{rng.choice(UMBRELLA_PREFIX[umbrella])} {theme}"
                    return f"{theme} {self.place()} {LEGAL_SUFFIX[legal]}"
                name = self.unique(make)
            if bezirk not in self.geo.prognoseraeume:
                bezirk = bezirke[i % len(bezirke)]
            self.register += 1
            register = f"{'HRB' if legal == 'ggmbh' else 'VR'} {900100 + self.register} B" if legal in (
                "ev", "ggmbh") else ""
            org = self.add_org(f"provider:{i}", name, "provider", umbrella, legal, register, bezirk, profiles)
            sites = 1 + (rng.random() < 0.5) + (rng.random() < 0.25) + (i < 2) * 2
            for _ in range(sites):
                self.add_location(org, "")
            # some providers run branches (facilities with their own name)
            if rng.random() < BRANCH_SHARE or i < 2:
                for j in range(1 + (rng.random() < 0.3) + (i < 2)):
                    branch_name = self.unique(lambda: f"{rng.choice(FACILITIES)} {self.place()}")
                    branch = self.add_org(f"provider:{i}:branch:{j}", branch_name, "provider", umbrella, "", "",
                                          bezirk, profiles, parent=org)
                    self.add_location(branch, branch_name)
                    self.add_services(branch, rng.randint(3, 6))
            self.add_services(org, rng.randint(12, 18) if i < 2 else rng.randint(8, 15))
        # everyone else
        for kind, (count, per_org, patterns) in OTHERS.items():
            for n in range(count):
                bezirk = bezirke[n % len(bezirke)] if kind in ("public_funder", "police", "job_centre") else \
                    rng.choice(bezirke)
                name = self.unique(lambda patterns=patterns: rng.choice(patterns).format(
                    place=self.place(), kita=rng.choice(KITA_NAMES)))
                org = self.add_org(f"{kind}:{n}", name, kind, "none", OTHER_LEGAL[kind], "", bezirk, [kind])
                self.add_location(org, "")
                self.add_services(org, rng.randint(*per_org))
        return self

    def add_org(self, key, name, kind, umbrella, legal, register, bezirk, profiles, parent=None) -> int:
        index = len(self.orgs)
        regions = [bezirk]
        if self.rng.random() < 0.2:
            regions.append(self.rng.choice(self.geo.bezirke))
        self.orgs.append(OrgPlan(
            key=key, name=name, place=self.last_place, kind=kind, umbrella=umbrella, legal_form=legal,
            register_number=register, bezirk=bezirk, slug=_slug(name), parent=parent, profiles=profiles,
            region_codes=list(dict.fromkeys(regions)),
        ))
        return index

    def add_location(self, org_index, name):
        org = self.orgs[org_index]
        rng = self.rng
        prognoseraum = rng.choice(self.geo.prognoseraeume[org.bezirk])
        lat, lon = self.geo.point_in(rng, prognoseraum)
        codes = POSTAL_CODES.get(org.bezirk, "10115").split()
        index = len(self.locations)
        self.locations.append(LocationPlan(
            key=f"{org.key}:location:{len(org.locations)}", org=org_index,
            name=name or ("Geschäftsstelle" if not org.locations else f"Standort {self.place()}"),
            street=self.street(), postal_code=rng.choice(codes), prognoseraum=prognoseraum, latitude=lat,
            longitude=lon,
        ))
        if not org.locations:
            org.street, org.postal_code = self.locations[-1].street, self.locations[-1].postal_code
        org.locations.append(index)

    def add_services(self, org_index, count):
        org = self.orgs[org_index]
        rng = self.rng
        if org.kind == "provider":
            pool = [t for p in org.profiles for t in TEMPLATES[p]]
        else:
            pool = OTHER_TEMPLATES[org.kind]
        pool = [t for t in pool if all(f in self.fields for f in t.fields)]
        if not pool:
            return
        order = rng.sample(pool, len(pool))  # every template once before any repeats
        taken = set()
        for k in range(count):
            template = order[k % len(order)]
            location = rng.choice(org.locations) if org.locations and rng.random() < template.located else None
            # providers name offerings after the neighbourhood of the location; branches
            # and everyone else after themselves
            place = org.place
            if org.kind == "provider" and org.parent is None and location is not None:
                place = self.geo_place(location)
            for _attempt in range(4):
                if org.kind == "daycare":
                    name = org.name
                else:
                    name = rng.choice(template.names).format(place=place, kita=rng.choice(KITA_NAMES),
                                                             school=f"Schule am {self.place()}")
                if name not in taken:
                    break
                place = self.place()  # another offering of the same kind elsewhere
            base, n = name, 2
            while name in taken:
                name, n = f"{base} ({n})", n + 1
            taken.add(name)
            self.services.append(self.service_plan(org_index, org, template, name, location))

    def geo_place(self, location):
        """A fictional neighbourhood name per location (stable)."""
        loc = self.locations[location]
        if not loc.place:
            loc.place = self.place()
        return loc.place

    def service_plan(self, org_index, org, t: Template, name, location) -> ServicePlan:
        rng = self.rng
        # ages, capacity and free places
        age_min, age_max = t.ages if t.ages else (None, None)
        capacity = free = reported = None
        if t.capacity:
            capacity = rng.randint(*t.capacity)
            if rng.random() < 0.75:
                free = max(0, min(capacity, int(rng.triangular(0, capacity * 0.25, 0))))
                reported = timezone.localdate() - timedelta(days=rng.randint(0, 90))
        # languages, accessibility, access
        languages = ["de"]
        extra = 1 + 2 * ("migration" in t.fields) if rng.random() < 0.55 else 0
        for _ in range(extra):
            languages.append(_weighted(rng, LANGUAGE_POOL))
        if rng.random() < 0.08:
            languages.append("de-easy")
        if rng.random() < 0.02:
            languages.append("sgn-de")
        accessibility = [a for a, p in (("step_free", 0.6), ("accessible_toilet", 0.35), ("lift", 0.25),
                                        ("easy_language", 0.08), ("hearing_loop", 0.03)) if rng.random() < p]
        if t.setting == "ambulant" and t.work_mode == "case_specific" and rng.random() < 0.5:
            accessibility.append("home_visits")
        access = list(t.access)
        if "appointment" not in access and rng.random() < 0.3:
            access.append("appointment")
        # status and confirmation
        status = _weighted(rng, [("active", 88), ("temporarily closed", 4), ("inactive", 5), ("defunct", 3)])
        roll = rng.random()
        now = timezone.now()
        if roll < 0.7:
            confirmed = now - timedelta(days=rng.randint(1, 330))
        elif roll < 0.9:
            confirmed = now - timedelta(days=rng.randint(400, 900))  # not confirmed for over 12 months
        else:
            confirmed = None
        # regions served
        city_wide = False
        codes: list[str] = []
        if location is not None:
            pr = self.locations[location].prognoseraum
            below = self.geo.below.get(pr, {})
            roll = rng.random()
            if roll < 0.35 and below.get("planungsraum"):
                codes = rng.sample(below["planungsraum"], min(len(below["planungsraum"]), rng.randint(1, 3)))
            elif roll < 0.6 and below.get("bezirksregion"):
                codes = rng.sample(below["bezirksregion"], min(len(below["bezirksregion"]), rng.randint(1, 2)))
            elif roll < 0.85:
                codes = [pr]
            elif roll < 0.95:
                codes = [self.geo.bezirk_of[pr]]
            else:
                city_wide = True
        elif rng.random() < 0.3:
            city_wide = True
        else:
            codes = [org.bezirk]
        groups = [g for g in t.groups if g in self.groups]
        slug = _slug(name)[:30]
        hours = rng.choice(OPENING_HOURS[t.hours])
        cost_note = {"fee": "Kursgebühr 3–5 € pro Termin, mit berlinpass ermäßigt oder frei",
                     "income_dependent": "Kostenbeteiligung nach Einkommen; Beratung dazu im Erstgespräch"}.get(t.cost, "")
        values = {
            "name": name, "description": t.description, "keywords": t.keywords, "setting": t.setting,
            "work_mode": t.work_mode, "age_min": age_min, "age_max": age_max, "legal_bases": list(t.legal),
            "languages": list(dict.fromkeys(languages)), "accessibility": accessibility, "cost": t.cost,
            "cost_note": cost_note, "access_modes": access, "city_wide": city_wide, "opening_hours": hours,
            "email": f"{slug}@{org.slug}.example" if rng.random() < 0.8 else "",
            "phone": self.phone_number() if rng.random() < 0.9 else "",
            "url": f"https://www.{org.slug}.example/angebote/{slug}" if rng.random() < 0.6 else "",
            "capacity": capacity, "free_places": free, "free_places_reported_at": reported, "status": status,
            "last_confirmed_at": confirmed,
        }
        org.service_count += 1
        return ServicePlan(key=f"{org.key}:service:{org.service_count}", org=org_index, values=values, fields=list(t.fields),
                           groups=groups, region_codes=codes, location=location)


# --- writing --------------------------------------------------------------------------


def _uuid(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, key)


@transaction.atomic
def load(stdout=None) -> dict:
    """Create whatever of the demo organisations, locations and offerings is
    missing (nothing on a second run). Returns counts of what was created."""
    geo = Geography()
    if not geo.bezirke:
        return {"organizations": 0, "locations": 0, "services": 0, "skipped": "keine Räume mit Grenzen"}
    fields = dict(FieldOfAction.objects.filter(active=True).values_list("key", "pk"))
    groups = dict(TargetGroup.objects.values_list("key", "pk"))
    plan = Planner(geo, set(fields), set(groups)).build()
    result = _write(plan, geo, fields, groups)
    if stdout is not None:
        stdout.write("Demo-Organisationen und Angebote (fiktiv): "
                     + ", ".join(f"{k}={v}" for k, v in result.items()))
    return result


def _write(plan: Planner, geo: Geography, fields: dict, groups: dict) -> dict:
    org_uuids = [_uuid(o.key) for o in plan.orgs]
    existing = dict(Organization.objects.filter(uuid__in=org_uuids).values_list("uuid", "pk"))
    org_pk = {i: existing[u] for i, u in enumerate(org_uuids) if u in existing}
    created_orgs = []
    for level in (0, 1):  # providers before their branches
        batch = []
        for i, o in enumerate(plan.orgs):
            if i in org_pk or (o.parent is not None) != bool(level):
                continue
            batch.append((i, Organization(
                uuid=org_uuids[i], name=o.name, kind=o.kind, umbrella=o.umbrella, legal_form=o.legal_form,
                register_number=o.register_number, description=FICTION,
                parent_id=org_pk.get(o.parent) if o.parent is not None else None,
                email=f"info@{o.slug}.example", phone=plan.phone_number(), website=f"https://www.{o.slug}.example",
                street=o.street, postal_code=o.postal_code, city="Berlin",
            )))
        Organization.objects.bulk_create([org for _, org in batch], batch_size=1000)
        for i, org in batch:
            org_pk[i] = org.pk
            created_orgs.append(i)
    org_regions = ManyToMany(Organization, "regions")
    for i in created_orgs:
        org_regions.set(org_pk[i], [geo.ids[c] for c in plan.orgs[i].region_codes], new=True)
    org_regions.write()

    loc_uuids = [_uuid(loc.key) for loc in plan.locations]
    existing = dict(Location.objects.filter(uuid__in=loc_uuids).values_list("uuid", "pk"))
    loc_pk = {i: existing[u] for i, u in enumerate(loc_uuids) if u in existing}
    new_locations = [(i, loc) for i, loc in enumerate(plan.locations) if i not in loc_pk]
    batch = [Location(uuid=loc_uuids[i], organization_id=org_pk[loc.org], name=loc.name, street=loc.street,
                      postal_code=loc.postal_code, city="Berlin", latitude=loc.latitude, longitude=loc.longitude)
             for i, loc in new_locations]
    for location, region_id in zip(batch, RegionLocator().locate([(b.longitude, b.latitude) for b in batch]),
                                   strict=True):
        location.region_id = region_id  # what Location.save would find, without a query per point
    Location.objects.bulk_create(batch, batch_size=1000)
    for (i, _), location in zip(new_locations, batch, strict=True):
        loc_pk[i] = location.pk
    created_locations = len(batch)

    svc_uuids = [_uuid(s.key) for s in plan.services]
    existing = set(Service.objects.filter(uuid__in=svc_uuids).values_list("uuid", flat=True))
    new_services = [(i, s) for i, s in enumerate(plan.services) if svc_uuids[i] not in existing]
    batch = [Service(uuid=svc_uuids[i], organization_id=org_pk[s.org], **s.values) for i, s in new_services]
    Service.objects.bulk_create(batch, batch_size=1000)
    links = {name: ManyToMany(Service, name) for name in ("fields", "target_groups", "regions", "locations")}
    for (_, s), service in zip(new_services, batch, strict=True):
        links["fields"].set(service.pk, [fields[k] for k in s.fields], new=True)
        links["target_groups"].set(service.pk, [groups[k] for k in s.groups], new=True)
        links["regions"].set(service.pk, [geo.ids[c] for c in s.region_codes], new=True)
        if s.location is not None:
            links["locations"].set(service.pk, [loc_pk[s.location]], new=True)
    for rel in links.values():
        rel.write()
    return {"organizations": len(created_orgs), "locations": created_locations, "services": len(new_services)}


def demo_membership(user) -> Organization | None:
    """Make the demo provider login ``user`` (traeger-a, traeger-b) an editor
    of its demo organisation; that organisation, or None for other logins."""
    key = DEMO_MEMBERSHIPS.get(user.username)
    if key is None:
        return None
    org = Organization.objects.filter(uuid=_uuid(key)).first()
    if org is not None:
        Membership.objects.get_or_create(user=user, organization=org, defaults={"role": MembershipRole.EDITOR})
    return org


def demo_login_label(user, label: str) -> str:
    """The login list's label, naming the organisation of a demo provider login."""
    org = demo_membership(user)
    return f"{label.split(' (')[0]}: bearbeitet „{org.name}“ und seine Einrichtungen" if org else label


