#!/usr/bin/env bash
# sweeps.sh - how much a second core speeds up a sweep of W3-sized decay runs (issue #6: 16 such runs
# side by side at least 1.8x faster on 2 threads than on 1), and how that grows with the sweep's length.
#
# usage: bench/sweeps.sh [--reps R] [--runs "16 64 256"] [--out FILE]
#
# For each sweep length N (bench/sweep_w3.ini with 4 cells x N/4 seeds) and precision, whole
# `rnnlab run --quiet --no-plot` processes on 1 and 2 threads are timed alternately, R rounds; a
# figure is the best of its R wall-clock times (noise only ever slows a run), so the process's fixed
# cost (loading the libraries, creating and flushing the output files) is in it, as a user sees it.
# Writes FILE (default results/bench/sweeps.csv): '#' lines describing the machine, then
# runs,precision,ms_1thread,ms_2threads,speedup.
set -euo pipefail

RNNLAB=${RNNLAB:-bin/rnnlab}
REPS=10
RUNS="16 64 256"
OUT=results/bench/sweeps.csv
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sweeps: error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$REPS" in ''|*[!0-9]*|0) echo "sweeps: error: --reps needs a positive integer, not '$REPS'" >&2; exit 2 ;; esac
for n in $RUNS; do
  case "$n" in ''|*[!0-9]*) echo "sweeps: error: --runs takes multiples of 4, not '$n'" >&2; exit 2 ;; esac
  [ $((n % 4)) -eq 0 ] && [ "$n" -gt 0 ] || { echo "sweeps: error: --runs takes multiples of 4, not '$n'" >&2; exit 2; }
done
[ -x "$RNNLAB" ] || { echo "sweeps: error: $RNNLAB is not built (make build)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for n in $RUNS; do
  for p in float32 float64; do
    sed -e "s/^seed = .*/seed = 1..$((n / 4))/" -e "s/^precision = .*/precision = $p/" bench/sweep_w3.ini > "$tmp/s${n}_$p.ini"
  done
done

declare -A best
now_ns() { date +%s%N; }
for ((r = 1; r <= REPS; r++)); do
  echo "sweeps: round $r of $REPS" >&2
  for n in $RUNS; do
    for p in float32 float64; do
      for t in 1 2; do
        rm -rf "$tmp/out"
        t0=$(now_ns)
        "$RNNLAB" run "$tmp/s${n}_$p.ini" --out "$tmp/out" --threads $t --quiet --no-plot > /dev/null
        ms=$(( ($(now_ns) - t0) / 1000 ))
        k="$n,$p,$t"
        if [ -z "${best[$k]:-}" ] || [ "$ms" -lt "${best[$k]}" ]; then best[$k]=$ms; fi
      done
    done
  done
done

mkdir -p "$(dirname "$OUT")"
{
  echo "# rnnlab sweeps side by side (issue #6): wall-clock ms of a whole 'rnnlab run' of bench/sweep_w3.ini widened to N runs, best of $REPS alternating rounds"
  "$RNNLAB" bench --info | sed 's/^/# /'
  echo "# git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo '+dirty'); date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "runs,precision,ms_1thread,ms_2threads,speedup"
  for n in $RUNS; do
    for p in float32 float64; do
      a=${best[$n,$p,1]} b=${best[$n,$p,2]}
      awk -v n="$n" -v p="$p" -v a="$a" -v b="$b" 'BEGIN { printf "%s,%s,%.1f,%.1f,%.2f\n", n, p, a / 1e3, b / 1e3, a / b }'
    done
  done
} > "$OUT"
grep -v '^#' "$OUT" | column -t -s,
echo "sweeps: wrote $OUT" >&2
