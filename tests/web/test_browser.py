"""The pages in the system Chromium: an inspector records a control on a phone, a case
officer reads a licence and decides a søknad, the gebyr run, the rules pages, and a
screenshot of every page at phone (375×812) and desktop (1280×900) width."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from tests.web.conftest import DESKTOP, PHONE, Pages, Server, screenshot, today


@dataclass
class Taps:
    """What an inspector does by hand: each tap, and each field typed into."""

    taps: int = 0
    typed: int = 0

    def tap(self, locator: Any) -> None:
        locator.click()
        self.taps += 1

    def type(self, locator: Any, text: str) -> None:
        locator.click()
        locator.press_sequentially(text)
        self.typed += 1


def test_login_page_sets_a_strict_httponly_cookie_and_logout_ends_it(pages: Pages, server: Server) -> None:
    page = pages.open(PHONE)
    page.goto("/web/kontroll")
    assert "/web/logg-inn" in page.url  # no session: the login form, and back here after it
    page.get_by_label("Tilgangsnøkkel").fill("not-a-token")
    page.get_by_role("button", name="Logg inn").click()
    assert page.get_by_text("Ukjent eller tilbakekalt nøkkel.").is_visible()
    screenshot(page, "logg-inn-feil-phone")
    page.get_by_label("Tilgangsnøkkel").fill(server.tokens["vennesla-kontrollor"])
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url("**/web/kontroll")
    cookie = next(c for c in page.context.cookies() if c["name"] == "bevilling_sesjon")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/web"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts
    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_url("**/web/logg-inn")
    assert not [c for c in page.context.cookies() if c["name"] == "bevilling_sesjon"]


def test_an_inspector_records_a_control_on_a_phone_and_sees_the_prikk_total(
    pages: Pages, server: Server
) -> None:
    page = pages.open(PHONE, "vennesla-kontrollor")
    before = len(server.controls_of(server.ids["puben"]))
    page.goto("/web/kontroll")
    assert page.locator("html").get_attribute("lang") == "nb"
    # The time defaults to now; both kontrollører are the inspector's last pair.
    assert page.locator("#at").input_value().startswith(today().isoformat())
    assert page.locator("#kontrollor1").input_value() and page.locator("#kontrollor2").input_value()
    assert (
        page.locator("label.choice", has_text="Salg eller skjenking til person som er")
        .locator(".points")
        .inner_text()
        .startswith("4")
    )

    hands = Taps()
    hands.type(page.get_by_label("Søk på navn eller adresse"), "puben")
    assert page.locator("#treff-antall").inner_text() == "2"  # and Hunsfos bryggeripuben
    hands.tap(page.get_by_label("Puben i Gågata"))
    assert page.locator("#kind-skjenking").is_checked()  # the kind follows the licence
    hands.tap(page.get_by_label("Brudd på salgs-, utleverings- eller skjenketid"))
    hands.tap(page.get_by_role("button", name="Registrer kontrollen"))

    page.wait_for_url("**/web/kontroller/*")
    assert page.get_by_role("heading", name="Kontrollen er registrert").is_visible()
    assert page.locator("#prikker-denne").inner_text() == "4"
    # 12 prikker from 2025 and these 4: the warning of § 10-2.
    assert page.locator("#prikker-totalt").inner_text() == "16"
    warning = page.locator("#inndragning-varsel")
    assert warning.is_visible() and "12 prikker er nådd" in warning.inner_text()
    screenshot(page, "kontroll-kvittering-phone")
    assert len(server.controls_of(server.ids["puben"])) == before + 1
    assert (hands.taps, hands.typed) == (3, 1)  # reported: 3 taps and one search word


def test_a_double_tap_and_a_lost_connection_record_the_control_once(pages: Pages, server: Server) -> None:
    page = pages.open(PHONE, "vennesla-kontrollor")
    licence = server.ids["kafe"]
    before = len(server.controls_of(licence))
    page.goto(f"/web/kontroll?bevilling={licence}")
    page.get_by_label("Gjester drikker medbrakt alkohol").check()
    page.get_by_role("button", name="Registrer kontrollen").dblclick()
    page.wait_for_url("**/web/kontroller/*")
    assert len(server.controls_of(licence)) == before + 1

    # The connection drops after the server stored the control but before the answer arrived.
    page.goto(f"/web/kontroll?bevilling={licence}")
    page.get_by_label("Brudd på reklameforbudet").check()
    dropped: list[int] = []

    def drop(route: Any) -> None:
        if route.request.method == "POST" and not dropped:
            dropped.append(route.fetch(max_redirects=0).status)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/web/kontroll", drop)
    try:
        page.get_by_role("button", name="Registrer kontrollen").click()
    finally:
        page.wait_for_timeout(300)
    assert dropped == [303]
    assert len(server.controls_of(licence)) == before + 2
    page.go_back()  # the form again: the same entries and the same idempotency key
    assert page.locator("#gjenoppta").is_visible()
    assert page.get_by_label("Brudd på reklameforbudet").is_checked()
    page.get_by_role("button", name="Registrer kontrollen").click()
    page.wait_for_url("**/web/kontroller/*")
    assert page.get_by_text("Kontrollen var allerede registrert").is_visible()
    assert len(server.controls_of(licence)) == before + 2
    pages.problems[:] = [p for p in pages.problems if "ERR_INTERNET_DISCONNECTED" not in p]


def test_the_licence_page_shows_the_prikk_timeline_hours_and_controls(pages: Pages, server: Server) -> None:
    page = pages.open(DESKTOP, "vennesla-saksbehandler")
    page.goto(f"/web/bevillinger/{server.ids['torvet']}")
    page.goto(f"/web/bevillinger/{server.ids['puben']}")
    plot = page.locator("svg#prikk-tidslinje")
    assert plot.is_visible()
    box = plot.bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 250
    assert plot.locator("line.threshold").get_attribute("data-threshold") == "12"
    assert plot.locator("circle.marker").count() >= 3  # one per violation date
    assert plot.locator("path.steps").get_attribute("d").count("V") >= 3
    assert int(page.locator("#prikker-totalt").inner_text()) >= 12
    assert page.get_by_role("alert").first.is_visible()
    assert page.locator("#uke > li").count() == 7
    assert page.locator("#navngitte-dager > li").count() >= 1
    assert page.locator("#kontroller tbody tr").count() >= 3
    screenshot(page, "bevilling-tidslinje-desktop")


def test_a_case_officer_answers_the_hearings_and_decides_the_application(
    pages: Pages, server: Server
) -> None:
    page = pages.open(DESKTOP, "vennesla-saksbehandler")
    soknad = server.ids["soknad"]
    page.goto("/web/soknader")
    page.get_by_role("link", name="Elvekanten Kafé").click()
    assert page.locator("#utfall").inner_text() == "Innvilges"
    assert page.get_by_role("heading", name="Begrunnelse og kilder").is_visible()
    screenshot(page, "soknad-for-vedtak-desktop")
    for body in ("politi", "sosialtjenesten"):
        card = page.locator(f"#horing-{body}")
        if not card.count():
            continue
        card.get_by_label("Sendt").fill(today().isoformat())
        card.get_by_label("Svar mottatt").fill(today().isoformat())
        card.get_by_label("Svar", exact=True).fill("Ingen merknader.")
        card.get_by_label("Nei").check()
        card.get_by_role("button", name="Lagre høringen").click()
        page.wait_for_url(f"**/web/soknader/{soknad}?lagret=horing*")
    page.get_by_label("Innvilg som foreslått").check()
    page.get_by_label("Styrer").fill("Kari Elvekant")
    page.get_by_label("Stedfortreder").fill("Ola Elvekant")
    page.get_by_role("button", name="Fatt vedtak").click()
    page.wait_for_url(f"**/web/soknader/{soknad}?lagret=vedtak")
    assert page.get_by_text("Vedtaket er fattet.").is_visible()
    page.locator("#vedtak-fattet a.button").click()
    assert page.get_by_role("heading", name="Elvekanten Kafé").is_visible()
    assert page.locator("svg#prikk-tidslinje").is_visible()


def test_the_gebyr_run_shows_progress_and_downloads_the_csv(pages: Pages, server: Server) -> None:
    page = pages.open(DESKTOP, "vennesla-saksbehandler")
    page.goto("/web/gebyr?aar=2025")
    assert page.get_by_text("Ingen gebyrer er lagret for dette året.").is_visible()
    page.get_by_role("button", name="Kjør gebyrberegningen 2025").click()
    page.locator("#gebyr-ferdig").wait_for()
    assert page.locator("progress").get_attribute("value") == page.locator("progress").get_attribute("max")
    assert page.locator("#gebyrlinjer tbody tr").count() == 26
    screenshot(page, "gebyr-kjoring-desktop")
    with page.expect_download() as download:
        page.locator("#last-ned-csv").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8")), delimiter=";"))
    assert rows[0][:3] == ["aar", "bevilling_id", "bevillingshaver"]
    assert len(rows) == 27 and all(r[0] == "2025" for r in rows[1:])


def test_rules_and_the_calendar_speak_the_kommunes_language(pages: Pages, server: Server) -> None:
    page = pages.open(PHONE)
    page.goto("/web/regler/stranda")
    assert page.locator("html").get_attribute("lang") == "nn"
    assert page.get_by_role("heading", name="Gjeldande reglar: Stranda").is_visible()
    page.goto("/web/regler/vennesla")
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.get_by_role("heading", name="Skjenketider").is_visible()
    assert page.locator(".card .source a").first.get_attribute("href")  # a source to follow
    page.goto(f"/web/regler/vennesla/kalender/{today().year}")
    special = page.locator("#spesielle-dager")
    assert special.get_by_text("Julaften").is_visible()
    assert special.locator("tr", has_text="17.5.").count() == 1


PAGES = [
    ("logg-inn", "/web/logg-inn", None),
    ("kontroll", "/web/kontroll", "vennesla-kontrollor"),
    ("kontroller", "/web/kontroller", "vennesla-kontrollor"),
    ("bevillinger", "/web/bevillinger", "vennesla-kontrollor"),
    ("bevilling", "/web/bevillinger/{puben}", "vennesla-saksbehandler"),
    ("bevilling-salg", "/web/bevillinger/{kiwi}", "vennesla-saksbehandler"),
    ("soknader", "/web/soknader", "vennesla-saksbehandler"),
    ("soknad", "/web/soknader/{soknad_open}", "vennesla-saksbehandler"),
    ("gebyr", "/web/gebyr?aar=2024", "vennesla-saksbehandler"),
    ("regler", "/web/regler", None),
    ("regler-vennesla", "/web/regler/vennesla", None),
    ("regler-stranda", "/web/regler/stranda", None),
    ("kalender", "/web/regler/vennesla/kalender/{year}", None),
    ("feil-404", "/web/bevillinger/999999", "vennesla-kontrollor"),
]


def test_every_page_at_phone_and_desktop_width(pages: Pages, server: Server) -> None:
    names = {**server.ids, "year": today().year}
    for viewport, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        by_user: dict[str | None, Any] = {}
        for name, path, user in PAGES:
            page = by_user.get(user) or by_user.setdefault(user, pages.open(viewport, user))
            response = page.goto(path.format(**names))
            assert response is not None
            assert response.status == (404 if name.startswith("feil") else 200), (name, response.status)
            # Nothing wider than the screen on a phone (tables scroll inside their box).
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (name, label, overflow)
            screenshot(page, f"{name}-{label}")


def test_forms_are_labelled_keyboard_usable_and_touch_sized(pages: Pages, server: Server) -> None:
    page = pages.open(PHONE, "vennesla-kontrollor")
    for path in ("/web/kontroll", f"/web/soknader/{server.ids['soknad_open']}", "/web/logg-inn"):
        if "soknader" in path:
            page = pages.open(PHONE, "vennesla-saksbehandler")
        page.goto(path)
        unlabelled = page.evaluate(
            """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.name || e.id)"""
        )
        assert unlabelled == [], (path, unlabelled)
        small = page.evaluate(
            """() => Array.from(document.querySelectorAll('main button, main .button, main label.choice, main input:not([type=hidden]):not([type=radio]):not([type=checkbox]), main select'))
                .filter(e => e.offsetParent !== null)
                .map(e => [e.name || e.id || e.textContent.trim().slice(0, 30), e.getBoundingClientRect().height])
                .filter(([, h]) => h < 44)"""
        )
        assert small == [], (path, small)
    page = pages.open(PHONE, "vennesla-kontrollor")
    page.goto("/web/kontroll")
    page.keyboard.press("Tab")  # the skip link comes first and is visible when focused
    assert page.evaluate("document.activeElement.textContent") == "Hopp til innholdet"
    assert page.locator(".skip").bounding_box()["y"] >= 0
    page.locator("#sok").focus()
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # visible focus
