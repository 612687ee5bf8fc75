"""Our models in the shape of Open Referral HSDS 3.0 (plain dicts).

Only properties of the HSDS 3.0 schemas are produced; an empty optional value is
left out (the schemas allow no ``null``), a required one is given as ``""``.
Objects that are a field of ours rather than a row (an address, a phone, a
schedule, …) get ids derived with uuid5 from the row's UUID (see ``taxonomies``).

The objects expect the related rows the views prefetch (``views.service_queryset``,
``views.organization_queryset``); they run no queries of their own.
"""

import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ..choices import Cost, Language, LegalForm, Umbrella
from . import taxonomies as tx
from .taxonomies import derived_uuid, german

HSDS_VERSION = "3.0"
#: The official OpenAPI description of the HSDS 3.0 API (``openapi_url`` of ``/``).
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json"
CURRENCY = "EUR"
#: Our language keys that are no ISO 639 code: (ISO 639-1/-3 code, note).
LANGUAGE_CODES = {"de-easy": "de", "sgn-de": "gsg"}  # Leichte Sprache is German; gsg = Deutsche Gebärdensprache
CITY_WIDE_AREA = "Stadtweit"
CITY_WIDE_DESCRIPTION = "Das Angebot steht Menschen aus der ganzen Stadt offen."


def _put(data: dict, key: str, value) -> None:
    """Set ``key`` unless ``value`` is empty (HSDS has no nulls)."""
    if value is not None and value != "" and value != []:
        data[key] = value


def timestamp(value: datetime.datetime) -> str:
    """UTC with millisecond accuracy, as HSDS asks (2023-03-15T10:30:45.123Z)."""
    return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def country_of(postal_code: str) -> str:
    """ISO 3166-1 alpha-2: four-digit postal codes are Austrian, five-digit German."""
    return "AT" if len(postal_code) == 4 else "DE"


# --- taxonomies ------------------------------------------------------------------------


def taxonomy(t: tx.Taxonomy) -> dict:
    return {"id": str(t.id), "name": t.name, "description": t.description}


def taxonomy_term(term: tx.Term) -> dict:
    data = {"id": str(term.id), "code": term.code, "name": term.name, "description": term.description}
    _put(data, "parent_id", term.parent_id and str(term.parent_id))
    data.update({
        "taxonomy": term.taxonomy.name,
        "taxonomy_detail": taxonomy(term.taxonomy),
        "language": settings.LANGUAGE_CODE,
        "taxonomy_id": str(term.taxonomy.id),
    })
    return data


def attribute(link_entity: str, link_id, term: tx.Term) -> dict:
    return {
        "id": str(derived_uuid(f"attribute:{link_entity}:{link_id}:{term.id}")),
        "link_id": str(link_id),
        "taxonomy_term_id": str(term.id),
        "link_entity": link_entity,
        "taxonomy_term": taxonomy_term(term),
    }


# --- organisations, locations --------------------------------------------------------------


def phone(owner: str, owner_id, number: str) -> dict:
    return {"id": str(derived_uuid(f"phone:{owner}:{owner_id}")), f"{owner}_id": str(owner_id), "number": number,
            "type": "voice"}


def organization(org, full: bool = False, locations=None) -> dict:
    """The list shape (HSDS ``organization_list``); ``full``: with phones,
    identifiers, attributes and — given — ``locations`` (the visible ones)."""
    data = {"id": str(org.uuid), "name": org.name, "description": org.description}
    _put(data, "email", org.email)
    _put(data, "website", org.website)
    _put(data, "legal_status", org.legal_form and german(LegalForm(org.legal_form).label))
    _put(data, "parent_organization_id", org.parent_id and str(org.parent.uuid))
    if not full:
        return data
    _put(data, "phones", [phone("organization", org.uuid, org.phone)] if org.phone else [])
    if locations is not None:
        places = [location(loc) for loc in locations]
        if org.street and org.postal_code and org.city:
            places.append(organization_address(org))
        _put(data, "locations", places)
    if org.register_number:
        data["organization_identifiers"] = [{
            "id": str(derived_uuid(f"organization_identifier:{org.uuid}")),
            "organization_id": str(org.uuid),
            "identifier_type": "Registernummer",
            "identifier": org.register_number,
        }]
    terms = [tx.choice_term(tx.ORGANIZATION_KIND, org.kind)]
    if org.umbrella != Umbrella.NONE:
        terms.append(tx.choice_term(tx.UMBRELLA, org.umbrella))
    data["attributes"] = [attribute("organization", org.uuid, term) for term in terms]
    return data


def address(owner_uuid, street: str, postal_code: str, city: str, address_type: str, region_name: str = "") -> dict:
    data = {"id": str(derived_uuid(f"address:{address_type}:{owner_uuid}"))}
    if address_type == "physical":
        data["location_id"] = str(owner_uuid)
    data.update({"address_1": street, "city": city})
    _put(data, "region", region_name)
    data.update({
        # the Land is not kept; optional setting HSDS_STATE_PROVINCE (e.g. "Berlin")
        "state_province": getattr(settings, "HSDS_STATE_PROVINCE", ""),
        "postal_code": postal_code,
        "country": country_of(postal_code),
        "address_type": address_type,
    })
    return data


def location(loc) -> dict:
    """A place of ours (``organization`` and ``region`` loaded)."""
    data = {"id": str(loc.uuid), "location_type": "physical", "organization_id": str(loc.organization.uuid)}
    _put(data, "name", loc.name)
    if loc.latitude is not None and loc.longitude is not None:
        data["latitude"] = float(loc.latitude)
        data["longitude"] = float(loc.longitude)
    region_name = loc.region.name if loc.region_id else ""
    data["addresses"] = [address(loc.uuid, loc.street, loc.postal_code, loc.city, "physical", region_name)]
    return data


def organization_address(org) -> dict:
    """The organisation's own (postal) address, as HSDS keeps addresses: a
    location of type "postal"."""
    location_id = derived_uuid(f"location:postal:{org.uuid}")
    postal = address(org.uuid, org.street, org.postal_code, org.city, "postal")
    postal["location_id"] = str(location_id)
    return {"id": str(location_id), "location_type": "postal", "organization_id": str(org.uuid), "name": org.name,
            "addresses": [postal]}


# --- services -----------------------------------------------------------------------------


def last_modified(service) -> datetime.datetime:
    """When the service or what it shows of its organisation or places last
    changed (``locations_modified``: annotated by the view)."""
    stamps = [service.updated_at, service.organization.updated_at, getattr(service, "locations_modified", None)]
    return max(s for s in stamps if s is not None)


def fees_description(service) -> str:
    label = german(Cost(service.cost).label)
    return f"{label}: {service.cost_note}" if service.cost_note else label


def service(svc, full: bool = False, request=None) -> dict:
    """The list shape (HSDS ``service_list``, with its organisation), or
    ``full``: the fully nested service of ``/services/{id}``."""
    uid = str(svc.uuid)
    data = {"id": uid, "organization_id": str(svc.organization.uuid), "name": svc.name}
    _put(data, "description", svc.description)
    _put(data, "url", svc.url)
    _put(data, "email", svc.email)
    data["status"] = svc.status
    _put(data, "application_process", "; ".join(german(m.label) for m in _choices(tx.ACCESS_MODE, svc.access_modes)))
    data["fees_description"] = fees_description(svc)
    groups = list(svc.target_groups.all())
    _put(data, "eligibility_description", ("Zielgruppen: " + ", ".join(g.name for g in groups)) if groups else "")
    _put(data, "minimum_age", svc.age_min)
    _put(data, "maximum_age", svc.age_max)
    _put(data, "assured_date", svc.last_confirmed_at and timezone.localdate(svc.last_confirmed_at).isoformat())
    data["last_modified"] = timestamp(last_modified(svc))
    if not full:
        data["organization"] = organization(svc.organization)
        return data

    _put(data, "phones", [phone("service", uid, svc.phone)] if svc.phone else [])
    if svc.opening_hours:
        data["schedules"] = [{"id": str(derived_uuid(f"schedule:{uid}")), "service_id": uid,
                              "description": svc.opening_hours}]
    _put(data, "service_areas", service_areas(svc, request))
    _put(data, "service_at_locations", [
        {"id": str(derived_uuid(f"service_at_location:{uid}:{loc.uuid}")), "service_id": uid,
         "location_id": str(loc.uuid), "location": location(loc)}
        for loc in svc.locations.all()
    ])
    _put(data, "languages", [language(uid, code) for code in svc.languages])
    data["organization"] = organization(svc.organization, full=True)
    data["cost_options"] = [cost_option(svc)]
    data["attributes"] = [attribute("service", uid, term) for term in service_terms(svc, groups)]
    return data


def _choices(t: tx.Taxonomy, values) -> list:
    return [t.choices(v) for v in values]


def language(service_id: str, code: str) -> dict:
    return {"id": str(derived_uuid(f"language:{service_id}:{code}")), "service_id": service_id,
            "name": german(Language(code).label), "code": LANGUAGE_CODES.get(code, code)}


def cost_option(svc) -> dict:
    uid = str(svc.uuid)
    data = {"id": str(derived_uuid(f"cost_option:{uid}")), "service_id": uid, "option": german(Cost(svc.cost).label)}
    if svc.cost == Cost.FREE:
        data.update({"currency": CURRENCY, "amount": 0})
    _put(data, "amount_description", svc.cost_note)
    return data


def service_areas(svc, request=None) -> list[dict]:
    uid = str(svc.uuid)
    areas = []
    if svc.city_wide:
        areas.append({"id": str(derived_uuid(f"service_area:{uid}:city")), "service_id": uid,
                      "name": CITY_WIDE_AREA, "description": CITY_WIDE_DESCRIPTION})
    for region in svc.regions.all():
        area = {"id": str(derived_uuid(f"service_area:{uid}:{region.code}")), "service_id": uid, "name": region.name,
                "description": f"{region.level.name} {region.code}"}
        if request is not None:
            area["uri"] = request.build_absolute_uri(reverse("api:region-detail", kwargs={"code": region.code}))
        areas.append(area)
    return areas


def service_terms(svc, groups) -> list[tx.Term]:
    terms = [tx.field_term(f) for f in svc.fields.all()]
    terms += [tx.target_group_term(g) for g in groups]
    terms.append(tx.choice_term(tx.SETTING, svc.setting))
    terms.append(tx.choice_term(tx.WORK_MODE, svc.work_mode))
    for t, values in ((tx.ACCESS_MODE, svc.access_modes), (tx.ACCESSIBILITY, svc.accessibility),
                      (tx.LEGAL_BASIS, svc.legal_bases)):
        terms += [tx.choice_term(t, v) for v in values]
    return terms


def api_meta() -> dict:
    """``/``: the HSDS version of this API and where its OpenAPI description is."""
    return {"version": HSDS_VERSION, "openapi_url": OPENAPI_URL}
