"""A demo data set: Vennesla (4223) as its rus plan describes it, and a few Nord-Aurdal
(3451) licences. Everything goes through the domain, as the service would do it.

What comes from the seed (``shared/seeds/000_56973176ff562764.txt`` § 5.3, extracted in
``docs/sources/vennesla.md``):

* 15 salgssteder and 11 skjenkesteder. The plan's 15 salgssteder of 31.12.2019 include
  Vinmonopolet, which holds no kommunal bevilling; the demo gives 15 kommunal
  salgsbevillinger (14 dagligvare and Hunsfos Bryggeri AS, as gardsutsalg), i.e. one
  grocery more than the plan counts for 2019. The skjenkesteder are placed as the plan
  places them: four in sentrum/gågaten, four on Hunsøya, one on Vikeland, and
  Hovedkjøkkenet på Venneslaheimen; Biffen kiosk og gatekjøkken stopped serving on
  1.1.2020 and is replaced by a library café.
* Volumes: the plan's latest year (2019) — 441 972 litres sold, 40 169 litres served —
  is the sum of each year's actual oppgaver for 2024 and 2025, spread over the outlets.
* Controls: the plan's yearly pattern (50 skjenke- and 29 salgskontroller, sales controls
  without prikker, skjenking violations of the kinds it lists), done by Securitas,
  serving controls in the evening at weekends.

Everything else (store and holder names apart from Hunsfos Bryggeri and Venneslaheimen,
people, addresses, the split of volumes, the dates) is invented and deterministic: a
seeded random generator, no clock. One place, Puben i Gågata, reaches 12 prikker in
2025, so that an inndragning proposal (alkoholforskriften § 10-2) shows.

The licences are renewals for the bevillingsperiode that starts 1 October 2024 (alkoholloven
§ 1-6); their oppgaver cover whole years. A salgsbevilling stores no hours of its own (it
follows the kommune's salgstider); a skjenkebevilling stores the windows the assessment
gave for each granted group and area, where it holds on every kind of day. Vennesla's
omsetningsgebyr for 2024 is run and stored; 2025 is left for the user to run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bevilling.calendar import OSLO, day_info
from bevilling.decisions import application, prikker
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Area, Licence
from db.commands import add_user_in, run_gebyr_in
from db.models import AuditEntry, Bevilling, Horing, Kontroll, Omsetningsoppgave, Prikk, Soknad
from db.session import unit_of_work

SEED = 4223
ACTOR = "demo"
RECEIVED_ON = date(2024, 6, 3)
DECIDED_ON = date(2024, 9, 19)  # the vedtak; the søknad is assessed as received
VALID_FROM = date(2024, 10, 1)
CONTROL_YEAR = 2025
OPPGAVE_YEARS = (2024, 2025)
# Prikker from controls before this date have been decided; later ones are still proposals.
PRIKK_DECIDED_BEFORE = date(2025, 11, 1)

# Seed 000, § 5.3 "Omsatt mengde alkohol i liter pr år", 2019 (the plan's latest year).
VENNESLA_SALG_LITRES = Decimal(441_972)
VENNESLA_SKJENKING_LITRES = Decimal(40_169)
VENNESLA_SKJENKEKONTROLLER = 50
VENNESLA_SALGSKONTROLLER = 29

# Typical split of served volume over the groups (beer, wine, spirits), normalised over
# the groups a place holds.
SERVING_SPLIT = {1: Decimal("0.62"), 2: Decimal("0.28"), 3: Decimal("0.10")}

USERS = {
    "vennesla-saksbehandler": ("saksbehandler", ["vennesla"]),
    "vennesla-kontrollor": ("kontrollor", ["vennesla"]),
    "vennesla-admin": ("admin", ["vennesla"]),
    "nord-aurdal-saksbehandler": ("saksbehandler", ["nord-aurdal"]),
    "nord-aurdal-kontrollor": ("kontrollor", ["nord-aurdal"]),
    "nord-aurdal-admin": ("admin", ["nord-aurdal"]),
}

KONTROLLORER = [
    ["Securitas v/ Ingrid Solberg", "Securitas v/ Tor Eikeland"],
    ["Securitas v/ Marius Bentsen", "Securitas v/ Ida Kristoffersen"],
    ["Securitas v/ Tor Eikeland", "Securitas v/ Marius Bentsen"],
]
FIRST_NAMES = [
    "Anne", "Bjørn", "Camilla", "Dag", "Eirik", "Frida", "Geir", "Hanne", "Ingvild", "Jon",
    "Kristin", "Lars", "Maria", "Nils", "Oda", "Per", "Ragnhild", "Sindre", "Tone", "Vegard",
]  # fmt: skip
LAST_NAMES = [
    "Andersen", "Berntsen", "Fidjeland", "Gundersen", "Håland", "Jakobsen", "Kjetså",
    "Lunde", "Moseid", "Nilsen", "Omdal", "Røyseland", "Skaiaa", "Tveit", "Usland", "Vigeland",
]  # fmt: skip


@dataclass(frozen=True)
class Place:
    key: str
    name: str
    holder: str
    licence: Licence
    venue: str
    groups: tuple[int, ...]
    address: str
    areas: tuple[Area, ...] = (Area.INNE,)
    weight: int = 10  # share of the kommune's volume (and of the controls)


def _shop(key: str, name: str, holder: str, address: str, weight: int) -> Place:
    return Place(key, name, holder, Licence.SALG, "butikk", (1,), address, weight=weight)


VENNESLA_SALG = [
    _shop("kiwi-sentrum", "Kiwi Vennesla sentrum", "Vennesla Dagligvare AS", "Vennesla sentrum, 4700 Vennesla", 14),
    _shop("rema-vennesla", "Rema 1000 Vennesla", "Rema Vennesla AS", "Moseidmoen, 4700 Vennesla", 13),
    _shop("extra-vennesla", "Coop Extra Vennesla", "Coop Sør SA", "Vennesla sentrum, 4700 Vennesla", 12),
    _shop("meny-vennesla", "Meny Vennesla", "Otra Mat AS", "Vennesla sentrum, 4700 Vennesla", 11),
    _shop("kiwi-moseidmoen", "Kiwi Moseidmoen", "Moseidmoen Dagligvare AS", "Moseidmoen, 4700 Vennesla", 9),
    _shop("rema-vikeland", "Rema 1000 Vikeland", "Vikeland Handel AS", "Vikeland, 4700 Vennesla", 8),
    _shop("prix-vikeland", "Coop Prix Vikeland", "Coop Sør SA", "Vikeland, 4700 Vennesla", 7),
    _shop("joker-haegeland", "Joker Hægeland", "Hægeland Landhandel AS", "Hægeland, 4715 Øvrebø", 3),
    _shop("marked-ovrebo", "Coop Marked Øvrebø", "Coop Sør SA", "Øvrebø, 4715 Øvrebø", 4),
    _shop("joker-skarpengland", "Joker Skarpengland", "Skarpengland Nærkjøp AS", "Skarpengland, 4705 Øvrebø", 3),
    _shop("bunnpris-grovane", "Bunnpris Grovane", "Grovane Mat AS", "Grovane, 4700 Vennesla", 4),
    _shop("kiwi-eptestol", "Kiwi Eptestøl", "Eptestøl Dagligvare AS", "Eptestøl, 4700 Vennesla", 6),
    _shop("spar-kvarstein", "Spar Kvarstein", "Kvarstein Handel AS", "Kvarstein, 4700 Vennesla", 3),
    _shop("naerbutikken-homme", "Nærbutikken Homme", "Homme Nærbutikk AS", "Homme, 4700 Vennesla", 2),
    Place(
        "hunsfos-bryggeri",
        "Hunsfos Bryggeri",
        "Hunsfos Bryggeri AS",
        Licence.SALG,
        "gardsutsalg",
        (1, 2),
        "Hunsøya, 4700 Vennesla",
        weight=1,
    ),
]  # fmt: skip

VENNESLA_SKJENKING = [
    # sentrum/gågaten
    Place("kafe-gagata", "Kafé Gågata", "Gågata Kafé AS", Licence.SKJENKING, "serveringssted", (1, 2), "Gågata, 4700 Vennesla", (Area.INNE, Area.UTE), 8),
    Place("pizza-grill", "Vennesla Pizza & Grill", "VPG Restaurant AS", Licence.SKJENKING, "serveringssted", (1, 2), "Gågata, 4700 Vennesla", weight=6),
    Place("puben-gagata", "Puben i Gågata", "Gågata Pub AS", Licence.SKJENKING, "bar", (1, 2, 3), "Gågata, 4700 Vennesla", (Area.INNE, Area.UTE), 16),
    Place("restaurant-torvet", "Restaurant Torvet", "Torvet Restaurantdrift AS", Licence.SKJENKING, "serveringssted", (1, 2, 3), "Torvet, 4700 Vennesla", weight=10),
    # Hunsøya
    Place("hunsfos-bryggeripub", "Hunsfos Bryggeri – bryggeripuben", "Hunsfos Bryggeri AS", Licence.SKJENKING, "bar", (1, 2, 3), "Hunsøya, 4700 Vennesla", weight=12),
    Place("fabrikken", "Fabrikken selskapslokaler", "Fabrikken Event AS", Licence.SKJENKING, "serveringssted", (1, 2, 3), "Hunsøya, 4700 Vennesla", weight=14),
    Place("hunsoya-scene", "Hunsøya Scene", "Hunsøya Kultur AS", Licence.SKJENKING, "konsert", (1, 2), "Hunsøya, 4700 Vennesla", weight=9),
    Place("hunsoya-bowling", "Hunsøya Bowling", "Otra Aktivitet AS", Licence.SKJENKING, "bowling", (1, 2), "Hunsøya, 4700 Vennesla", weight=7),
    # Vikeland
    Place("vikeland-gjestegard", "Vikeland Gjestegård", "Vikeland Gjestegård AS", Licence.SKJENKING, "overnattingssted", (1, 2, 3), "Vikeland, 4700 Vennesla", (Area.INNE, Area.UTE), 10),
    # institution kitchen and the library café
    Place("venneslaheimen", "Hovedkjøkkenet på Venneslaheimen", "Vennesla kommune", Licence.SKJENKING, "kantine", (1, 2), "Venneslaheimen, 4700 Vennesla", weight=1),
    Place("bibliotekkafeen", "Bibliotekkaféen", "Kulturkaféen Vennesla AS", Licence.SKJENKING, "serveringssted", (1, 2), "Vennesla bibliotek og kulturhus, 4700 Vennesla", weight=3),
]  # fmt: skip

NORD_AURDAL = [
    Place("kiwi-fagernes", "Kiwi Fagernes", "Fagernes Dagligvare AS", Licence.SALG, "butikk", (1,), "Fagernes, 2900 Fagernes"),
    Place("fjellhotell", "Fagernes Fjellhotell", "Valdres Hotelldrift AS", Licence.SKJENKING, "overnattingssted", (1, 2, 3), "Fagernes, 2900 Fagernes", (Area.INNE, Area.UTE)),
    Place("strandefjorden-camping", "Strandefjorden Camping", "Strandefjorden Camping AS", Licence.SKJENKING, "camping", (1, 2), "Strand, 2900 Fagernes"),
    Place("tingvoll-pub", "Tingvoll Pub", "Tingvoll Servering AS", Licence.SKJENKING, "bar", (1, 2, 3), "Fagernes, 2900 Fagernes"),
]  # fmt: skip

# Nord-Aurdal's 2025 oppgaver (Tingvoll Pub has none: the gebyr run lists it as missing).
NORD_AURDAL_OPPGAVER: dict[str, dict[str, dict[int, int]]] = {
    "kiwi-fagernes": {"forventet": {1: 90_000}, "faktisk": {1: 94_350}},
    "fjellhotell": {"forventet": {1: 9_000, 2: 4_200, 3: 800}},
    "strandefjorden-camping": {"forventet": {1: 2_500, 2: 600}},
}

# (place, month, day, hh:mm, violation codes): the 2025 controls that found something.
# Puben i Gågata: 4 + 4 + (2 + 2) = 12 prikker within two years (§ 10-2).
VIOLATIONS: list[tuple[str, int, int, str, tuple[str, ...], str]] = [
    ("puben-gagata", 2, 15, "23:40", ("apenbart_pavirket",), "Servering av gjest som var åpenbart påvirket."),
    ("hunsoya-scene", 4, 5, "21:15", ("reklame",), "Plakat med alkoholreklame ved inngangen."),
    ("puben-gagata", 6, 22, "01:20", ("utenfor_tid",), "Skjenking etter kl. 01:00."),
    ("kafe-gagata", 7, 12, "20:30", ("medbrakt", "tatt_med_ut"), "Gjester drakk medbrakt vin; gjester tok glass med ut av uteserveringen."),
    ("fabrikken", 8, 30, "22:45", ("styrer_stedfortreder",), "Verken styrer eller stedfortreder til stede."),
    ("puben-gagata", 9, 13, "22:30", ("pavirket_i_lokalet", "internkontroll"), "Åpenbart påvirket gjest ble ikke bortvist; internkontrollen manglet rutiner."),
    ("pizza-grill", 11, 7, "21:30", ("medbrakt",), "Medbrakt alkohol inn i skjenkelokalet."),
]  # fmt: skip


@dataclass
class DemoSummary:
    loaded: bool
    tokens: dict[str, str] = field(default_factory=dict)  # username -> plain token
    roles: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    bevillinger: dict[str, dict[str, int]] = field(default_factory=dict)  # kommune -> licence -> n
    oppgaver: int = 0
    kontroller: int = 0
    prikker: int = 0
    inndragning: list[dict[str, Any]] = field(default_factory=list)
    gebyr_2024: int = 0  # Vennesla's omsetningsgebyr for 2024 (stored), kroner

    def describe(self) -> str:
        if not self.loaded:
            return "demo data not loaded: the database already holds bevillinger"
        lines = ["Demo data loaded.", "", "Tokens (shown once; only their hashes are stored):"]
        for username, token in self.tokens.items():
            role, kommuner = self.roles[username]
            lines.append(f"  {username:<28} {role:<14} {','.join(kommuner):<12} {token}")
        lines.append("")
        for kommune, counts in self.bevillinger.items():
            shown = ", ".join(f"{n} {licence}" for licence, n in sorted(counts.items()))
            lines.append(f"{kommune}: {shown}")
        lines.append(
            f"omsetningsoppgaver: {self.oppgaver}; kontroller: {self.kontroller}; prikker: {self.prikker}"
        )
        lines.append(f"omsetningsgebyr 2024 (vennesla, stored): {self.gebyr_2024} kr; run 2025 yourself")
        for item in self.inndragning:
            lines.append(
                f"inndragning proposed: bevilling {item['bevilling_id']} {item['place']}: "
                f"{item['total']} prikker, {item['days']} dager"
            )
        return "\n".join(lines)


class _Loader:
    def __init__(self, session: Session, book: RuleBook, evaluator: Evaluator) -> None:
        self.session = session
        self.book = book
        self.evaluator = evaluator
        self.random = random.Random(SEED)
        self.summary = DemoSummary(loaded=True)
        self.hours_hold: dict[tuple[str, str], bool] = {}

    def audit(self, kommune: str, action: str, entity: str, entity_id: object, after: Any) -> None:
        self.session.add(
            AuditEntry(
                actor=ACTOR,
                kommune=kommune,
                action=action,
                entity=entity,
                entity_id=str(entity_id),
                after=after,
            )
        )

    def person(self) -> str:
        return f"{self.random.choice(FIRST_NAMES)} {self.random.choice(LAST_NAMES)}"

    # --- søknad → assessment → vedtak ------------------------------------------------------

    def grant(self, kommune: str, place: Place, saksbehandler: str) -> Bevilling:
        """A søknad assessed on the day it was received, its høringer answered without
        objection, and a vedtak that accepts the proposal (what ``POST /soknader/{id}/vedtak``
        with ``accept`` stores)."""
        skjenking = place.licence is Licence.SKJENKING
        request = application.Application(
            kommune=kommune,
            licence=place.licence,
            venue=place.venue,
            groups=list(place.groups),
            areas=list(place.areas),
            decided_on=RECEIVED_ON,
            serveringsbevilling=True if skjenking else None,
            delimited_area=True if Area.UTE in place.areas else None,
            uklanderlig_vandel=True,
            styrer_og_stedfortreder=True,
        )
        assessment = application.assess(self.book, self.evaluator, request)
        if assessment.outcome is application.Outcome.AVSLAS:
            refusals = "; ".join(r.text for r in assessment.refusals)
            raise ValueError(f"demo place {place.name} would be refused: {refusals}")
        filed = request.model_dump(mode="json", exclude={"kommune", "licence", "decided_on"})
        soknad = Soknad(
            kommune=kommune,
            licence=place.licence.value,
            applicant=place.holder,
            orgnr=None,
            place_name=place.name,
            address=place.address,
            request=filed,
            received_on=RECEIVED_ON,
            status="vedtatt",
            assessment=assessment.model_dump(mode="json"),
            ruleset_version=assessment.ruleset.version,
            created_by=saksbehandler,
        )
        soknad.horinger = [
            Horing(
                body=h.body.value,
                required=h.required,
                sent_on=RECEIVED_ON + timedelta(days=3),
                answered_on=RECEIVED_ON + timedelta(days=24),
                answer="Ingen merknader.",
                objection=False,
            )
            for h in assessment.hearings
        ]
        self.session.add(soknad)
        self.session.flush()

        granted = application.Granted(
            licence=place.licence,
            venue=place.venue,
            groups=assessment.granted_groups,
            areas=assessment.granted_areas,
        )
        hours = [h.model_dump(mode="json", by_alias=True) for h in self.hours(kommune, assessment, granted)]
        # The vilkår the rules require (the discretionary ones the officer chose not to set).
        conditions = [
            {
                "condition": c.condition.value,
                "text": c.text,
                "from": c.from_,
                "to": c.to,
                "age": c.age,
                "discretionary": False,
                "set_by": "regel",
                "reason": c.reason.model_dump(mode="json"),
            }
            for c in assessment.conditions
            if not c.discretionary
        ]
        valid_to = application.period_end(self.book, kommune, VALID_FROM)
        vedtak: dict[str, Any] = {
            "decision": "accept",
            "reason": None,
            "decided_by": saksbehandler,
            "decided_at": datetime.combine(DECIDED_ON, time(12), OSLO).isoformat(),
            "soknad_id": soknad.id,
            "proposal_outcome": assessment.outcome.value,
            "ruleset_version": assessment.ruleset.version,
            "ruleset": assessment.ruleset.model_dump(mode="json"),
        }
        bevilling = Bevilling(
            kommune=kommune,
            soknad_id=soknad.id,
            licence=place.licence.value,
            holder=place.holder,
            orgnr=None,
            place_name=place.name,
            address=place.address,
            venue=place.venue,
            zone=None,
            styrer=self.person(),
            stedfortreder=self.person(),
            groups=assessment.granted_groups,
            areas=[a.value for a in assessment.granted_areas],
            hours=hours,
            conditions=conditions,
            valid_from=VALID_FROM,
            valid_to=valid_to,
            status="aktiv",
            vedtak=vedtak,
        )
        self.session.add(bevilling)
        self.session.flush()
        vedtak = {**vedtak, "bevilling_id": bevilling.id}
        bevilling.vedtak = vedtak
        soknad.request = {**filed, "vedtak": vedtak}
        self.session.flush()
        self.audit(kommune, "create", "soknad", soknad.id, {"place": place.name, "status": "mottatt"})
        self.audit(kommune, "vedtak", "soknad", soknad.id, {"status": "vedtatt", "vedtak": vedtak})
        self.audit(kommune, "create", "bevilling", bevilling.id, {"place": place.name, "vedtak": vedtak})
        counts = self.summary.bevillinger.setdefault(kommune, {})
        counts[place.licence.value] = counts.get(place.licence.value, 0) + 1
        return bevilling

    def hours(
        self, kommune: str, assessment: application.Assessment, granted: application.Granted
    ) -> list[application.GrantedHours]:
        """The windows of the assessment as granted hours, each kept only where it holds on
        every kind of day from ``VALID_FROM`` (a salgsbevilling's weekday window is longer
        than Saturday's: it follows the kommune's salgstider instead)."""
        if assessment.licence is Licence.SALG:
            pairs = [(g, Area.INNE) for g in assessment.granted_groups]
        else:
            pairs = [(g, a) for a in assessment.granted_areas for g in assessment.granted_groups]
        found = [
            application.GrantedHours.model_validate({"group": g, "area": a, "from": w.from_, "to": w.to})
            for (g, a), w in zip(pairs, assessment.hours, strict=True)
            if w.from_ is not None and w.to is not None
        ]

        def holds(hours: list[application.GrantedHours]) -> bool:
            candidate = granted.model_copy(update={"hours": hours})
            key = (kommune, candidate.model_dump_json())  # many places share a grant
            if key not in self.hours_hold:
                breaches = application.reassess(self.book, self.evaluator, kommune, VALID_FROM, candidate)
                self.hours_hold[key] = not any(b.what == "hours" for b in breaches)
            return self.hours_hold[key]

        return found if holds(found) else [h for h in found if holds([h])]

    # --- omsetningsoppgaver ----------------------------------------------------------------

    def oppgave(
        self, bevilling: Bevilling, year: int, kind: str, litres: dict[int, Decimal], on: date
    ) -> None:
        oppgave = Omsetningsoppgave(
            kommune=bevilling.kommune,
            bevilling_id=bevilling.id,
            year=year,
            kind=kind,
            litres_1=litres.get(1, Decimal(0)),
            litres_2=litres.get(2, Decimal(0)),
            litres_3=litres.get(3, Decimal(0)),
            submitted_on=on,
        )
        self.session.add(oppgave)
        self.session.flush()
        self.audit(
            bevilling.kommune,
            "create",
            "omsetningsoppgave",
            oppgave.id,
            {
                "bevilling_id": bevilling.id,
                "year": year,
                "kind": kind,
                "litres": {str(g): str(v) for g, v in litres.items()},
            },
        )
        self.summary.oppgaver += 1

    def spread(self, total: Decimal, places: list[tuple[Place, Bevilling]]) -> list[Decimal]:
        """``total`` whole litres over the places by weight with a little yearly jitter; the
        shares add up to ``total`` exactly."""
        weights = [
            Decimal(p.weight) * Decimal(self.random.uniform(0.9, 1.1)).quantize(Decimal("0.001"))
            for p, _ in places
        ]
        whole = sum(weights, Decimal(0))
        shares = [(total * w / whole).quantize(Decimal(1)) for w in weights]
        shares[0] += total - sum(shares, Decimal(0))
        return shares

    def split(self, place: Place, litres: Decimal) -> dict[int, Decimal]:
        if place.licence is Licence.SALG:
            if place.groups == (1,):
                return {1: litres}
            beer = (litres * Decimal("0.8")).quantize(Decimal(1))
            return {1: beer, 2: litres - beer}
        held = {g: SERVING_SPLIT[g] for g in place.groups}
        whole = sum(held.values(), Decimal(0))
        parts = {g: (litres * share / whole).quantize(Decimal(1)) for g, share in held.items()}
        parts[1] += litres - sum(parts.values(), Decimal(0))
        return parts

    def vennesla_oppgaver(
        self, salg: list[tuple[Place, Bevilling]], skjenking: list[tuple[Place, Bevilling]]
    ) -> None:
        for year in OPPGAVE_YEARS:
            for places, total in ((salg, VENNESLA_SALG_LITRES), (skjenking, VENNESLA_SKJENKING_LITRES)):
                for (place, bevilling), litres in zip(places, self.spread(total, places), strict=True):
                    actual = self.split(place, litres)
                    expected = {
                        g: (v * Decimal(self.random.uniform(0.92, 1.08)) / 100).quantize(Decimal(1)) * 100
                        for g, v in actual.items()
                    }
                    self.oppgave(
                        bevilling,
                        year,
                        "forventet",
                        expected,
                        date(year, 2, 28) if year > 2024 else RECEIVED_ON,
                    )
                    self.oppgave(bevilling, year, "faktisk", actual, date(year + 1, 2, 27))

    # --- controls --------------------------------------------------------------------------

    def control(
        self,
        bevilling: Bevilling,
        at: datetime,
        codes: tuple[str, ...],
        observations: str,
        kontrollor: str,
    ) -> None:
        on = at.date()
        licence = Licence(bevilling.licence)
        assessment = prikker.assess_control(
            self.book, self.evaluator, bevilling.kommune, on, licence, list(codes)
        )
        kontroll = Kontroll(
            kommune=bevilling.kommune,
            bevilling_id=bevilling.id,
            at=at.astimezone(UTC),
            kind="skjenking" if licence is Licence.SKJENKING else "salg",
            place="skjenkelokalet" if licence is Licence.SKJENKING else "salgsområdet og kassene",
            kontrollorer=self.random.choice(KONTROLLORER),
            observations=observations,
            violations=list(codes),
            assessment=assessment.model_dump(mode="json"),
            ruleset_version=assessment.ruleset.version,
            created_by=kontrollor,
        )
        self.session.add(kontroll)
        self.session.flush()
        self.audit(
            bevilling.kommune,
            "create",
            "kontroll",
            kontroll.id,
            {"bevilling_id": bevilling.id, "violations": list(codes)},
        )
        self.summary.kontroller += 1
        for line in assessment.lines:
            prikk = Prikk(
                kommune=bevilling.kommune,
                bevilling_id=bevilling.id,
                kontroll_id=kontroll.id,
                code=line.code,
                points=line.points,
                violation_date=on,
                status="vedtatt" if on < PRIKK_DECIDED_BEFORE else "foreslatt",
                reason=line.reason.model_dump(mode="json"),
            )
            self.session.add(prikk)
            self.session.flush()
            self.audit(
                bevilling.kommune, "create", "prikk", prikk.id, {"code": line.code, "points": line.points}
            )
            self.summary.prikker += 1

    def days(self, weekdays: set[int]) -> list[date]:
        start = date(CONTROL_YEAR, 1, 1)
        candidates = (start + timedelta(days=n) for n in range(365))
        return [d for d in candidates if d.weekday() in weekdays and day_info(d).holiday_name is None]

    def controls(
        self,
        places: list[tuple[Place, Bevilling]],
        count: int,
        fixed: list[tuple[str, int, int, str, tuple[str, ...], str]],
        kontrollor: str,
    ) -> None:
        """``count`` controls over the places: the fixed ones that found something, one for
        every other place, the rest by weight; none of the others finds anything."""
        by_key = {p.key: (p, b) for p, b in places}
        for key, month, day_of_month, clock, codes, observation in fixed:
            _, bevilling = by_key[key]
            hour, minute = (int(part) for part in clock.split(":"))
            at = datetime.combine(date(CONTROL_YEAR, month, day_of_month), time(hour, minute), OSLO)
            self.control(bevilling, at, codes, f"Anonym kontroll. {observation}", kontrollor)
        checked = {key for key, *_ in fixed}
        pending = [b for p, b in places if p.key not in checked]
        extra = count - len(fixed) - len(pending)
        pending += self.random.choices([b for _, b in places], weights=[p.weight for p, _ in places], k=extra)
        skjenking = places[0][0].licence is Licence.SKJENKING
        evenings = self.days({4, 5})  # fredag, lørdag
        shop_days = self.days({0, 1, 2, 3, 4})
        for bevilling in pending:
            if skjenking:
                day = self.random.choice(evenings)
                minutes = self.random.randrange(20 * 60, 24 * 60 + 45, 5)  # 20:00 .. 00:40, near closing
                at = datetime.combine(day, time(0), OSLO) + timedelta(minutes=minutes)  # wall clock
            else:
                day = self.random.choice(shop_days)
                minutes = self.random.randrange(10 * 60, 17 * 60 + 30, 5)
                at = datetime.combine(day, time(minutes // 60, minutes % 60), OSLO)
            self.control(bevilling, at, (), "Anonym kontroll. Ingen overtredelser.", kontrollor)

    def inndragning(self, kommune: str, on: date) -> None:
        history: dict[int, list[prikker.Entry]] = {}
        for prikk in self.session.scalars(select(Prikk).where(Prikk.kommune == kommune)):
            history.setdefault(prikk.bevilling_id, []).append(
                prikker.Entry(date=prikk.violation_date, points=prikk.points)
            )
        for bevilling_id, entries in sorted(history.items()):
            proposal = prikker.propose_inndragning(self.book, self.evaluator, kommune, on, entries)
            if proposal.days:
                bevilling = self.session.get(Bevilling, bevilling_id)
                assert bevilling is not None
                self.summary.inndragning.append(
                    {
                        "kommune": kommune,
                        "bevilling_id": bevilling_id,
                        "place": bevilling.place_name,
                        "total": proposal.total,
                        "days": proposal.days,
                    }
                )

    # --- the whole set ---------------------------------------------------------------------

    def load(self) -> DemoSummary:
        for username, (role, kommuner) in USERS.items():
            self.summary.tokens[username] = add_user_in(self.session, username, role, kommuner, actor=ACTOR)
            self.summary.roles[username] = (role, kommuner)
        salg = [(p, self.grant("vennesla", p, "vennesla-saksbehandler")) for p in VENNESLA_SALG]
        skjenking = [(p, self.grant("vennesla", p, "vennesla-saksbehandler")) for p in VENNESLA_SKJENKING]
        self.vennesla_oppgaver(salg, skjenking)
        self.controls(skjenking, VENNESLA_SKJENKEKONTROLLER, VIOLATIONS, "vennesla-kontrollor")
        self.controls(salg, VENNESLA_SALGSKONTROLLER, [], "vennesla-kontrollor")
        self.inndragning("vennesla", date(CONTROL_YEAR, 12, 31))
        # 2024 is billed already; 2025 is left for the user to run.
        self.summary.gebyr_2024 = run_gebyr_in(self.session, self.book, "vennesla", 2024, ACTOR).total

        for place in NORD_AURDAL:
            bevilling = self.grant("nord-aurdal", place, "nord-aurdal-saksbehandler")
            for kind, litres in NORD_AURDAL_OPPGAVER.get(place.key, {}).items():
                on = date(2025, 2, 28) if kind == "forventet" else date(2026, 2, 27)
                self.oppgave(bevilling, 2025, kind, {g: Decimal(v) for g, v in litres.items()}, on)
        for kommune, counts in self.summary.bevillinger.items():
            self.audit(kommune, "demo_load", "demo", SEED, {"bevillinger": counts})
        return self.summary


def load_demo(url: str, book: RuleBook, evaluator: Evaluator) -> DemoSummary:
    """Load the demo data set into a database that holds no bevillinger yet (else change
    nothing and say so), in one transaction."""
    with unit_of_work(url) as session:
        if session.scalar(select(func.count()).select_from(Bevilling)):
            return DemoSummary(loaded=False)
        return _Loader(session, book, evaluator).load()
