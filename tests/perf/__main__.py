"""`python -m tests.perf [name ...]`: run every benchmark module of this package and print a table.

A benchmark is a module named bench_*.py (never test_*.py, so pytest does not collect it) with a
`run()` that returns a list of rows: dicts with the keys
    figure  what was measured ("throughput")
    value   the measured value, formatted ("512 req/s")
    target  the target, formatted (">= 400 req/s"), or "" for a figure given for information
    passed  True / False against the target, or None for information only
and optionally "benchmark" (defaults to the module name without "bench_").

Benchmarks report, they do not gate: the exit code is 0 even when a figure misses its target, and
non-zero only when a benchmark crashes (raises) or none is found. Names given on the command line
(with or without the bench_ prefix) run only those benchmarks.
"""
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

PACKAGE = __package__ or "tests.perf"
HERE = Path(__file__).resolve().parent
HEADERS = ("benchmark", "figure", "measured", "target", "result")


def discover(selected: list[str]) -> list[str]:
    names = sorted(info.name for info in pkgutil.iter_modules([str(HERE)]) if info.name.startswith("bench_"))
    if selected:
        wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in selected}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; found: {', '.join(names)}")
        names = [name for name in names if name in wanted]
    return names


def verdict(passed) -> str:
    if passed is None:
        return "info"
    return "PASS" if passed else "MISS"


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [HEADERS, *rows]) for i in range(len(HEADERS))]
    line = "  ".join("-" * width for width in widths)
    print()
    print("  ".join(header.ljust(width) for header, width in zip(HEADERS, widths)))
    print(line)
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    print()


def main(argv: list[str]) -> int:
    names = discover(argv)
    if not names:
        print(f"no benchmark modules (bench_*.py) in {HERE}", file=sys.stderr)
        return 1
    table: list[tuple[str, ...]] = []
    crashed: list[str] = []
    for name in names:
        short = name.removeprefix("bench_")
        print(f"== {short} ==", flush=True)
        started = time.monotonic()
        try:
            module = importlib.import_module(f"{PACKAGE}.{name}")
            rows = module.run()
            if not isinstance(rows, list):
                raise TypeError(f"{name}.run() returned {type(rows).__name__}, not a list of rows")
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            sys.stdout.flush()
            traceback.print_exc()
            sys.stderr.flush()
            crashed.append(short)
            table.append((short, "(crashed)", f"{type(exc).__name__}: {exc}"[:70], "", "CRASH"))
            continue
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        for row in rows:
            table.append((row.get("benchmark", short), row["figure"], row["value"], row.get("target", ""),
                          verdict(row.get("passed"))))
    print_table(table)
    misses = sum(1 for row in table if row[4] == "MISS")
    print(f"{len(names)} benchmark(s), {misses} figure(s) missing the target, {len(crashed)} crashed"
          + (f" ({', '.join(crashed)})" if crashed else ""))
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
