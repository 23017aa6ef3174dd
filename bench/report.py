"""The table: figures side by side, each against its target."""

from __future__ import annotations

from typing import Any


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value}{unit}"


def _check(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "SHORT")


# Issue 21's targets: the ratio of each Follow-through run to the floor, and the history
# events of one bench sequence.
RATIO_TARGETS = {"throughput_ft": 1.00, "throughput_template": 0.95}
HISTORY_TARGET = 24


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, figure, target, verdict)."""
    out = _throughput_rows(r)
    lt = _get(r, "latency_ft")
    out += _latency_rows("reaction", _get(r, "latency_floor"), lt, _get(r, "dbos", "reaction"))
    out += _latency_rows("approve -> next", _get(r, "approval_floor"), _get(r, "approval_ft"))
    s = _get(r, "scale")
    if s and "worker_rss_mb" in s:
        out.append(
            (
                f"scale: {s['sleeping']:,} asleep, start rate",
                _fmt(s["starts_per_second"], "/s"),
                "",
                "",
            )
        )
        out.append(
            (
                f"  worker RSS (cache {s['max_cached_workflows']}; {s['worker_rss_mb_before']} "
                "MB before)",
                _fmt(s["worker_rss_mb"], " MB"),
                "< 300 MB",
                _check(s["worker_rss_mb"] < 300),
            )
        )
        out.append(
            (
                "  all reached their wait after",
                _fmt(s["asleep_after_seconds"], " s"),
                "",
                "" if s["all_asleep"] else "NOT ALL",
            )
        )
        sr = s["reaction"]
        ok = lt is not None and "p95_ms" in (lt or {}) and sr["p95_ms"] <= max(lt["p95_ms"], 100)
        out.append(
            (
                f"  reaction of a sleeper p50 / p95 / max (n={sr['samples']})",
                f"{sr['p50_ms']} / {sr['p95_ms']} / {sr['max_ms']} ms",
                "<= latency above",
                _check(ok),
            )
        )
    out += _first_contact_rows(_get(r, "first_contact"))
    b = _get(r, "bulk")
    if b and "ratio" in b:
        out.append(
            (
                f"bulk: {b['predictions']:,} predictions via {b.get('path', 'predict')}()",
                f"{_fmt(b['trigger_per_second'], '/s')} ({b['trigger_seconds']} s)",
                "",
                "",
            )
        )
        out.append(
            (
                f"  bare start_workflow loop (concurrency {b['concurrency']})",
                f"{_fmt(b['bare_per_second'], '/s')} ({b['bare_seconds']} s)",
                "",
                "",
            )
        )
        out.append(("  trigger / bare", _fmt(b["ratio"]), ">= 0.90", _check(b["ratio"] >= 0.9)))
    t = _get(r, "timeskip")
    if t and "total_seconds" in t:
        out.append(
            (
                f"time-skipping: {t['days']}-day sequence, wall",
                f"{t['total_seconds']} s (server {t['server_start_seconds']} s)",
                "",
                "",
            )
        )
    for key in (
        "throughput_floor",
        "throughput_ft",
        "throughput_template",
        "latency_floor",
        "latency_ft",
        "approval_floor",
        "approval_ft",
        "first_contact",
        "bulk",
        "scale",
        "timeskip",
        "dbos",
    ):
        err = _get(r, key, "error")
        if err:
            out.append((f"{key}: ERROR", err[:60], "", ""))
    return out


def _throughput_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Floor, code- and data-defined, DBOS; each run's history events and CPU."""
    out: list[tuple[str, str, str, str]] = []
    floor = _get(r, "throughput_floor", "per_second")
    floor_after = _get(r, "throughput_floor_after", "per_second")
    ft = _get(r, "throughput_ft", "per_second")
    dbos = _get(r, "dbos", "throughput", "per_second")
    if floor is not None:
        out.append(
            ("throughput: floor (bare workflow, no-op activities)", _fmt(floor, "/s"), "", "")
        )
    if floor is not None and floor_after is not None:
        out.append(
            ("  floor again, after the Follow-through runs", _fmt(floor_after, "/s"), "", "")
        )
        floor = (floor + floor_after) / 2
        out.append(("  floor: mean of the two (the ratios' base)", _fmt(floor, "/s"), "", ""))
    for key, label in (("throughput_ft", "code-defined"), ("throughput_template", "data-defined")):
        value = _get(r, key, "per_second")
        if value is None:
            continue
        ratio, target = (value / floor if floor else None), RATIO_TARGETS[key]
        out.append((f"throughput: Follow-through {label}", _fmt(value, "/s"), "", ""))
        ok = None if ratio is None else ratio >= target
        out.append((f"  ratio to floor ({label})", _fmt(ratio), f">= {target:.2f}", _check(ok)))
    if dbos is not None:
        out.append(("throughput: DBOS (SQLite, in-process)", _fmt(dbos, "/s"), "", ""))
        if ft:
            ratio = ft / dbos
            out.append(("  Follow-through / DBOS", _fmt(ratio), ">= 1.00", _check(ratio >= 1.0)))
    for key in (
        "throughput_floor",
        "throughput_ft",
        "throughput_template",
        "throughput_floor_after",
    ):
        events = _get(r, key, "history_events")
        if events is None:
            continue
        srv = _get(r, key, "server_cpu_ms_per_sequence")
        wrk = _get(r, key, "worker_cpu_ms_per_sequence")
        name = key.split("_", 1)[1]
        measured = key in RATIO_TARGETS
        out.append(
            (
                f"  {name}: history events per sequence",
                str(events),
                f"<= {HISTORY_TARGET}" if measured else "",
                _check(events <= HISTORY_TARGET) if measured else "",
            )
        )
        out.append(
            (
                f"  {name}: CPU per sequence, server / worker",
                f"{_fmt(srv)} / {_fmt(wrk)} ms",
                "",
                "",
            )
        )
    return out


def _first_contact_rows(c: Any) -> list[tuple[str, str, str, str]]:
    """The import-to-first-email batch; its target is set for 10,000 and 50,000."""
    if not c or "first_contact_seconds" not in c:
        return []
    n, seconds = c["predictions"], c["first_contact_seconds"]
    target = {10_000: 150.0, 50_000: 900.0}.get(n)
    ok = c["all_emailed"] and c["started"] == n and (target is None or seconds <= target)
    return [
        (
            f"first contact: {n:,} predictions imported, until every first email",
            f"{_fmt(seconds, ' s')} ({_fmt(c['emails_per_second'], '/s')})",
            "" if target is None else f"<= {target:,.0f} s",
            _check(ok) if target is not None or not ok else "",
        ),
        (
            "  import alone (the CSV read, checked, every sequence started)",
            f"{_fmt(c['import_seconds'], ' s')} ({_fmt(c['imports_per_second'], '/s')})",
            "",
            "",
        ),
        (
            f"  CPU per sequence: bench process / server (cache {c['max_cached_workflows']})",
            f"{_fmt(c['process_cpu_ms_per_sequence'])} ms"
            f" / {_fmt(c['server_cpu_ms_per_sequence'])} ms",
            "",
            "",
        ),
        (
            f"  bench process RSS ({c['worker_rss_mb_before']} MB before)",
            _fmt(c["worker_rss_mb"], " MB"),
            "",
            "",
        ),
        *_first_contact_floor_rows(c.get("floor")),
    ]


def _first_contact_floor_rows(f: Any) -> list[tuple[str, str, str, str]]:
    """Bare Temporal's own first contacts: the same worker, a start loop, a no-op email."""
    if not f:
        return []
    emailed = "" if f["all_emailed"] else " (not all emailed)"
    return [
        (
            f"  floor: {f['sequences']:,} bare workflows started, until every no-op email",
            f"{_fmt(f['first_contact_seconds'], ' s')}{emailed}",
            "",
            "",
        ),
        (
            "  floor CPU per sequence: bench process / server",
            f"{_fmt(f['process_cpu_ms_per_sequence'])} ms"
            f" / {_fmt(f['server_cpu_ms_per_sequence'])} ms",
            "",
            "",
        ),
    ]


def _latency_rows(what: str, lf: Any, lt: Any, ld: Any = None) -> list[tuple[str, str, str, str]]:
    """p50 / p95 / max of floor, Follow-through (and DBOS); Follow-through's p95 targets."""
    out: list[tuple[str, str, str, str]] = []
    for label, lat in (("floor", lf), ("Follow-through", lt), ("DBOS (poll 10 ms)", ld)):
        if lat and "p95_ms" in lat:
            out.append(
                (
                    f"{what} {label}: p50 / p95 / max (n={lat['samples']})",
                    f"{lat['p50_ms']} / {lat['p95_ms']} / {lat['max_ms']} ms",
                    "",
                    "",
                )
            )
    if lf and lt and "p95_ms" in lf and "p95_ms" in lt:
        ratio = lt["p95_ms"] / lf["p95_ms"]
        out.append(("  p95 Follow-through / floor", _fmt(ratio), "<= 1.20", _check(ratio <= 1.2)))
        out.append(
            (
                "  p95 Follow-through",
                _fmt(lt["p95_ms"], " ms"),
                "<= 100 ms",
                _check(lt["p95_ms"] <= 100),
            )
        )
    return out


def render(results: dict[str, Any]) -> str:
    table = rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(4)] if table else [0] * 4
    header = ("measure", "figure", "target", "")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    m = results.get("machine_before", {})
    lines.append("")
    lines.append(
        f"machine: {m.get('nproc')} cores, {m.get('memory_gib')} GiB, load {m.get('load_average')}"
    )
    lines.append(f"workflow runner: {results.get('args', {}).get('runner', 'passthrough')}")
    return "\n".join(lines)
