"""The pages over plain HTTP (no browser needed): sessions, CSRF, roles and kommuner,
and a control form sent twice that stores one control."""

from __future__ import annotations

import re

import httpx

from tests.web.conftest import Server


def signed_in(server: Server, user: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
    client.cookies.set("bevilling_sesjon", server.tokens[user], domain="127.0.0.1", path="/web")
    return client


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_pages_need_a_session_and_the_api_ignores_the_cookie(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as anonymous:
        response = anonymous.get("/web/kontroll?q=pub")
        assert response.status_code == 303
        assert response.headers["location"] == "/web/logg-inn?neste=%2Fweb%2Fkontroll%3Fq%3Dpub"
        assert anonymous.get("/web/regler/vennesla").status_code == 200  # the rules are public
    with signed_in(server, "vennesla-kontrollor") as client:
        assert client.get("/web/kontroll").status_code == 200
        assert client.get("/kontroller").status_code == 401  # the JSON API takes bearer tokens only
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        client.cookies.set("bevilling_sesjon", "forged", domain="127.0.0.1", path="/web")
        assert client.get("/web/kontroll").status_code == 303


def test_login_and_forms_refuse_a_missing_or_foreign_csrf_token(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        token = server.tokens["vennesla-kontrollor"]
        assert client.post("/web/logg-inn", data={"token": token}).status_code == 403
        login = client.get("/web/logg-inn")
        fields = form_fields(login.text)
        response = client.post("/web/logg-inn", data={**fields, "token": token})
        assert response.status_code == 303
        assert (
            "HttpOnly" in response.headers["set-cookie"]
            and "SameSite=strict" in response.headers["set-cookie"]
        )
    with signed_in(server, "vennesla-kontrollor") as client:
        form = form_fields(client.get("/web/kontroll").text)
        body = {**form, "bevilling_id": str(server.ids["torvet"]), "kontrollor1": "A", "kontrollor2": "B"}
        assert client.post("/web/kontroll", data={**body, "csrf": "wrong"}).status_code == 403
        foreign = client.post("/web/kontroll", data=body, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert client.post("/web/logg-ut", data={}).status_code == 403


def test_the_same_control_form_sent_twice_stores_one_control(server: Server) -> None:
    licence = server.ids["torvet"]
    before = len(server.controls_of(licence))
    with signed_in(server, "vennesla-kontrollor") as client:
        page = client.get(f"/web/kontroll?bevilling={licence}").text
        form = form_fields(page)
        at = re.search(r'id="at" name="at" value="([^"]+)"', page)
        assert at is not None
        body = {
            **form,
            "bevilling_id": str(licence),
            "at": at.group(1),
            "kind": "skjenking",
            "place": "",
            "kontrollor1": "Securitas v/ Ingrid Solberg",
            "kontrollor2": "Securitas v/ Tor Eikeland",
            "observations": "Alt i orden.",
        }
        first = client.post("/web/kontroll", data=body)
        second = client.post("/web/kontroll", data=body)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"].endswith("?ny=1")
        assert second.headers["location"] == first.headers["location"].replace("?ny=1", "?gjentatt=1")
        changed = client.post("/web/kontroll", data={**body, "observations": "Noe annet."})
        assert changed.status_code == 422 and "allerede sendt inn" in changed.text
        one_kontrollor = client.post(
            "/web/kontroll", data={**body, "kontrollor2": "", "idempotency_key": "another-key"}
        )
        assert one_kontrollor.status_code == 422
        assert "krever to ulike kontrollører" in one_kontrollor.text
    assert len(server.controls_of(licence)) == before + 1


def test_roles_and_kommuner_are_those_of_the_json_api(server: Server) -> None:
    with signed_in(server, "vennesla-kontrollor") as client:
        assert client.get("/web/soknader").status_code == 403  # a kontrollør has no søknader
        assert client.get("/web/gebyr").status_code == 403
    with signed_in(server, "nord-aurdal-kontrollor") as client:
        response = client.get(f"/web/bevillinger/{server.ids['puben']}")
        assert response.status_code == 404  # another kommune's licence: as if it did not exist
        assert "Puben" not in response.text
        assert client.get("/web/kontroll?kommune=vennesla").status_code == 403
        assert client.get(f"/web/kontroll?bevilling={server.ids['puben']}").status_code == 404


def test_a_vedtak_form_with_gaps_is_shown_again_with_its_errors(server: Server) -> None:
    soknad = server.ids["soknad_open"]
    with signed_in(server, "vennesla-saksbehandler") as client:
        page = client.get(f"/web/soknader/{soknad}")
        assert page.status_code == 200 and 'id="vedtaksskjema"' in page.text
        form = form_fields(page.text)
        no_styrer = client.post(f"/web/soknader/{soknad}/vedtak", data={**form, "decision": "accept"})
        assert no_styrer.status_code == 422
        assert 'href="#styrer">Styrer</a>: Må fylles ut.' in no_styrer.text
        no_reason = client.post(f"/web/soknader/{soknad}/vedtak", data={**form, "decision": "refuse"})
        assert no_reason.status_code == 422 and "forvaltningsloven § 24" in no_reason.text
        unheard = client.post(
            f"/web/soknader/{soknad}/vedtak",
            data={**form, "decision": "accept", "styrer": "A B", "stedfortreder": "C D"},
        )
        assert unheard.status_code == 422 and "alkoholloven § 1-7" in unheard.text
        assert client.get(f"/web/soknader/{soknad}").text.count("til behandling") >= 1  # still open
        assert client.get("/web/gebyr/jobb/not-a-job").status_code == 404
        assert client.get("/web/regler/vennesla/kalender/3000").status_code == 404
        assert client.get("/web/bevillinger?kommune=atlantis").status_code == 404
