"""The pages' words in bokmål and nynorsk.

A page about one kommune speaks that kommune's language (``language`` in its rule file);
other pages speak bokmål unless every kommune of the signed-in user writes nynorsk.
The rule texts themselves are shown as the rule files state them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

Lang = str  # "nb" | "nn"

# key -> (bokmål, nynorsk)
LABELS: dict[str, tuple[str, str]] = {
    # frame
    "app": ("Bevilling", "Bevilling"),  # the service's name
    "app.tagline": ("Salgs- og skjenkebevillinger", "Sals- og skjenkeløyve"),
    "skip": ("Hopp til innholdet", "Hopp til innhaldet"),
    "nav": ("Hovedmeny", "Hovudmeny"),
    "nav.kontroll": ("Ny kontroll", "Ny kontroll"),
    "nav.kontroller": ("Kontroller", "Kontrollar"),
    "nav.bevillinger": ("Bevillinger", "Løyve"),
    "nav.soknader": ("Søknader", "Søknader"),
    "nav.gebyr": ("Gebyr", "Gebyr"),
    "nav.regler": ("Regler", "Reglar"),
    "logged_in_as": ("Innlogget som", "Innlogga som"),
    "logout": ("Logg ut", "Logg ut"),
    "login": ("Logg inn", "Logg inn"),
    "role.saksbehandler": ("saksbehandler", "sakshandsamar"),
    "role.kontrollor": ("kontrollør", "kontrollør"),
    "role.admin": ("administrator", "administrator"),
    "back": ("Tilbake", "Tilbake"),
    "show": ("Vis", "Vis"),
    "search": ("Søk", "Søk"),
    "none": ("Ingen", "Ingen"),
    "yes": ("Ja", "Ja"),
    "no": ("Nei", "Nei"),
    "kommune": ("Kommune", "Kommune"),
    "date": ("Dato", "Dato"),
    "status": ("Status", "Status"),
    "source": ("Kilde", "Kjelde"),
    "sources": ("Kilder", "Kjelder"),
    "hjemmel": ("Hjemmel", "Heimel"),
    "rule": ("Regel", "Regel"),
    "missing": ("Må fylles ut.", "Må fyllast ut."),
    "errors.title": ("Skjemaet har feil", "Skjemaet har feil"),
    "error.title": ("Noe gikk galt", "Noko gjekk gale"),
    "error.401": ("Du må logge inn.", "Du må logge inn."),
    "error.403": ("Du har ikke tilgang til denne siden.", "Du har ikkje tilgang til denne sida."),
    "error.404": ("Fant ikke siden eller saken.", "Fann ikkje sida eller saka."),
    "error.409": ("Saken er endret eller avgjort allerede.", "Saka er endra eller avgjord alt."),
    "error.422": ("Ugyldig adresse eller skjema.", "Ugyldig adresse eller skjema."),
    "error.home": ("Til forsiden", "Til framsida"),
    "csrf": (
        "Skjemaet var utløpt eller kom fra en annen side. Last inn siden og prøv igjen.",
        "Skjemaet var utgått eller kom frå ei anna side. Last inn sida og prøv igjen.",
    ),
    # login
    "login.title": ("Logg inn", "Logg inn"),
    "login.intro": (
        "Lim inn tilgangsnøkkelen (token) du har fått av administratoren.",
        "Lim inn tilgangsnøkkelen (token) du har fått av administratoren.",
    ),
    "login.token": ("Tilgangsnøkkel", "Tilgangsnøkkel"),
    "login.bad": ("Ukjent eller tilbakekalt nøkkel.", "Ukjend eller tilbakekalla nøkkel."),
    "login.public": (
        "Reglene og kalenderen er åpne for alle:",
        "Reglane og kalenderen er opne for alle:",
    ),
    "home.title": ("Velkommen", "Velkomen"),
    # licences
    "licence.salg": ("Salgsbevilling", "Salsløyve"),
    "licence.skjenking": ("Skjenkebevilling", "Skjenkeløyve"),
    "licence.enkeltanledning": ("Bevilling for en enkelt anledning", "Løyve for ei enkelt hending"),
    "licence.ambulerende": ("Ambulerende skjenkebevilling", "Ambulerande skjenkeløyve"),
    "bev.list.title": ("Bevillinger", "Løyve"),
    "bev.search": ("Søk på navn eller adresse", "Søk på namn eller adresse"),
    "bev.matches": ("treff", "treff"),
    "bev.place": ("Sted", "Stad"),
    "bev.holder": ("Bevillingshaver", "Løyvehavar"),
    "bev.address": ("Adresse", "Adresse"),
    "bev.licence": ("Bevilling", "Løyve"),
    "bev.groups": ("Alkoholgrupper", "Alkoholgrupper"),
    "bev.areas": ("Arealer", "Areal"),
    "bev.venue": ("Type sted", "Type stad"),
    "bev.styrer": ("Styrer", "Styrar"),
    "bev.stedfortreder": ("Stedfortreder", "Stadfortredar"),
    "bev.valid": ("Gyldig", "Gyldig"),
    "bev.prikker_total": ("Prikker siste to år", "Prikkar siste to år"),
    "bev.register_control": ("Registrer kontroll her", "Registrer kontroll her"),
    "bev.status.aktiv": ("aktiv", "aktiv"),
    "bev.status.overdratt": ("overdratt", "overdregen"),
    "bev.status.opphort": ("opphørt", "opphøyrd"),
    "bev.hours": ("Salgs- og skjenketider", "Sals- og skjenketider"),
    "bev.hours.intro": (
        "Tidene bevillingen gir de neste sju dagene og på de neste helligdagene og navngitte dagene. "
        "En skjenkedag går fra 06:00 til 06:00 neste morgen.",
        "Tidene løyvet gir dei neste sju dagane og på dei neste heilagdagane og namngjevne dagane. "
        "Ein skjenkedag går frå 06:00 til 06:00 neste morgon.",
    ),
    "bev.hours.granted": ("Tider i vedtaket", "Tider i vedtaket"),
    "bev.hours.follows": (
        "Vedtaket har ingen egne tider: kommunens tider gjelder.",
        "Vedtaket har ingen eigne tider: tidene til kommunen gjeld.",
    ),
    "bev.hours.by_vedtak": ("begrenset av vedtaket", "avgrensa av vedtaket"),
    "bev.hours.closed": ("stengt", "stengt"),
    "bev.hours.day": ("Dag", "Dag"),
    "bev.hours.next7": ("Neste sju dager", "Neste sju dagar"),
    "bev.hours.named": ("Neste navngitte dager", "Neste namngjevne dagar"),
    "bev.conditions": ("Vilkår", "Vilkår"),
    "bev.conditions.rule": ("fra reglene", "frå reglane"),
    "bev.conditions.officer": ("satt av saksbehandler", "sett av sakshandsamar"),
    "bev.controls": ("Kontroller", "Kontrollar"),
    "bev.timeline": ("Prikker over tid", "Prikkar over tid"),
    "bev.timeline.desc": (
        "Prikkene som teller i toårsperioden, og grensen på 12 prikker for inndragning.",
        "Prikkane som tel i toårsperioden, og grensa på 12 prikkar for inndraging.",
    ),
    "bev.ledger": ("Prikkliste", "Prikkliste"),
    "bev.counted": ("Teller", "Tel"),
    "bev.vedtak": ("Vedtak", "Vedtak"),
    "bev.overdratt": ("Overdratt", "Overdregen"),
    "prikk.status.foreslatt": ("foreslått", "føreslått"),
    "prikk.status.vedtatt": ("vedtatt", "vedteken"),
    "prikk.status.paklaget": ("påklaget", "påklaga"),
    "prikk.status.opphevet": ("opphevet", "oppheva"),
    # controls
    "k.title": ("Registrer kontroll", "Registrer kontroll"),
    "k.pick": ("Velg sted", "Vel stad"),
    "k.search": ("Søk på navn eller adresse", "Søk på namn eller adresse"),
    "k.search.button": ("Søk", "Søk"),
    "k.licence": ("Bevilling", "Løyve"),
    "k.no_match": ("Ingen bevillinger passer søket.", "Ingen løyve passar søket."),
    "k.when": ("Tidspunkt for kontrollen", "Tidspunkt for kontrollen"),
    "k.kind": ("Type kontroll", "Type kontroll"),
    "k.kind.salg": ("Salgskontroll", "Salskontroll"),
    "k.kind.skjenking": ("Skjenkekontroll", "Skjenkekontroll"),
    "k.place": ("Hvor på stedet", "Kvar på staden"),
    "k.place.skjenking": ("Skjenkelokalet", "Skjenkelokalet"),
    "k.place.salg": ("Salgsområdet og kassene", "Salsområdet og kassane"),
    "k.kontrollor1": ("Kontrollør 1", "Kontrollør 1"),
    "k.kontrollor2": ("Kontrollør 2", "Kontrollør 2"),
    "k.kontrollor2.hint": (
        "Påkrevd ved skjenkekontroll (alkoholforskriften § 9-5).",
        "Påkravd ved skjenkekontroll (alkoholforskrifta § 9-5).",
    ),
    "k.observations": ("Observasjoner", "Observasjonar"),
    "k.violations": ("Overtredelser", "Brot"),
    "k.violations.hint": (
        "Kryss av det dere fant. Tallet er prikkene etter alkoholforskriften § 10-3.",
        "Kryss av det de fann. Talet er prikkane etter alkoholforskrifta § 10-3.",
    ),
    "k.points": ("prikker", "prikkar"),
    "k.point": ("prikk", "prikk"),
    "k.err.two": (
        "En skjenkekontroll krever to ulike kontrollører (alkoholforskriften § 9-5).",
        "Ein skjenkekontroll krev to ulike kontrollørar (alkoholforskrifta § 9-5).",
    ),
    "k.err.kind": (
        "Typen kontroll passer ikke bevillingen: salgsbevilling får salgskontroll, skjenkebevilling skjenkekontroll.",
        "Typen kontroll passar ikkje løyvet: salsløyve får salskontroll, skjenkeløyve skjenkekontroll.",
    ),
    "k.err.future": (
        "Tidspunktet ligger fram i tid.",
        "Tidspunktet ligg fram i tid.",
    ),
    "k.err.not_in_force": (
        "Bevillingen gjaldt ikke på denne datoen.",
        "Løyvet galdt ikkje på denne datoen.",
    ),
    "k.err.at": ("Ugyldig tidspunkt.", "Ugyldig tidspunkt."),
    "k.submit": ("Registrer kontrollen", "Registrer kontrollen"),
    "k.sending": ("Sender …", "Sender …"),
    "k.used_key": (
        "Dette skjemaet er allerede sendt inn med andre opplysninger. Åpne et nytt skjema for en ny kontroll.",
        "Dette skjemaet er alt sendt inn med andre opplysningar. Opne eit nytt skjema for ein ny kontroll.",
    ),
    "k.new_form": ("Start et nytt skjema", "Start eit nytt skjema"),
    "k.resumed": (
        "Forrige innsending av dette skjemaet ble kanskje ikke fullført (mistet forbindelse?). "
        "Opplysningene er fylt inn igjen: send på nytt, kontrollen blir ikke registrert to ganger.",
        "Førre innsending av dette skjemaet vart kanskje ikkje fullført (mista samband?). "
        "Opplysningane er fylte inn att: send på nytt, kontrollen blir ikkje registrert to gonger.",
    ),
    "k.done": ("Kontrollen er registrert", "Kontrollen er registrert"),
    "k.replayed": (
        "Kontrollen var allerede registrert: den er ikke lagret to ganger.",
        "Kontrollen var alt registrert: han er ikkje lagra to gonger.",
    ),
    "k.proposed": ("Foreslåtte prikker", "Føreslåtte prikkar"),
    "k.no_prikker": ("Ingen prikker: ingen overtredelser.", "Ingen prikkar: ingen brot."),
    "k.not_applicable": (
        "Prikksystemet gjelder ikke denne bevillingen.",
        "Prikksystemet gjeld ikkje dette løyvet.",
    ),
    "k.total": ("Bevillingens prikker siste to år", "Prikkane til løyvet siste to år"),
    "k.total_of": ("av", "av"),
    "k.warning": (
        "Grensen på {threshold} prikker er nådd: {total} prikker innen to år. "
        "Forslag: inndragning i {days} dager (alkoholforskriften § 10-2).",
        "Grensa på {threshold} prikkar er nådd: {total} prikkar innan to år. "
        "Framlegg: inndraging i {days} dagar (alkoholforskrifta § 10-2).",
    ),
    "k.another": ("Registrer en ny kontroll", "Registrer ein ny kontroll"),
    "k.see_licence": ("Se bevillingen", "Sjå løyvet"),
    "k.list.title": ("Kontroller", "Kontrollar"),
    "k.at": ("Tidspunkt", "Tidspunkt"),
    "k.by": ("Kontrollører", "Kontrollørar"),
    "k.details": ("Kontrollen", "Kontrollen"),
    "k.found": ("Funn", "Funn"),
    "k.nothing": ("Ingen overtredelser", "Ingen brot"),
    # søknader
    "s.list.title": ("Søknader", "Søknader"),
    "s.applicant": ("Søker", "Søkjar"),
    "s.received": ("Mottatt", "Motteke"),
    "s.status.mottatt": ("til behandling", "til handsaming"),
    "s.status.vedtatt": ("innvilget", "innvilga"),
    "s.status.avslatt": ("avslått", "avslått"),
    "s.filter": ("Vis", "Vis"),
    "s.filter.all": ("alle", "alle"),
    "s.proposal": ("Foreslått vedtak", "Framlegg til vedtak"),
    "s.outcome.innvilges": ("Innvilges", "Innvilgast"),
    "s.outcome.innvilges_delvis": ("Innvilges delvis", "Innvilgast delvis"),
    "s.outcome.avslas": ("Avslås", "Avslåast"),
    "s.granted_groups": ("Grupper som kan innvilges", "Grupper som kan innvilgast"),
    "s.granted_areas": ("Arealer som kan innvilges", "Areal som kan innvilgast"),
    "s.refusals": ("Avslagsgrunner", "Avslagsgrunnar"),
    "s.binding": ("Loven krever avslag", "Lova krev avslag"),
    "s.to_document": ("Må dokumenteres", "Må dokumenterast"),
    "s.conditions": ("Vilkår", "Vilkår"),
    "s.discretionary": ("etter skjønn", "etter skjøn"),
    "s.discretion": ("Skjønnsmomenter", "Skjønsmoment"),
    "s.hours": ("Tider", "Tider"),
    "s.reasons": ("Begrunnelse og kilder", "Grunngjeving og kjelder"),
    "s.ruleset": ("Regelsett", "Regelsett"),
    "s.horinger": ("Høringer", "Høyringar"),
    "s.horing.required": ("påkrevd", "påkravd"),
    "s.horing.optional": ("valgfri", "valfri"),
    "s.horing.sent": ("Sendt", "Sendt"),
    "s.horing.answered": ("Svar mottatt", "Svar motteke"),
    "s.horing.answer": ("Svar", "Svar"),
    "s.horing.objection": ("Innsigelse", "Motsegn"),
    "s.horing.save": ("Lagre høringen", "Lagre høyringa"),
    "s.horing.saved": ("Høringen er lagret.", "Høyringa er lagra."),
    "s.vedtak": ("Vedtak", "Vedtak"),
    "s.vedtak.decision": ("Avgjørelse", "Avgjerd"),
    "s.vedtak.accept": ("Innvilg som foreslått", "Innvilg som føreslått"),
    "s.vedtak.change": ("Innvilg med endringer", "Innvilg med endringar"),
    "s.vedtak.refuse": ("Avslå", "Avslå"),
    "s.vedtak.reason": ("Begrunnelse", "Grunngjeving"),
    "s.vedtak.reason.hint": (
        "Påkrevd ved endring og avslag (forvaltningsloven § 24).",
        "Påkravd ved endring og avslag (forvaltningslova § 24).",
    ),
    "s.vedtak.holder": ("Bevillingshaver", "Løyvehavar"),
    "s.vedtak.valid_from": ("Gyldig fra", "Gyldig frå"),
    "s.vedtak.valid_to": ("Gyldig til (tom = ut bevillingsperioden)", "Gyldig til (tom = ut løyveperioden)"),
    "s.vedtak.groups": ("Grupper (ved endring)", "Grupper (ved endring)"),
    "s.vedtak.areas": ("Arealer (ved endring)", "Areal (ved endring)"),
    "s.vedtak.conditions": ("Egne vilkår, ett per linje", "Eigne vilkår, eitt per line"),
    "s.vedtak.submit": ("Fatt vedtak", "Gjer vedtak"),
    "s.vedtak.done": ("Vedtaket er fattet.", "Vedtaket er gjort."),
    "s.vedtak.decided": ("Søknaden er avgjort", "Søknaden er avgjord"),
    "s.vedtak.by": ("Avgjort av", "Avgjord av"),
    "s.vedtak.bevilling": ("Bevillingen", "Løyvet"),
    "s.application": ("Søknaden", "Søknaden"),
    "area.inne": ("inne", "inne"),
    "area.ute": ("ute", "ute"),
    "group": ("gruppe", "gruppe"),
    "groups": ("grupper", "grupper"),
    # gebyr
    "g.title": ("Omsetningsgebyr", "Omsetningsgebyr"),
    "g.intro": (
        "Årlig gebyr etter alkoholforskriften kapittel 6, beregnet fra omsetningsoppgavene.",
        "Årleg gebyr etter alkoholforskrifta kapittel 6, rekna ut frå omsetningsoppgåvene.",
    ),
    "g.year": ("År", "År"),
    "g.run": ("Kjør gebyrberegningen", "Køyr gebyrutrekninga"),
    "g.rerun": (
        "En ny kjøring erstatter årets lagrede linjer.",
        "Ei ny køyring erstattar dei lagra linjene for året.",
    ),
    "g.progress": ("Fremdrift", "Framdrift"),
    "g.computing": ("Beregner …", "Reknar ut …"),
    "g.storing": ("Lagrer", "Lagrar"),
    "g.done": ("Ferdig", "Ferdig"),
    "g.failed": ("Kjøringen feilet", "Køyringa feila"),
    "g.stored": ("Lagrede gebyrer", "Lagra gebyr"),
    "g.none": ("Ingen gebyrer er lagret for dette året.", "Ingen gebyr er lagra for dette året."),
    "g.total": ("Sum", "Sum"),
    "g.basis": ("Grunnlag", "Grunnlag"),
    "g.amount": ("Gebyr (kr)", "Gebyr (kr)"),
    "g.csv": ("Last ned CSV", "Last ned CSV"),
    "g.missing": ("Mangler omsetningsoppgave", "Manglar omsetningsoppgåve"),
    "g.not_by_volume": ("Ikke gebyr etter volum", "Ikkje gebyr etter volum"),
    "g.rates_status": ("Satsenes status", "Status for satsane"),
    "g.refresh": ("Oppdater", "Oppdater"),
    "g.rates.verified": ("bekreftet", "stadfesta"),
    "g.rates.verified_secondary": ("bekreftet i annenhåndskilde", "stadfesta i andrehandskjelde"),
    "g.rates.unverified": ("ikke bekreftet mot kilden", "ikkje stadfesta mot kjelda"),
    # rules
    "r.title": ("Regler", "Reglar"),
    "r.kommuner": ("Kommuner", "Kommunar"),
    "r.effective": ("Gjeldende regler", "Gjeldande reglar"),
    "r.as_of": ("Per", "Per"),
    "r.version": ("Versjon", "Versjon"),
    "r.files": ("Regelfiler", "Regelfiler"),
    "r.silent": ("Det reglene ikke sier noe om", "Det reglane ikkje seier noko om"),
    "r.level": ("Nivå", "Nivå"),
    "r.level.national": ("nasjonal", "nasjonal"),
    "r.level.region": ("regional", "regional"),
    "r.level.kommune": ("kommunal", "kommunal"),
    "r.valid": ("Gjelder", "Gjeld"),
    "r.calendar": ("Kalender", "Kalender"),
    "r.calendar.title": ("Kalender {year}", "Kalender {year}"),
    "r.calendar.intro": (
        "Salgstid for øl i butikk og skjenketid på et serveringssted (innendørs) hver dag i året, "
        "slik reglene gir dem. Skjenking etter midnatt hører til dagen før.",
        "Salstid for øl i butikk og skjenketid på ein serveringsstad (innandørs) kvar dag i året, "
        "slik reglane gjev dei. Skjenking etter midnatt høyrer til dagen før.",
    ),
    "r.calendar.special": ("Dager med egne navn", "Dagar med eigne namn"),
    "r.calendar.sales": ("Salg gr. 1", "Sal gr. 1"),
    "r.calendar.serve12": ("Skjenk gr. 1–2", "Skjenk gr. 1–2"),
    "r.calendar.serve3": ("Skjenk gr. 3", "Skjenk gr. 3"),
    "r.calendar.no_rules": ("ingen regler", "ingen reglar"),
    "r.show_calendar": ("Se kalenderen", "Sjå kalenderen"),
    "r.show_rules": ("Se reglene", "Sjå reglane"),
    "r.prev_year": ("Forrige år", "Førre år"),
    "r.next_year": ("Neste år", "Neste år"),
    "r.rules_count": ("regler", "reglar"),
}

KIND_NAMES: dict[str, tuple[str, str]] = {
    "alkoholgruppe": ("Alkoholgrupper", "Alkoholgrupper"),
    "salgstid": ("Salgstider", "Salstider"),
    "salgstid_grense": ("Grenser for salgstid", "Grenser for salstid"),
    "skjenketid": ("Skjenketider", "Skjenketider"),
    "skjenketid_grense": ("Grenser for skjenketid", "Grenser for skjenketid"),
    "hoyeste_gruppe": ("Høyeste alkoholgruppe", "Høgaste alkoholgruppe"),
    "avslag": ("Avslagsgrunner", "Avslagsgrunnar"),
    "forutsetning": ("Forutsetninger", "Føresetnader"),
    "vilkar": ("Vilkår", "Vilkår"),
    "skjonn": ("Skjønn", "Skjøn"),
    "horing": ("Høringer", "Høyringar"),
    "prikk": ("Prikker", "Prikkar"),
    "inndragning": ("Inndragning", "Inndraging"),
    "gebyrsats": ("Gebyrsatser", "Gebyrsatsar"),
    "bevillingsperiode": ("Bevillingsperiode", "Løyveperiode"),
}

# The fields of a rule (docs/rule-language.md), as the rules page names them.
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "when": ("Når", "Når"),
    "unless": ("Unntatt når", "Unnateke når"),
    "window": ("Tid", "Tid"),
    "closed": ("Stengt", "Stengt"),
    "overrides": ("Erstatter", "Erstattar"),
    "not_before": ("Ikke før", "Ikkje før"),
    "not_after": ("Ikke etter", "Ikkje etter"),
    "enforcement": ("Håndheving", "Handheving"),
    "max_group": ("Høyeste gruppe", "Høgaste gruppe"),
    "requires": ("Krever", "Krev"),
    "condition": ("Vilkår", "Vilkår"),
    "discretionary": ("Etter skjønn", "Etter skjøn"),
    "from": ("Fra", "Frå"),
    "to": ("Til", "Til"),
    "age": ("Alder", "Alder"),
    "body": ("Instans", "Instans"),
    "required": ("Påkrevd", "Påkravd"),
    "code": ("Kode", "Kode"),
    "points": ("Prikker", "Prikkar"),
    "threshold": ("Grense", "Grense"),
    "window_years": ("År i perioden", "År i perioden"),
    "base_days": ("Dager ved grensen", "Dagar ved grensa"),
    "extra_days": ("Tilleggsdager", "Tilleggsdagar"),
    "applies_to": ("Gjelder", "Gjeld"),
    "year": ("År", "År"),
    "salg": ("Salg", "Sal"),
    "skjenking": ("Skjenking", "Skjenking"),
    "min_salg": ("Minstegebyr salg", "Minstegebyr sal"),
    "min_skjenking": ("Minstegebyr skjenking", "Minstegebyr skjenking"),
    "ambulerende_max": ("Maks. ambulerende", "Maks. ambulerande"),
    "status": ("Status", "Status"),
    "valgaar": ("Valgår", "Valår"),
    "interval_years": ("Hvert", "Kvart"),
    "ends_month_day": ("Slutter", "Sluttar"),
    "max_years": ("Høyst år", "Høgst år"),
    "group": ("Gruppe", "Gruppe"),
    "groups": ("Grupper", "Grupper"),
    "areas": ("Arealer", "Areal"),
    "zones": ("Soner", "Soner"),
    "venues": ("Steder", "Stader"),
    "outlets": ("Utsalg", "Utsal"),
    "licences": ("Bevillinger", "Løyve"),
    "days": ("Dager", "Dagar"),
    "seasons": ("Sesonger", "Sesongar"),
    "facts": ("Forhold", "Forhold"),
    "event": ("Arrangement", "Arrangement"),
    "application": ("I søknaden", "I søknaden"),
    "note": ("Merknad", "Merknad"),
    "abv_gt": ("Over % alkohol", "Over % alkohol"),
    "abv_gte": ("Fra % alkohol", "Frå % alkohol"),
    "abv_lt": ("Under % alkohol", "Under % alkohol"),
    "abv_lte": ("Til og med % alkohol", "Til og med % alkohol"),
    "from_points": ("Fra prikker", "Frå prikkar"),
    "to_points": ("Til prikker", "Til prikkar"),
}

WEEKDAYS = {
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "nn": ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "søndag"),
}
WEEKDAYS_SHORT = {
    "nb": ("man", "tir", "ons", "tor", "fre", "lør", "søn"),
    "nn": ("mån", "tys", "ons", "tor", "fre", "lau", "søn"),
}
MONTHS = (
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
)  # fmt: skip
MONTHS_SHORT = ("jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "des")

# Named days that are not helligdager (the holidays package names those).
DAY_NAMES: dict[str, tuple[str, str]] = {
    "onsdag_for_skjaertorsdag": ("Onsdag før skjærtorsdag", "Onsdag før skjærtorsdag"),
    "paaskeaften": ("Påskeaften", "Påskeaftan"),
    "dag_for_kristi_himmelfart": ("Dagen før Kristi himmelfartsdag", "Dagen før Kristi himmelfartsdag"),
    "pinseaften": ("Pinseaften", "Pinseaftan"),
    "dag_for_1mai": ("Dagen før 1. mai", "Dagen før 1. mai"),
    "dag_for_17mai": ("Dagen før 17. mai", "Dagen før 17. mai"),
    "julaften": ("Julaften", "Julaftan"),
    "romjul": ("Romjul", "Romjul"),
    "nyttarsaften": ("Nyttårsaften", "Nyttårsaftan"),
    "sommertid_natt": ("Natt til sommertid", "Natt til sommartid"),
    "vintertid_natt": ("Natt til vintertid", "Natt til vintertid"),
}


class Labels:
    """``t("key")`` in a template: the word in the page's language."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang if lang in ("nb", "nn") else "nb"

    def __call__(self, key: str, **values: object) -> str:
        pair = LABELS.get(key)
        if pair is None:
            return key
        text = pair[1] if self.lang == "nn" else pair[0]
        return text.format(**values) if values else text

    def kind(self, kind: str) -> str:
        pair = KIND_NAMES.get(kind)
        return (pair[1] if self.lang == "nn" else pair[0]) if pair else kind

    def field(self, name: str) -> str:
        pair = FIELD_NAMES.get(name)
        return (pair[1] if self.lang == "nn" else pair[0]) if pair else name

    def weekday(self, day: date, short: bool = False) -> str:
        return (WEEKDAYS_SHORT if short else WEEKDAYS)[self.lang][day.weekday()]

    def day_name(self, tag: str) -> str | None:
        pair = DAY_NAMES.get(tag)
        return (pair[1] if self.lang == "nn" else pair[0]) if pair else None


def language_of(languages: Iterable[str]) -> Lang:
    """Nynorsk only when every kommune in question writes nynorsk."""
    seen = set(languages)
    return "nn" if seen == {"nn"} else "nb"


def nbdate(day: date | None) -> str:
    return f"{day.day}.{day.month}.{day.year}" if day is not None else ""


def long_date(day: date, lang: Lang) -> str:
    return f"{Labels(lang).weekday(day)} {day.day}. {MONTHS[day.month - 1]} {day.year}"


def kroner(amount: int | float) -> str:
    """441972 -> '441 972' (a narrow no-break space groups the thousands)."""
    return f"{amount:,.0f}".replace(",", "\u202f")
