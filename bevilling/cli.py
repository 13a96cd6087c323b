"""The ``bevilling`` command. One of the two places allowed to reach outward: it starts
the service (uvicorn) and reads and writes files for the user."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bevilling.calendar import day_info, days_of_year
from bevilling.cases import CaseFileError, run_files
from bevilling.rules.book import NoRulesInForce, RuleBook, UnknownKommune
from bevilling.rules.check import check_path
from bevilling.rules.loader import RuleFileError

if TYPE_CHECKING:
    from bevilling.bench import BenchResult
    from bevilling.engine.evaluator import EngineEvaluator

app = typer.Typer(no_args_is_help=True, help="Rules-as-code for Norwegian alcohol licensing.")
rules_app = typer.Typer(no_args_is_help=True, help="Check, explain and show the rule files.")
cases_app = typer.Typer(no_args_is_help=True, help="Decision case files (case-format v1).")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (ratios measured side by side).")
app.add_typer(rules_app, name="rules")
app.add_typer(cases_app, name="cases")
app.add_typer(bench_app, name="bench")

# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 2


def default_rules() -> Path:
    configured = os.environ.get("BEVILLING_RULES_PATH")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "rules"


RulesOption = Annotated[Path | None, typer.Option("--rules", help="rule directory (default: bundled rules/)")]


def load_book(path: Path | None) -> RuleBook:
    try:
        return RuleBook.load(path or default_rules())
    except RuleFileError as error:
        for problem in error.problems:
            errors.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None


def _engine() -> EngineEvaluator:
    # Imported late so `rules check` never loads the engine's C extension.
    from bevilling.engine.evaluator import EngineEvaluator

    return EngineEvaluator()


@rules_app.command("check")
def rules_check(path: Annotated[Path | None, typer.Argument(help="a rule file or directory")] = None) -> None:
    """Load every rule file and report each problem as file:line: reason (exit 2 if any)."""
    target = path or default_rules()
    if not target.exists():
        errors.print(f"{target}: no such file or directory", markup=False)
        raise typer.Exit(EXIT_INVALID)
    problems = check_path(target)
    for problem in problems:
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    if problems:
        errors.print(f"{len(problems)} problem(s)", markup=False)
        raise typer.Exit(EXIT_INVALID)
    console.print(f"ok: {target}", markup=False)


def _effective(book: RuleBook, kommune: str, on: date):  # type: ignore[no-untyped-def]
    try:
        return book.effective(kommune, on)
    except (UnknownKommune, NoRulesInForce) as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(EXIT_INVALID) from None


@rules_app.command("explain")
def rules_explain(
    kommune: str,
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today)")] = None,
    rules: RulesOption = None,
) -> None:
    """The effective rules of a kommune after inheritance, with their sources."""
    book = load_book(rules)
    day = _parse_date(on) if on else date.today()
    effective = _effective(book, kommune, day)
    console.print(
        f"[bold]{effective.name}[/bold] ({effective.kommunenummer or effective.slug}), rules as of {day}, "
        f"version {effective.version}"
    )
    console.print("Files: " + " -> ".join(_shown(f.path) for f in effective.files), markup=False)
    table = Table(show_lines=False, expand=True)
    for column in ("rule", "says", "hjemmel", "source", "from"):
        table.add_column(column, overflow="fold")
    for placed in sorted(effective.rules, key=lambda p: (p.kind, p.id)):
        table.add_row(
            placed.id,
            _says(placed.rule),
            placed.rule.hjemmel,
            placed.citation(),
            f"{placed.origin.level.value} {_shown(placed.origin.file)}:{placed.origin.line}",
        )
    console.print(table)
    if effective.silent:
        console.print("[bold]Where the local text is silent (national law applies):[/bold]")
        for line in effective.silent:
            console.print(f"  - {line}", markup=False)


def _shown(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _says(rule: object) -> str:
    data = rule.model_dump(  # type: ignore[attr-defined]
        mode="json",
        by_alias=True,
        exclude_none=True,
        exclude={"id", "kind", "source", "hjemmel", "note", "title"},
    )
    when = data.pop("when", None)
    parts = [getattr(rule, "title", None) or ""]
    if when:
        parts.append("når " + ", ".join(f"{k}={v}" for k, v in when.items()))
    parts += [
        f"{k}={v}" for k, v in data.items() if k not in ("valid_from", "valid_to", "overrides") and v != []
    ]
    return "; ".join(p for p in parts if p)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.print(f"'{text}' is not a date YYYY-MM-DD", markup=False)
        raise typer.Exit(EXIT_INVALID) from None


@rules_app.command("calendar")
def rules_calendar(
    kommune: str,
    year: Annotated[int, typer.Option("--year", help="calendar year")],
    ics: Annotated[bool, typer.Option("--ics", help="write iCalendar instead of a table")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Sales and serving windows of every day of a year (inne, serveringssted)."""
    from bevilling.decisions import hours
    from bevilling.decisions.common import DecisionError
    from bevilling.rules.model import Area

    book = load_book(rules)
    evaluator = _engine()
    rows = []
    try:
        for info in days_of_year(year):
            day = info.date
            sales = hours.sales_window(book, evaluator, kommune, day)
            serving = [
                hours.serving_window(book, evaluator, kommune, day, group=g, area=a, venue="serveringssted")
                for a in (Area.INNE, Area.UTE)
                for g in (1, 3)
            ]
            rows.append((day, sales, serving))
    except (DecisionError, UnknownKommune, NoRulesInForce) as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    if ics:
        text = _ics(kommune, rows)
        if output:
            output.write_bytes(text)
        else:
            sys.stdout.buffer.write(text)
        return
    table = Table(title=f"{kommune} {year}: salg (butikk, gruppe 1) og skjenking (serveringssted)")
    for column in ("dato", "dag", "salg", "gr 1-2 inne", "gr 3 inne", "gr 1-2 ute", "gr 3 ute"):
        table.add_column(column)

    def show(answer: hours.WindowAnswer) -> str:
        return f"{answer.from_}–{answer.to}" if answer.from_ else "–"

    for day, sales, serving in rows:
        tags = sorted(t.value for t in day_info(day).tags if len(t.value) > 6 or t.value.isdigit())
        table.add_row(str(day), ", ".join(tags)[:60], show(sales), *(show(s) for s in serving))
    target = Console(file=output.open("w", encoding="utf-8"), width=200) if output else console
    target.print(table)


def _ics(kommune: str, rows: list) -> bytes:  # type: ignore[type-arg]
    from datetime import datetime

    from icalendar import Calendar, Event

    from bevilling.calendar import OSLO

    calendar = Calendar()
    calendar.add("prodid", "-//bevilling//salgs- og skjenketider//NO")
    calendar.add("version", "2.0")
    for day, sales, serving in rows:
        for answer, title in [
            (sales, "Salg gruppe 1"),
            *zip(
                serving,
                (
                    "Skjenking gr 1-2 inne",
                    "Skjenking gr 3 inne",
                    "Skjenking gr 1-2 ute",
                    "Skjenking gr 3 ute",
                ),
                strict=True,
            ),
        ]:
            if not answer.from_:
                continue
            start = datetime.combine(day, datetime.strptime(answer.from_, "%H:%M").time(), OSLO)
            end_clock = "00:00" if answer.to == "24:00" else answer.to
            end = datetime.combine(day, datetime.strptime(end_clock, "%H:%M").time(), OSLO)
            if end <= start:
                end = datetime.combine(day + timedelta(days=1), end.time(), OSLO)
            event = Event()
            event.add("uid", f"{kommune}-{day}-{title.replace(' ', '-')}@bevilling")
            event.add("summary", f"{title}: {answer.from_}–{answer.to}")
            event.add("dtstart", start)
            event.add("dtend", end)
            event.add("description", "; ".join(f"{r.rule_id} ({r.hjemmel})" for r in answer.reasons))
            calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


@cases_app.command("run")
def cases_run(
    files: Annotated[list[Path], typer.Argument(help="case files (YAML)")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per case")] = False,
    rules: RulesOption = None,
) -> None:
    """Evaluate decision cases through the engine; exit 0 all pass, 1 any fails, 2 invalid file."""
    book = load_book(rules)
    try:
        results = run_files(book, _engine(), files)
    except CaseFileError as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    failed = [r for r in results if not r.ok]
    if as_json:
        for result in results:
            sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False, default=str) + "\n")
    else:
        for result in failed:
            expected = {"error": result.case.expect_error} if result.case.expect_error else result.case.expect
            console.print(
                f"FAIL {result.case.file}:{result.case.line} {result.case.id}: expected {expected!r}, "
                f"got {result.got!r} — {'; '.join(result.why) or 'no rule applied'}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed",
        file=sys.stderr if as_json else sys.stdout,
    )
    if failed:
        raise typer.Exit(1)


@bench_app.command("engine")
def bench_engine(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    decisions: Annotated[int, typer.Option(help="decisions per timed run")] = 20_000,
    memory_decisions: Annotated[int, typer.Option(help="decisions for the memory figure")] = 1_000_000,
    kommune: str = "3451",
    rules: RulesOption = None,
) -> None:
    """Engine vs reference evaluator: decisions/s, p50/p99, 8 threads, memory, calendar."""
    from bevilling.bench import render_table, run_engine_bench

    result = run_engine_bench(
        load_book(rules), kommune=kommune, decisions=decisions, memory_decisions=memory_decisions
    )
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
    else:
        console.print(render_table(result))


PostgresOption = Annotated[
    str | None,
    typer.Option(
        "--pg",
        help="PostgreSQL URL to create scratch databases through "
        "(default: BEVILLING_BENCH_POSTGRES_URL or postgresql+psycopg://postgres@127.0.0.1:5432/postgres)",
    ),
]
KeepOption = Annotated[bool, typer.Option("--keep", help="keep the scratch database afterwards")]


def _progress(text: str) -> None:
    errors.print(f"[bench] {text}", markup=False, highlight=False)


def _show(results: dict[str, tuple[str, BenchResult]], as_json: bool) -> None:
    """Print each result as a table, or as JSON (one benchmark: its result; several: keyed by name)."""
    from benchmarks._support import table

    if as_json:
        payload = {name: result.as_dict() for name, (_, result) in results.items()}
        print(json.dumps(payload if len(payload) > 1 else next(iter(payload.values())), ensure_ascii=False))
        return
    for title, result in results.values():
        console.print(table(result, title))


def _api_result(
    workers: list[int], clients: list[int], duration: float, licences: int, pg: str | None, keep: bool
) -> tuple[str, BenchResult]:
    from benchmarks.api import run_api_bench

    result = run_api_bench(
        workers=workers,
        clients=clients,
        duration=duration,
        licences=licences,
        admin_url=pg,
        keep=keep,
        progress=_progress,
    )
    title = (
        f"API benchmark: uvicorn {' and '.join(map(str, workers))} worker(s) x "
        f"{' and '.join(map(str, clients))} clients, {duration:g} s per endpoint (PostgreSQL)"
    )
    return title, result


def _national_result(
    licences: int, kommuner: int, sample_every: int, rules: Path | None, pg: str | None, keep: bool
) -> tuple[str, BenchResult]:
    from benchmarks.national import run_national_bench

    result = run_national_bench(
        rules or default_rules(),
        licences=licences,
        kommuner=kommuner,
        sample_every=sample_every,
        admin_url=pg,
        keep=keep,
        progress=_progress,
    )
    return f"National benchmark: {licences:,} bevillinger, {kommuner} kommuner (PostgreSQL)", result


def _memory_result(rules: Path | None) -> tuple[str, BenchResult]:
    from benchmarks.memory import run_memory_bench

    return "Memory: a fresh worker with every ruleset compiled vs bare Python", run_memory_bench(rules=rules)


@bench_app.command("api")
def bench_api(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    workers: Annotated[list[int] | None, typer.Option("--workers", help="uvicorn workers (repeat)")] = None,
    clients: Annotated[
        list[int] | None, typer.Option("--clients", help="concurrent clients (repeat)")
    ] = None,
    duration: Annotated[float, typer.Option(help="seconds per endpoint and configuration")] = 5.0,
    licences: Annotated[int, typer.Option(help="bevillinger the controls are spread over")] = 50,
    pg: PostgresOption = None,
    keep: KeepOption = False,
) -> None:
    """uvicorn under load: /health vs a decision vs POST /kontroller, 1 and 2 workers, 16 and 64 clients."""
    result = _api_result(workers or [1, 2], clients or [16, 64], duration, licences, pg, keep)
    _show({"api": result}, as_json)


@bench_app.command("national")
def bench_national(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    licences: Annotated[int, typer.Option(help="bevillinger")] = 12_000,
    kommuner: Annotated[int, typer.Option(help="synthetic kommuner")] = 356,
    sample_every: Annotated[
        int, typer.Option(help="time the current re-assessment on every n-th kommune (1: all)")
    ] = 10,
    rules: RulesOption = None,
    pg: PostgresOption = None,
    keep: KeepOption = False,
) -> None:
    """National scale on PostgreSQL: the gebyr run vs an SQL aggregate, re-assessment, with proposals."""
    _show({"national": _national_result(licences, kommuner, sample_every, rules, pg, keep)}, as_json)


@bench_app.command("memory")
def bench_memory(as_json: Annotated[bool, typer.Option("--json")] = False, rules: RulesOption = None) -> None:
    """RSS of a fresh worker (app imported, rules loaded, every ruleset compiled) vs bare Python."""
    _show({"memory": _memory_result(rules)}, as_json)


@bench_app.command("all")
def bench_all(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    rules: RulesOption = None,
    pg: PostgresOption = None,
) -> None:
    """bench memory, bench national and bench api with their defaults, one after the other."""
    results = {"memory": _memory_result(rules)}
    results["national"] = _national_result(12_000, 356, 10, rules, pg, False)
    results["api"] = _api_result([1, 2], [16, 64], 5.0, 50, pg, False)
    _show(results, as_json)


def _database_url() -> str:
    from api.settings import get_settings

    return get_settings().database_url


@app.command("migrate")
def migrate() -> None:
    """Bring the database (BEVILLING_DATABASE_URL, default the SQLite file) to the newest schema."""
    from db.migrate import upgrade

    upgrade(_database_url())
    console.print("database is at the newest migration", markup=False)


@app.command("demo")
def demo(rules: RulesOption = None) -> None:
    """Load the demo data set (Vennesla and Nord-Aurdal) into an empty database and print the tokens."""
    from db.demo import load_demo
    from db.migrate import upgrade

    url = _database_url()
    upgrade(url)
    summary = load_demo(url, load_book(rules), _engine())
    console.print(summary.describe(), markup=False)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    with_demo: Annotated[
        bool, typer.Option("--demo", help="load the demo data set if the database is empty")
    ] = False,
) -> None:
    """Run the service: migrations first, on SQLite unless BEVILLING_DATABASE_URL says otherwise."""
    import uvicorn

    from db.migrate import upgrade

    url = _database_url()
    upgrade(url)
    if with_demo:
        from db.demo import load_demo

        console.print(load_demo(url, load_book(None), _engine()).describe(), markup=False)
    console.print(f"bevilling on http://{host}:{port}/docs (database: {url.split('@')[-1]})", markup=False)
    uvicorn.run("api.main:app", host=host, port=port, workers=workers)


gebyr_app = typer.Typer(no_args_is_help=True, help="Omsetningsgebyr.")
users_app = typer.Typer(no_args_is_help=True, help="Users and their tokens.")
app.add_typer(gebyr_app, name="gebyr")
app.add_typer(users_app, name="users")


@gebyr_app.command("run")
def gebyr_run(
    year: Annotated[int, typer.Option("--year")],
    kommune: Annotated[str, typer.Option("--kommune", help="kommunenummer or slug")],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="write the lines as CSV here")] = None,
    actor: Annotated[str, typer.Option(help="who runs it (audit log)")] = "cli",
    rules: RulesOption = None,
) -> None:
    """The yearly omsetningsgebyr run for one kommune; re-running a year replaces, never adds."""
    from rich.progress import Progress

    from bevilling.decisions.common import DecisionError
    from db.commands import run_gebyr, write_csv

    book = load_book(rules)
    try:
        slug = book.slug_of(kommune)
    except UnknownKommune as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    with Progress(console=errors) as progress:
        task = progress.add_task(f"omsetningsgebyr {year} {slug}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            summary = run_gebyr(_database_url(), book, slug, year, actor, progress=advance)
        except DecisionError as error:
            errors.print(str(error), markup=False)
            raise typer.Exit(EXIT_INVALID) from None
    table = Table(title=f"Omsetningsgebyr {year}, {slug} (satser: {summary.rates_status})")
    for column in ("bevilling", "sted", "bevilling", "grunnlag", "kroner"):
        table.add_column(column)
    for line in summary.lines:
        table.add_row(str(line.bevilling_id), line.place, line.licence, line.basis, str(line.amount))
    console.print(table)
    console.print(
        f"sum: {summary.total} kr; uten omsetningsoppgave: {len(summary.missing_oppgave)}", markup=False
    )
    for missing in summary.missing_oppgave:
        console.print(f"  mangler oppgave: {missing}", markup=False)
    if csv_out:
        write_csv(summary, csv_out)
        console.print(f"CSV: {csv_out}", markup=False)


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="saksbehandler, kontrollor or admin")],
    kommune: Annotated[list[str], typer.Option("--kommune", help="kommunenummer or slug (repeat)")],
) -> None:
    """Create a user and print its token once (only its hash is stored)."""
    from db.commands import add_user

    book = load_book(None)
    try:
        slugs = [book.slug_of(k) for k in kommune]
    except UnknownKommune as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    from bevilling.decisions.common import DecisionError

    try:
        token = add_user(_database_url(), username, role, slugs)
    except DecisionError as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    console.print(f"{username}: {token}", markup=False)


if __name__ == "__main__":
    app()
