"""Figures of the technical report, generated from text in this file (nothing drawn by hand).

* Graphviz ``dot`` (Debian ``graphviz``): the architecture and the state machines.
* matplotlib: the sequence diagrams (``seqdiag.py``) and the plots of measured figures.

Every figure exists once per language (``NAME.en.svg``, ``NAME.es.svg``); the labels are the
only difference. Measured values come in through ``data`` (read from the result files by
``build.py``), never typed here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "tertulia-report"  # stable ids: same figure, same file
import matplotlib.pyplot as plt  # noqa: E402
from seqdiag import Diagram, render  # noqa: E402

__all__ = ["make_all"]

FONT = "Noto Sans"


def _t(lang: str, en: str, es: str) -> str:
    return es if lang == "es" else en


# --------------------------------------------------------------------------- Graphviz


def _dot(source: str, out: Path) -> None:
    subprocess.run(["dot", "-Tsvg", "-o", str(out)], input=source.encode(), check=True)


def architecture(lang: str) -> str:
    t = lambda en, es: _t(lang, en, es)  # noqa: E731
    return f"""
digraph arch {{
  graph [rankdir=TB, fontname="{FONT}", fontsize=11, nodesep=0.25, ranksep=0.32,
         bgcolor="transparent", pad=0.1, newrank=true];
  node  [shape=box, style="rounded,filled", fillcolor="#e7ecf7", color="#3b5bdb",
         fontname="{FONT}", fontsize=10, margin="0.12,0.05", height=0.3];
  edge  [color="#52606d", fontname="{FONT}", fontsize=8.5, arrowsize=0.7];

  subgraph cluster_client {{
    label=<<b>{t("Client side (one process per user or bot)", "Lado cliente (un proceso por usuario o bot)")}</b>>;
    style="rounded,dashed"; color="#9aa5b1"; fontsize=10;
    gui  [label=<GUI <font point-size="8">(PySide6, Qt thread)</font>>];
    cli  [label=<CLI <font point-size="8">(send / listen / admin / bench)</font>>];
    bots [label=<{t("bots", "bots")} <font point-size="8">(examples/)</font>>];
    client [label=<<b>tertulia.client</b><br/><font point-size="8">{t("reconnect · outbox (msg_id) · cursors · trust", "reconexión · outbox (msg_id) · cursores · confianza")}</font>>, fillcolor="#dbe4ff"];
    ctrans [label=<tertulia.transport<br/><font point-size="8">TLS 1.3 · TCP_NODELAY · keepalive</font>>];
    cproto [label=<<b>tertulia.proto</b> <font point-size="8">(sans-I/O)</font><br/><font point-size="8">{t("frames · typed messages · state", "tramas · mensajes tipados · estado")}</font>>, fillcolor="#d3f9d8", color="#2b8a3e"];
    {{rank=same; gui; cli; bots}}
    gui -> client; cli -> client; bots -> client;
    client -> ctrans; client -> cproto [style=dashed];
  }}

  net [shape=box, style="filled", fillcolor="#fff4d6", color="#e0b84c",
       label=<<b>{t("network", "red")}</b>: {t("TLS 1.3 over TCP, port 7443", "TLS 1.3 sobre TCP, puerto 7443")}<br/><font point-size="8">{t("4-byte length + UTF-8 JSON object per frame", "longitud de 4 bytes + objeto JSON UTF-8 por trama")}</font>>];

  subgraph cluster_server {{
    label=<<b>{t("Server node (one asyncio event loop)", "Nodo servidor (un bucle de eventos asyncio)")}</b>>;
    style="rounded,dashed"; color="#9aa5b1"; fontsize=10;
    listener [label=<listener<br/><font point-size="8">{t("accept · admit (limits) · TLS handshake", "accept · admisión (límites) · handshake TLS")}</font>>];
    session [label=<Session <font point-size="8">× N</font><br/><font point-size="8">{t("one per connection: reader, send buffer", "una por conexión: lector, búfer de envío")}</font>>];
    sproto [label=<<b>tertulia.proto</b>>, fillcolor="#d3f9d8", color="#2b8a3e"];
    commands [label=<commands · guard<br/><font point-size="8">{t("validation · rate limits · moderation", "validación · límites de tasa · moderación")}</font>>];
    hub [label=<<b>Hub</b><br/><font point-size="8">{t("online users · rooms · ordered fan-out", "usuarios en línea · salas · difusión ordenada")}</font>>, fillcolor="#dbe4ff"];
    storage [label=<Storage<br/><font point-size="8">{t("writer thread · group commit", "hilo escritor · group commit")}</font>>];
    bus [label=<Bus<br/><font point-size="8">{t("fan-out between nodes", "difusión entre nodos")}</font>>];
    ops [label=<{t("operator", "operador")}<br/><font point-size="8">admin.sock · /healthz · /metrics</font>>, fillcolor="#f1f3f5", color="#868e96"];
    listener -> session; session -> sproto [style=dashed]; session -> commands;
    commands -> hub; hub -> storage; hub -> bus; hub -> session [label=<<font point-size="8">{t("same bytes to each member", "mismos bytes a cada miembro")}</font>>, style=dashed, constraint=false];
    ops -> hub [style=dotted, arrowhead=none];
  }}

  sqlite [shape=cylinder, label=<SQLite <font point-size="8">(WAL, synchronous=FULL)</font><br/><font point-size="8">{t("default: one node", "por defecto: un nodo")}</font>>, fillcolor="#f8f9fa", color="#495057"];
  pg [shape=cylinder, label=<PostgreSQL<br/><font point-size="8">{t("cluster: shared store", "clúster: almacén compartido")}</font>>, fillcolor="#f8f9fa", color="#495057"];
  local [shape=box, label=<LocalBus<br/><font point-size="8">{t("in-process", "en proceso")}</font>>, fillcolor="#f8f9fa", color="#495057"];
  redis [shape=box, label=<Redis pub/sub<br/><font point-size="8">{t("cluster", "clúster")}</font>>, fillcolor="#f8f9fa", color="#495057"];
  storage -> sqlite; storage -> pg [style=dashed];
  bus -> local; bus -> redis [style=dashed];

  ctrans -> net [dir=both]; net -> listener [dir=both];
}}
"""


def _states(lang: str, name: str) -> str:
    t = lambda en, es: _t(lang, en, es)  # noqa: E731
    common = f"""
  graph [rankdir=LR, fontname="{FONT}", bgcolor="transparent", pad=0.1, nodesep=0.45, ranksep=0.55];
  node [shape=box, style="rounded,filled", fillcolor="#e7ecf7", color="#3b5bdb",
        fontname="{FONT}", fontsize=10, height=0.34];
  edge [color="#52606d", fontname="{FONT}", fontsize=8.5, arrowsize=0.7];
"""
    if name == "client_states":
        return f"""digraph s {{{common}
  graph [rankdir=TB, nodesep=2.2, ranksep=0.55];
  OFFLINE [fillcolor="#f1f3f5", color="#868e96"];
  {{rank=same; CONNECTED; RECONNECTING}}
  CONNECTED [fillcolor="#d3f9d8", color="#2b8a3e"];
  OFFLINE -> CONNECTING [label=" start()"];
  CONNECTING -> CONNECTED [label=<  {t("TLS verified, logged in,<br/>  rooms joined, sync done", "TLS verificado, sesión iniciada,<br/>  salas unidas, sync hecho")}>];
  CONNECTED -> RECONNECTING [label=<  {t("link lost, bye, or<br/>  silence &gt; 2·interval + 5 s", "enlace perdido, bye, o<br/>  silencio &gt; 2·intervalo + 5 s")}>];
  CONNECTING -> RECONNECTING [label=<{t("retryable failure", "fallo reintentable")}>];
  RECONNECTING -> CONNECTING [label=<{t("delay U[0, min(30, 0.5·2ⁿ)] s<br/>or retry_now()", "espera U[0, min(30, 0.5·2ⁿ)] s<br/>o retry_now()")}>];
  CONNECTING -> OFFLINE [label=<  {t("auth_failed, TrustError,<br/>  account_disabled …", "auth_failed, TrustError,<br/>  account_disabled …")}>, style=dashed];
}}"""
    if name == "outbox_states":
        return f"""digraph s {{{common}
  SENT [fillcolor="#d3f9d8", color="#2b8a3e", label=<SENT<br/><font point-size="8">{t("leaves the outbox", "sale del outbox")}</font>>];
  FAILED [fillcolor="#ffe3e3", color="#c92a2a"];
  PENDING -> SENDING [label=<{t("written to the wire", "escrito en la conexión")}>];
  SENDING -> SENT [label=<<font face="DejaVu Sans Mono">sent</font> {t("(after commit)", "(tras el commit)")}>];
  SENDING -> PENDING [label=<{t("connection lost · rate_limited", "conexión perdida · rate_limited")}>];
  SENDING -> FAILED [label=<{t("permanent refusal", "rechazo permanente")}>];
  FAILED -> PENDING [label="retry()", style=dashed];
}}"""
    if name == "server_states":
        return f"""digraph s {{{common}
  graph [rankdir=TB, nodesep=0.9, ranksep=0.42];
  closed [fillcolor="#f1f3f5", color="#868e96"];
  authenticated [fillcolor="#d3f9d8", color="#2b8a3e", label=<authenticated<br/><font point-size="8">max_frame = 64 KiB</font>>];
  connected [label=<connected<br/><font point-size="8">{t("TLS done", "TLS completado")}</font>>];
  greeted [label=<greeted<br/><font point-size="8">max_frame_pre_auth = 4 KiB</font>>];
  connected -> greeted [label=<  hello / hello_ok>];
  greeted -> authenticated [label=<  login | resume / login_ok>];
  greeted -> greeted [label=<register / ok>];
  authenticated -> closed [label=<  logout · bye · {t("fatal error · EOF", "error fatal · EOF")}>];
  connected -> closed [label=<{t("login deadline (20 s),<br/>fatal error, EOF", "plazo de login (20 s),<br/>error fatal, EOF")}>, style=dashed];
}}"""
    raise KeyError(name)


# --------------------------------------------------------------------------- sequences


def seq_session(lang: str) -> Diagram:
    t = lambda en, es: _t(lang, en, es)  # noqa: E731
    return Diagram(
        participants=[
            ("a", t("Client A", "Cliente A")),
            ("s", t("Server", "Servidor")),
            ("db", t("Storage", "Almacén")),
            ("b", t("Client B", "Cliente B")),
        ],
        steps=[
            (
                "divider",
                t(
                    "TCP three-way handshake, then TLS 1.3 (1-RTT)",
                    "Saludo TCP en tres pasos y después TLS 1.3 (1-RTT)",
                ),
            ),
            ("msg", "a", "s", "SYN / SYN-ACK / ACK"),
            ("msg", "a", "s", "ClientHello + key_share (X25519)"),
            (
                "msg",
                "s",
                "a",
                "ServerHello + key_share, {Certificate,\nCertificateVerify, Finished}",
                {"dashed": True},
            ),
            (
                "self",
                "a",
                t(
                    "verify certificate\n(CA, pin or TOFU)",
                    "verifica certificado\n(CA, pin o TOFU)",
                ),
            ),
            ("msg", "a", "s", "{Finished}"),
            (
                "divider",
                t(
                    "protocol v1: each frame = 4-byte length + JSON object",
                    "protocolo v1: cada trama = longitud de 4 bytes + objeto JSON",
                ),
            ),
            ("msg", "a", "s", "hello {id:1, versions:[1]}"),
            (
                "msg",
                "s",
                "a",
                "hello_ok {version:1, limits,\n heartbeat_interval}",
                {"dashed": True},
            ),
            ("msg", "a", "s", "login {id:2, user, password}"),
            (
                "self",
                "s",
                t("argon2id verify\n(thread pool)", "verificación argon2id\n(pool de hilos)"),
            ),
            ("msg", "s", "a", "login_ok {user, token}", {"dashed": True}),
            ("msg", "a", "s", "sync {cursors: {general: 41}}"),
            ("msg", "s", "a", "message {seq:42} …\nsynced {cursors}", {"dashed": True}),
            (
                "divider",
                t(
                    "a message: durable first, then acknowledged, then fanned out",
                    "un mensaje: primero durable, luego confirmado, luego difundido",
                ),
            ),
            ("msg", "a", "s", 'send {id:3, room, msg_id:"c1a7", text}'),
            (
                "msg",
                "s",
                "db",
                t("append\n(queued for the writer)", "append\n(a la cola del escritor)"),
            ),
            (
                "self",
                "db",
                t("group commit:\nBEGIN … COMMIT, fsync", "group commit:\nBEGIN … COMMIT, fsync"),
            ),
            ("msg", "db", "s", "seq = 43", {"dashed": True}),
            ("msg", "s", "a", "sent {id:3, seq:43, ts}", {"dashed": True}),
            ("msg", "s", "a", "message {room, seq:43, …}", {"dashed": True}),
            (
                "msg",
                "s",
                "b",
                "message {room, seq:43, …}\n(" + t("same bytes", "mismos bytes") + ")",
                {"dashed": True},
            ),
        ],
    )


def seq_reconnect(lang: str) -> Diagram:
    t = lambda en, es: _t(lang, en, es)  # noqa: E731
    return Diagram(
        participants=[
            ("app", t("Application", "Aplicación")),
            ("c", t("Client library", "Biblioteca cliente")),
            ("s", t("Server", "Servidor")),
            ("db", t("Storage", "Almacén")),
        ],
        steps=[
            ("msg", "app", "c", 'send("general", "hola")', {"mono": True}),
            (
                "self",
                "c",
                t(
                    "outbox: PENDING, msg_id k\n(journal + fsync)",
                    "outbox: PENDING, msg_id k\n(diario + fsync)",
                ),
            ),
            ("msg", "c", "s", "send {msg_id:k, text}"),
            ("msg", "s", "db", "append"),
            (
                "msg",
                "db",
                "s",
                t("committed as seq 43", "confirmado como seq 43"),
                {"dashed": True},
            ),
            ("msg", "s", "c", "sent {msg_id:k, seq:43}", {"lost": True}),
            (
                "divider",
                t(
                    "link lost: EOF/RST, or silence > 2·interval + 5 s (half-open)",
                    "enlace perdido: EOF/RST, o silencio > 2·intervalo + 5 s (semiabierto)",
                ),
            ),
            (
                "self",
                "c",
                t(
                    "CONNECTED → RECONNECTING\nk back to PENDING",
                    "CONNECTED → RECONNECTING\nk vuelve a PENDING",
                ),
            ),
            (
                "self",
                "s",
                t(
                    "release socket, buffers;\nhold session 30 s (grace)",
                    "libera socket y búferes;\nmantiene sesión 30 s (gracia)",
                ),
            ),
            (
                "self",
                "c",
                t(
                    "wait U[0, min(30, 0.5·2ⁿ)] s\n(full jitter)",
                    "espera U[0, min(30, 0.5·2ⁿ)] s\n(full jitter)",
                ),
            ),
            ("divider", t("reconnect", "reconexión")),
            (
                "msg",
                "c",
                "s",
                t(
                    "TCP + TLS 1.3, verify pin,\nhello, login",
                    "TCP + TLS 1.3, verifica pin,\nhello, login",
                ),
            ),
            ("msg", "s", "c", "login_ok", {"dashed": True}),
            ("msg", "c", "s", "sync {cursors: {general: 42}}"),
            (
                "msg",
                "db",
                "s",
                t("messages with seq > 42", "mensajes con seq > 42"),
                {"dashed": True},
            ),
            ("msg", "s", "c", "message {seq:43, msg_id:k}\nsynced {general: 43}", {"dashed": True}),
            (
                "msg",
                "c",
                "app",
                t("on_message(seq 43)\nexactly once", "on_message(seq 43)\nexactamente una vez"),
                {"dashed": True},
            ),
            (
                "msg",
                "c",
                "s",
                t("resend {msg_id:k} (same key)", "reenvía {msg_id:k} (misma clave)"),
            ),
            (
                "self",
                "db",
                t("(sender, k) exists:\nstore nothing", "(remitente, k) existe:\nno guarda nada"),
            ),
            ("msg", "s", "c", "sent {seq:43, duplicate:true}", {"dashed": True}),
            ("self", "c", t("k: SENT, leaves the outbox", "k: SENT, sale del outbox")),
        ],
    )


def seq_heartbeat(lang: str) -> Diagram:
    t = lambda en, es: _t(lang, en, es)  # noqa: E731
    return Diagram(
        participants=[("c", t("Client", "Cliente")), ("s", t("Server", "Servidor"))],
        width=6.2,
        steps=[
            (
                "divider",
                t(
                    "idle connection, default interval 15 s",
                    "conexión inactiva, intervalo por defecto 15 s",
                ),
            ),
            ("self", "s", t("nothing received for 15 s", "nada recibido en 15 s")),
            ("msg", "s", "c", "ping {nonce:8812}"),
            ("msg", "c", "s", "pong {nonce:8812}", {"dashed": True}),
            (
                "divider",
                t(
                    "the peer vanished without FIN or RST (half-open)",
                    "el otro extremo desapareció sin FIN ni RST (semiabierta)",
                ),
            ),
            ("msg", "s", "c", "ping {nonce:8813}", {"lost": True}),
            (
                "self",
                "s",
                t(
                    "no pong within 15 s:\nbye {timeout}, release (≤ 30 s)",
                    "sin pong en 15 s:\nbye {timeout}, liberar (≤ 30 s)",
                ),
            ),
            (
                "self",
                "c",
                t(
                    "silence > 2·15 + 5 = 35 s:\nabort, reconnect",
                    "silencio > 2·15 + 5 = 35 s:\nabortar, reconectar",
                ),
            ),
        ],
    )


# --------------------------------------------------------------------------- plots


def _style() -> None:
    plt.rcParams.update(
        {
            "font.family": [FONT, "DejaVu Sans"],
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.edgecolor": "#52606d",
            "axes.titlesize": 10,
            "svg.fonttype": "path",
        }
    )


def plot_tests(lang: str, counts: dict[str, int], out: Path) -> None:
    _style()
    items = sorted(counts.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(items) + 0.9))
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#3b5bdb")
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.set_xlabel(_t(lang, "tests collected", "pruebas recogidas"))
    ax.margins(x=0.12)
    fig.tight_layout()
    fig.savefig(out, metadata={"Date": None})
    plt.close(fig)


def plot_reliability(lang: str, rel: dict[str, Any], out: Path) -> None:
    _style()
    sr, rs = rel["stalled_receiver"], rel["reconnect_storm"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.0, 2.7), gridspec_kw={"width_ratios": [1, 1.25]})
    labels = ["p50", "p99"]
    rest = [sr["fast_p50_ms_at_rest"], sr["fast_p99_ms_at_rest"]]
    stall = [sr["fast_p50_ms_with_stalled"], sr["fast_p99_ms_with_stalled"]]
    xs = range(len(labels))
    b1 = a1.bar(
        [x - 0.19 for x in xs], rest, 0.38, color="#9aa5b1", label=_t(lang, "at rest", "en reposo")
    )
    b2 = a1.bar(
        [x + 0.19 for x in xs],
        stall,
        0.38,
        color="#3b5bdb",
        label=_t(lang, "one receiver stalled", "un receptor detenido"),
    )

    def num(v: float) -> str:
        return f"{v:g}".replace(".", ",") if lang == "es" else f"{v:g}"

    a1.bar_label(b1, labels=[num(v) for v in rest], fontsize=7.5, padding=2)
    a1.bar_label(b2, labels=[num(v) for v in stall], fontsize=7.5, padding=2)
    a1.set_xticks(list(xs), labels)
    a1.set_ylabel("ms")
    a1.set_title(_t(lang, "Latency of a healthy receiver", "Latencia de un receptor sano"))
    a1.legend(frameon=False, fontsize=7.5, loc="upper left")
    a1.set_ylim(0, max(stall + rest) * 1.45)
    pts = [
        (_t(lang, "first", "primero"), rs["first_back_s"], 0.0),
        ("p50", rs["p50_back_s"], 50.0),
        ("p90", rs["p90_back_s"], 90.0),
        ("100 %", rs["all_back_after_s"], 100.0),
    ]
    a2.step(
        [0.0] + [p[1] for p in pts],
        [0.0] + [p[2] for p in pts],
        where="post",
        color="#3b5bdb",
        lw=1.6,
    )
    a2.plot([p[1] for p in pts], [p[2] for p in pts], "o", color="#3b5bdb", ms=4)
    for name, x, y in pts:
        a2.annotate(
            f"{name}: {num(x)} s",
            (x, y),
            textcoords="offset points",
            xytext=(6, 4) if y == 0 else (6, -11),
            ha="left",
            fontsize=7.5,
        )
    a2.set_xlabel(
        _t(
            lang,
            "seconds after the new server process is up",
            "segundos desde que el nuevo proceso servidor arranca",
        )
    )
    a2.set_ylabel(_t(lang, "% of clients back", "% de clientes de vuelta"))
    a2.set_title(
        _t(
            lang,
            f"Reconnect storm, {rs['clients']} clients",
            f"Tormenta de reconexiones, {rs['clients']} clientes",
        )
    )
    a2.set_ylim(-3, 108)
    a2.set_xlim(0, float(rs["all_back_after_s"]) * 1.35)
    fig.tight_layout()
    fig.savefig(out, metadata={"Date": None})
    plt.close(fig)


# --------------------------------------------------------------------------- all


def make_all(out_dir: Path, data: dict[str, Any]) -> list[Path]:
    """Write every figure for both languages into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for lang in ("en", "es"):
        p = out_dir / f"architecture.{lang}.svg"
        _dot(architecture(lang), p)
        written.append(p)
        for name in ("client_states", "outbox_states", "server_states"):
            p = out_dir / f"{name}.{lang}.svg"
            _dot(_states(lang, name), p)
            written.append(p)
        for name, fn in (
            ("seq_session", seq_session),
            ("seq_reconnect", seq_reconnect),
            ("seq_heartbeat", seq_heartbeat),
        ):
            p = out_dir / f"{name}.{lang}.svg"
            render(fn(lang), p)
            written.append(p)
        p = out_dir / f"tests.{lang}.svg"
        plot_tests(lang, data["tests"]["by_folder"], p)
        written.append(p)
        if "reliability" in data:
            p = out_dir / f"reliability.{lang}.svg"
            plot_reliability(lang, data["reliability"], p)
            written.append(p)
    return written
