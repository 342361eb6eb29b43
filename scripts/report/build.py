"""Build the technical report: figures, measured numbers, then Markdown -> HTML -> PDF.

Usage: ``make report`` (which installs the ``report`` extra into ``.venv`` and runs this with
``.venv/bin/python``). Steps:

1. Tools: ``pandoc`` and ``dot`` (Graphviz), the Noto and DejaVu fonts, and Pango for
   WeasyPrint come from Debian packages; any that is missing is installed with ``apt-get``.
2. Inputs (``inputs.py``): the test suite is *collected* (``pytest --collect-only -q``), the
   reliability figures are read from ``docs/reliability.md`` (``make reliability``) and the
   benchmark comparison from ``docs/benchmarks.md`` (``make bench``). A missing input stops the
   build with the file's name and the command that writes it.
3. Figures (``figures.py``): Graphviz and matplotlib, one SVG per figure and language, in
   ``docs/report/figures/``.
4. For each language, the Markdown source (``docs/report/report.en.md``,
   ``docs/report/informe.es.md``) has its placeholders replaced -- ``{{reliability.x.y}}`` for a
   measured value, ``{{table:NAME}}`` for a generated table, ``[@fig:ID]`` for a figure number
   -- and goes through pandoc (standalone HTML, numbered sections, table of contents) and
   WeasyPrint (PDF with page numbers and bookmarks).

``--draft`` renders even with missing inputs, marking each missing value in red; ``make
report`` never passes it.
"""

from __future__ import annotations

import argparse
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REPORT = ROOT / "docs" / "report"
FIGS = REPORT / "figures"
sys.path.insert(0, str(HERE))

import inputs  # noqa: E402

SOURCES = {"en": REPORT / "report.en.md", "es": REPORT / "informe.es.md"}
OUTPUTS = {"en": REPORT / "report.en.pdf", "es": REPORT / "informe.es.pdf"}

DEBS = {
    "pandoc": "pandoc",
    "dot": "graphviz",
}
FONT_DEBS = {"Noto Serif": "fonts-noto-core", "DejaVu Sans Mono": "fonts-dejavu-core"}
LIB_DEBS = {"pango-1.0": "libpango-1.0-0", "pangoft2-1.0": "libpangoft2-1.0-0"}


# --------------------------------------------------------------------------- tools


def _apt_install(pkgs: list[str]) -> None:
    print(f"report: installing Debian packages: {' '.join(pkgs)}", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *pkgs]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)


def ensure_tools() -> None:
    missing = [deb for exe, deb in DEBS.items() if shutil.which(exe) is None]
    fonts = ""
    if shutil.which("fc-list"):
        fonts = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    missing += [deb for fam, deb in FONT_DEBS.items() if fam not in fonts]
    missing += [deb for lib, deb in LIB_DEBS.items() if ctypes.util.find_library(lib) is None]
    if missing:
        _apt_install(sorted(set(missing)))


# --------------------------------------------------------------------------- inputs


def collect(draft: bool, inputs_root: Path = ROOT) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {}
    missing: list[str] = []
    t0 = time.monotonic()
    data["tests"] = inputs.test_counts(ROOT)
    print(f"report: {data['tests']['total']} tests collected ({time.monotonic() - t0:.1f} s)")
    for key, fn in (
        ("reliability", inputs.reliability),
        ("bench", inputs.benchmarks),
        ("cluster", inputs.cluster_bench),
    ):
        try:
            data[key] = fn(inputs_root)
        except inputs.MissingInput as exc:
            missing.append(str(exc))
            print(f"report: MISSING INPUT: {exc}", file=sys.stderr)
    if missing and not draft:
        raise SystemExit("report: cannot build, inputs are missing:\n  - " + "\n  - ".join(missing))
    data["build"] = {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "date": _git("log", "-1", "--format=%cd", "--date=short"),
    }
    return data, missing


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


# --------------------------------------------------------------------------- generated tables

FOLDERS = {
    "proto": (
        "framing, codec, sans-I/O state, backoff (property-based, Hypothesis)",
        "tramas, códec, estado sans-I/O, backoff (basadas en propiedades, Hypothesis)",
    ),
    "server": (
        "storage contract (SQLite, PostgreSQL), hub and bus, limits, names, config",
        "contrato de almacenamiento (SQLite, PostgreSQL), hub y bus, límites, nombres, configuración",
    ),
    "client": (
        "outbox states and journal, reconnect machine on a fake clock, trust",
        "estados y diario del outbox, máquina de reconexión con reloj falso, confianza",
    ),
    "transport": (
        "certificates, fingerprints, TLS contexts and versions",
        "certificados, huellas, contextos y versiones de TLS",
    ),
    "integration": (
        "real server over TLS on 127.0.0.1: chat, CLI, library, crash, third-party client",
        "servidor real con TLS en 127.0.0.1: chat, CLI, biblioteca, caída, cliente de terceros",
    ),
    "chaos": (
        "fault proxy, order checker, reliability scenarios 1-7",
        "proxy de fallos, verificador de orden, escenarios de fiabilidad 1-7",
    ),
    "security": (
        "every limit over real TLS, authorization matrix, moderation, resume tokens",
        "cada límite sobre TLS real, matriz de autorización, moderación, tokens de reanudación",
    ),
    "gui": (
        "PySide6 client offscreen (pytest-qt): chat, reconnect, trust, models, Spanish",
        "cliente PySide6 sin pantalla (pytest-qt): chat, reconexión, confianza, modelos, español",
    ),
    "bench": ("load generator", "generador de carga"),
    "cluster": (
        "nodes on real PostgreSQL and Redis behind HAProxy (skipped without them)",
        "nodos sobre PostgreSQL y Redis reales tras HAProxy (se omiten sin ellos)",
    ),
    "(top level)": (
        "layering rule: imports flow downward only",
        "regla de capas: las importaciones solo van hacia abajo",
    ),
}


def table_tests(lang: str, data: dict[str, Any]) -> str:
    t = data["tests"]
    head = (
        "| folder | tests | what it covers |"
        if lang == "en"
        else "| carpeta | pruebas | qué cubre |"
    )
    rows = [head, "|:--|--:|:--|"]
    for folder, n in sorted(t["by_folder"].items(), key=lambda kv: -kv[1]):
        desc = FOLDERS.get(folder, ("", ""))[0 if lang == "en" else 1]
        name = f"`tests/{folder}/`" if folder != "(top level)" else "`tests/*.py`"
        rows.append(f"| {name} | {n} | {desc} |")
    total = "**total**"  # the same word in English and Spanish
    rows.append(
        f"| {total} | **{t['total']}** | "
        + (f"{t['files']} files" if lang == "en" else f"{t['files']} ficheros")
        + " |"
    )
    return "\n".join(rows)


def table_reliability(lang: str, data: dict[str, Any]) -> str:
    r = data["reliability"]
    sr, rs, cd = r["stalled_receiver"], r["reconnect_storm"], r["connect_drop"]
    lo, ho, sk = r["link_resets"], r["half_open"], r["sigkill_restarts"]
    if lang == "en":
        rows = [
            "| # | scenario (test) | fault injected | measured |",
            "|:-:|:--|:--|:--|",
            f"| 1 | link resets (`test_link_resets_while_five_senders_push`) | {lo['resets']} TCP resets by the fault proxy while 5 senders push {lo['messages']} messages to {lo['receivers']} receivers | {lo['proxied_connections']} connections in all; 0 lost, duplicated or reordered |",
            f"| 2 | SIGKILL restarts (`test_server_sigkill_restarts_mid_stream`) | server killed {sk['kills']} times mid-stream | {sk['messages']} messages; 0 lost, duplicated or reordered |",
            "| 3 | same `msg_id` on two connections (`test_same_msg_id_on_two_connections_is_stored_once`) | concurrent resend | stored once |",
            f"| 4 | stalled receiver (`test_stalled_receiver_is_dropped_and_catches_up`) | one receiver stops reading, {sr['messages']} × {sr['message_bytes']}-character messages | dropped with `slow_consumer`, caught up; other receiver p99 {sr['fast_p99_ms_at_rest']} → {sr['fast_p99_ms_with_stalled']} ms |",
            f"| 5 | half-open link (`test_half_open_link_is_noticed_and_recovered`) | proxy silently drops traffic; heartbeat interval {ho['heartbeat_interval']} s | noticed after {ho['detected_after_s']} s, delivery resumed after {ho['delivered_after_s']} s |",
            f"| 6 | reconnect storm (`test_many_clients_reconnect_after_restart`) | {rs['clients']} clients, server down {rs['restart_gap_s']} s | all back {rs['all_back_after_s']} s after the restart (p50 {rs['p50_back_s']} s) |",
            f"| 7 | connect and drop (`test_connect_and_drop_returns_to_baseline`, `…leaks_no_python_memory`) | {cd['connections']} TLS connections opened and dropped | tasks {cd['tasks_baseline']} → {cd['tasks_after']}; traced Python memory {r['connect_drop_tracemalloc']['traced_kb_after_wave4']} KiB after 4 waves |",
        ]
    else:
        rows = [
            "| # | escenario (prueba) | fallo inyectado | medido |",
            "|:-:|:--|:--|:--|",
            f"| 1 | reinicios del enlace (`test_link_resets_while_five_senders_push`) | {lo['resets']} resets TCP del proxy de fallos mientras 5 emisores envían {lo['messages']} mensajes a {lo['receivers']} receptores | {lo['proxied_connections']} conexiones en total; 0 perdidos, duplicados o desordenados |",
            f"| 2 | reinicios con SIGKILL (`test_server_sigkill_restarts_mid_stream`) | servidor matado {sk['kills']} veces en pleno flujo | {sk['messages']} mensajes; 0 perdidos, duplicados o desordenados |",
            "| 3 | mismo `msg_id` en dos conexiones (`test_same_msg_id_on_two_connections_is_stored_once`) | reenvío concurrente | guardado una vez |",
            f"| 4 | receptor detenido (`test_stalled_receiver_is_dropped_and_catches_up`) | un receptor deja de leer, {sr['messages']} mensajes de {sr['message_bytes']} caracteres | desconectado con `slow_consumer` y puesto al día; p99 del otro receptor {sr['fast_p99_ms_at_rest']} → {sr['fast_p99_ms_with_stalled']} ms |",
            f"| 5 | enlace semiabierto (`test_half_open_link_is_noticed_and_recovered`) | el proxy descarta el tráfico en silencio; intervalo de latido {ho['heartbeat_interval']} s | detectado a los {ho['detected_after_s']} s, entrega reanudada a los {ho['delivered_after_s']} s |",
            f"| 6 | tormenta de reconexiones (`test_many_clients_reconnect_after_restart`) | {rs['clients']} clientes, servidor caído {rs['restart_gap_s']} s | todos de vuelta {rs['all_back_after_s']} s tras el reinicio (p50 {rs['p50_back_s']} s) |",
            f"| 7 | conectar y soltar (`test_connect_and_drop_returns_to_baseline`, `…leaks_no_python_memory`) | {cd['connections']} conexiones TLS abiertas y cortadas | tareas {cd['tasks_baseline']} → {cd['tasks_after']}; memoria Python trazada {r['connect_drop_tracemalloc']['traced_kb_after_wave4']} KiB tras 4 oleadas |",
        ]
    return "\n".join(rows) if lang == "en" else decimal_comma("\n".join(rows))


# Spanish for the generated text of docs/benchmarks.md (metric labels, verdicts).
BENCH_ES = [
    (
        "| target | measured (Tertulia vs peer, medians) | verdict |",
        "| objetivo | medido (Tertulia frente al par, medianas) | veredicto |",
    ),
    ("| metric |", "| métrica |"),
    ("**met**", "**cumplido**"),
    ("not met", "no cumplido"),
    ("not measured", "no medido"),
    ("Fan-out: server CPU per delivery", "Difusión: CPU del servidor por entrega"),
    ("Fan-out: deliveries/s", "Difusión: entregas/s"),
    ("Latency: p99 ≤ best peer's p99", "Latencia: p99 ≤ p99 del mejor par"),
    (
        "Latency: p50 ≤ 1.5 ms with durable acks",
        "Latencia: p50 ≤ 1.5 ms con confirmaciones durables",
    ),
    ("Connect storm (200 in flight)", "Tormenta de conexiones (200 en curso)"),
    (
        "Connect storm, all at once: none failing",
        "Tormenta de conexiones, todas a la vez: ninguna falla",
    ),
    ("’s time", ""),
    ("'s time", ""),
    (
        "Memory: ≤ 20 KB RSS per idle TLS connection, 10,000 clients on one process",
        "Memoria: ≤ 20 KB de RSS por conexión TLS inactiva, 10 000 clientes en un proceso",
    ),
    (
        "Correctness: zero lost, duplicated or reordered in every run",
        "Corrección: cero perdidos, duplicados o desordenados en cada ejecución",
    ),
    (" Tertulia runs with any error", " ejecuciones de Tertulia con algún error"),
    (" failed over ", " fallidas en "),
    (" runs", " ejecuciones"),
    (" held", " mantenidas"),
    (" of ", " de "),
    (" vs ", " frente a "),
    ("ack latency", "latencia del acuse"),
    ("deliveries/s", "entregas/s"),
    ("server CPU per delivery", "CPU del servidor por entrega"),
    ("server CPU per client", "CPU del servidor por cliente"),
    ("server CPU per message", "CPU del servidor por mensaje"),
    ("server CPU use (cores)", "uso de CPU del servidor (núcleos)"),
    ("generator CPU", "CPU del generador"),
    ("all reconnected and caught up", "todos reconectados y al día"),
    ("replayed messages/s", "mensajes reproducidos/s"),
    ("messages replayed", "mensajes reproducidos"),
    ("RSS per idle TLS connection", "RSS por conexión TLS inactiva"),
    ("RSS per connection", "RSS por conexión"),
    ("connections held", "conexiones mantenidas"),
    ("time to connect all", "tiempo para conectar todas"),
    ("total time", "tiempo total"),
    ("per client", "por cliente"),
    ("latency", "latencia"),
    ("| time (s) |", "| tiempo (s) |"),
    ("elapsed", "tiempo total"),
    ("failed", "fallidas"),
]

_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")


def decimal_comma(text: str) -> str:
    """Spanish decimal comma for plain numbers (``14.5`` -> ``14,5``), not versions (``3.11.7``)
    and not inside code spans."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = _DECIMAL.sub(r"\1,\2", parts[i])
    return "`".join(parts)


def _bench_es(text: str) -> str:
    for en, es in BENCH_ES:
        text = text.replace(en, es)
    return decimal_comma(text)


def table_bench_targets(lang: str, data: dict[str, Any]) -> str:
    t = data["bench"]["targets_table"]
    return _bench_es(t) if lang == "es" else t


SCENARIO_TITLES = {
    "fanout": ("Fan-out in one busy room", "Difusión en una sala concurrida"),
    "latency": (
        "Latency at a fixed rate, with idle clients",
        "Latencia a ritmo fijo, con clientes inactivos",
    ),
    "connect": ("Connect storm, 200 in flight", "Tormenta de conexiones, 200 en curso"),
    "connect-all": ("Connect storm, all at once", "Tormenta de conexiones, todas a la vez"),
    "memory": ("Memory per idle TLS connection", "Memoria por conexión TLS inactiva"),
    "reconnect": (
        "Reconnect and catch up after a server restart (Tertulia only)",
        "Reconexión y puesta al día tras reiniciar el servidor (solo Tertulia)",
    ),
    "history": ("History replay (Tertulia only)", "Reproducción del historial (solo Tertulia)"),
}


def table_bench_results(lang: str, data: dict[str, Any]) -> str:
    out = []
    for scenario, body in data["bench"]["scenarios"].items():
        table = "\n".join(ln for ln in body.splitlines() if ln.startswith("|"))
        correct = next((ln for ln in body.splitlines() if ln.startswith("Correctness")), "")
        if lang == "es":
            table = _bench_es(table)
            correct = correct.replace(
                "Correctness (all runs):", "Corrección (todas las ejecuciones):"
            )
            correct = correct.replace("lost", "perdidos").replace("duplicated", "duplicados")
            correct = correct.replace("reordered", "desordenados").replace("failed", "fallidos")
            correct = correct.replace("dropped", "descartados")
        title = SCENARIO_TITLES.get(scenario, (scenario, scenario))[0 if lang == "en" else 1]
        out += [f"**{title}** (`{scenario}`)", "", table, "", correct, ""]
    return "\n".join(out)


def table_bench_machine(lang: str, data: dict[str, Any]) -> str:
    t = data["bench"]["machine_table"]
    return (
        t.replace("| cores |", "| núcleos |").replace("| memory |", "| memoria |")
        if lang == "es"
        else t
    )


BENCH_PLOT_CAPTIONS = {
    "fanout_deliveries": (
        "Fan-out: deliveries per second (higher is better)",
        "Difusión: entregas por segundo (más es mejor)",
    ),
    "fanout_cpu": (
        "Fan-out: server CPU time per delivery (lower is better)",
        "Difusión: tiempo de CPU del servidor por entrega (menos es mejor)",
    ),
    "latency_p50": ("Latency under load, median", "Latencia bajo carga, mediana"),
    "latency_p99": ("Latency under load, 99th percentile", "Latencia bajo carga, percentil 99"),
    "connect": ("Connect storm, 200 in flight", "Tormenta de conexiones, 200 en curso"),
    "connect_all": ("Connect storm, all at once", "Tormenta de conexiones, todas a la vez"),
    "memory": ("Memory per idle TLS connection", "Memoria por conexión TLS inactiva"),
}


def table_bench_plots(lang: str, data: dict[str, Any]) -> str:
    out = []
    cmd = data["bench"]["command"]
    for p in data["bench"]["plots"]:
        cap = BENCH_PLOT_CAPTIONS.get(p.stem, (p.stem, p.stem))[0 if lang == "en" else 1]
        tail = (
            f" (median of {data['bench']['runs']} runs, min–max bars; `{cmd}`)"
            if lang == "en"
            else f" (mediana de {data['bench']['runs']} ejecuciones, barras mín–máx; `{cmd}`)"
        )
        rel = os.path.relpath(p, REPORT)
        out.append(f"![{cap}{tail}]({rel}){{#fig:bench-{p.stem} .half}}\n")
    return "\n".join(out)


def table_cluster(lang: str, data: dict[str, Any]) -> str:
    t = data["cluster"]["table"]
    if lang == "es":
        t = t.replace(
            "| configuration | deliveries/s | messages/s | p50 / p99 latency ms | CPU of all nodes s | lost | duplicated | reordered |",
            "| configuración | entregas/s | mensajes/s | latencia p50 / p99 ms | CPU de todos los nodos s | perdidos | duplicados | desordenados |",
        )
        t = decimal_comma(t)
    return t


TABLES = {
    "cluster": (table_cluster, "cluster"),
    "tests": (table_tests, "tests"),
    "reliability": (table_reliability, "reliability"),
    "bench_targets": (table_bench_targets, "bench"),
    "bench_results": (table_bench_results, "bench"),
    "bench_machine": (table_bench_machine, "bench"),
    "bench_plots": (table_bench_plots, "bench"),
}


# --------------------------------------------------------------------------- preprocessing

MISSING_MARK = '<span class="missing">[{}: {}]</span>'


MISSING_WORD = {"en": "missing", "es": "falta"}


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    cur: Any = data
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise KeyError(dotted)
    return cur


def _fmt(value: Any, lang: str) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
        return text.replace(".", ",") if lang == "es" else text
    if isinstance(value, int) and abs(value) >= 10000:
        text = f"{value:,}"
        return text.replace(",", "\u202f") if lang == "es" else text
    return str(value)


def preprocess(text: str, lang: str, data: dict[str, Any], draft: bool) -> str:
    # [@fig:ID] -> "Figure N" by order of the {#fig:ID} definitions (generated ones included)
    def table(m: re.Match[str]) -> str:
        name = m.group(1)
        fn, needs = TABLES[name]
        if needs not in data:
            if draft:
                return MISSING_MARK.format(MISSING_WORD[lang], f"table {name}")
            raise SystemExit(f"report: table {name} needs the {needs} input")
        return fn(lang, data)

    text = re.sub(r"\{\{table:(\w+)\}\}", table, text)

    def value(m: re.Match[str]) -> str:
        key = m.group(1)
        try:
            text = _fmt(_lookup(data, key), lang)
            if lang == "es" and key.endswith(".machine"):
                text = text.replace(" cores", " núcleos")
            return text
        except KeyError:
            if draft:
                return MISSING_MARK.format(MISSING_WORD[lang], key)
            raise SystemExit(f"report: no value for {{{{{key}}}}} in the inputs") from None

    text = re.sub(r"\{\{([a-z_]+(?:\.[A-Za-z0-9_]+)+)\}\}", value, text)
    ids = re.findall(r"\{#(fig:[\w-]+)", text)
    numbers = {fid: i + 1 for i, fid in enumerate(ids)}

    def ref(m: re.Match[str]) -> str:
        fid = m.group(1)
        if fid not in numbers:
            raise SystemExit(f"report: reference to unknown figure {fid}")
        return f"[{numbers[fid]}](#{fid})"

    text = re.sub(r"\[@(fig:[\w-]+)\]", ref, text)
    for img in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
        if not (REPORT / img).exists():
            what = "make screenshots" if "screenshots/" in img else "make report"
            if draft:
                print(f"report: MISSING {img} (`{what}`)", file=sys.stderr)
                continue
            raise SystemExit(
                f"report: {(REPORT / img).resolve().relative_to(ROOT)} does not exist; "
                f"produce it with `{what}`, then run `make report` again"
            )
    if "{{" in text:
        left = re.findall(r"\{\{[^}]*\}\}", text)
        raise SystemExit(f"report: unresolved placeholders: {left[:5]}")
    return text


# --------------------------------------------------------------------------- rendering


DRAFT_NOTE = {
    "en": "Draft: built without {}; the figures that depend on it are marked in red. "
    "Run make report again once it exists.",
    "es": "Borrador: generado sin {}; las cifras que dependen de ello están marcadas en rojo. "
    "Vuelva a ejecutar make report cuando exista.",
}


def render(lang: str, data: dict[str, Any], draft: bool, missing: list[str] | None = None) -> Path:
    src = SOURCES[lang]
    text = preprocess(src.read_text(), lang, data, draft)
    build = REPORT / ".build"
    build.mkdir(exist_ok=True)
    md = build / f"{src.stem}.md"
    md.write_text(text)
    out_html = REPORT / f".build/{src.stem}.html"
    subprocess.run(
        [
            "pandoc",
            str(md),
            "--from=markdown+pipe_tables+link_attributes+implicit_figures",
            "--to=html5",
            "--standalone",
            "--toc",
            "--toc-depth=2",
            "--number-sections",
            f"--template={HERE / 'template.html'}",
            f"--css={HERE / 'style.css'}",
            "--wrap=none",
            "--columns=10000",
            f"--metadata=lang:{lang}",
            *(
                [f"--metadata=draft-note:{DRAFT_NOTE[lang].format(', '.join(missing))}"]
                if missing
                else []
            ),
            "-o",
            str(out_html),
        ],
        check=True,
    )

    # pandoc writes a figure's id and classes on the <img>; move them to the <figure> so the
    # CSS can size the figure and links land on it
    def lift(m: re.Match[str]) -> str:
        attrs = m.group(1)
        moved = []
        for name in ("id", "class"):
            a = re.search(rf'\s{name}="([^"]*)"', attrs)
            if a:
                moved.append(f'{name}="{a.group(1)}"')
                attrs = attrs.replace(a.group(0), "")
        return f"<figure {' '.join(moved)}>\n<img{attrs}>"

    page = re.sub(r"<figure>\s*<img([^>]*)>", lift, out_html.read_text())
    out_html.write_text(page)
    import weasyprint

    pdf = OUTPUTS[lang]
    weasyprint.HTML(filename=str(out_html), base_url=str(REPORT)).write_pdf(
        str(pdf), uncompressed_pdf=False
    )
    return pdf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--draft", action="store_true", help="render with missing inputs marked")
    ap.add_argument("--lang", default="en,es", help="languages to build (default: en,es)")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install tools")
    ap.add_argument(
        "--inputs-root",
        type=Path,
        default=ROOT,
        help="read docs/reliability.md and docs/benchmarks.md under this directory "
        "instead of the repository (for trying the build on other results)",
    )
    args = ap.parse_args()
    t0 = time.monotonic()
    if not args.no_install:
        ensure_tools()
    data, missing = collect(args.draft, args.inputs_root)
    from figures import make_all

    figs = make_all(FIGS, data)
    print(f"report: {len(figs)} figures in {FIGS.relative_to(ROOT)}")
    for lang in args.lang.split(","):
        pdf = render(lang, data, args.draft, [m.split(" ")[0] for m in missing])
        size = pdf.stat().st_size / 1024
        print(f"report: wrote {pdf.relative_to(ROOT)} ({size:.0f} KiB)")
    print(f"report: done in {time.monotonic() - t0:.0f} s")
    if missing:
        print("report: DRAFT -- inputs missing:\n  - " + "\n  - ".join(missing), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
