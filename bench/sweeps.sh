#!/usr/bin/env bash
# sweeps.sh - how much a second core speeds up a sweep of W3-sized decay runs (issue #6: 16 such runs
# side by side at least 1.8x faster on 2 threads than on 1), and how that grows with the sweep's length.
#
# usage: bench/sweeps.sh [--reps R] [--runs "16 64 256"] [--out FILE]   (from any folder)
#        defaults: --reps 10, --runs "16 64 256", --out results/bench/sweeps.csv in the repository;
#        RNNLAB=path picks the binary (default: the repository's bin/rnnlab)
#
# For each sweep length N (bench/sweep_w3.ini with 4 cells x N/4 seeds) and precision, whole
# `rnnlab run --quiet --no-plot` processes on 1 and 2 threads are timed alternately, R rounds; a
# figure is the best of its R wall-clock times (noise only ever slows a run), so the process's fixed
# cost (loading the libraries, creating and flushing the output files) is in it, as a user sees it.
# In the same rounds the 1-thread sweep also runs pinned (taskset) to each of the first two CPUs
# this process may use, a and b: two cores of unequal speed cap what the second one can add.
# Writes FILE (default results/bench/sweeps.csv) after every round: '#' lines on the machine, then
# runs,precision,ms_1thread,ms_2threads,speedup,ms_1thread_cpu_a,ms_1thread_cpu_b,core_bound
# where core_bound = 1 + fast/slow of the two pinned times: the speedup two cores of those speeds
# would give a sweep with nothing serial (empty without two CPUs or taskset).
set -euo pipefail
set -f # no file-name expansion of option values (--runs '1?')
here=$PWD
PROG=sweeps
. "$(dirname "$0")/out.sh" # usage_error, out_prepare, out_round, out_final, load_line

RNNLAB=${RNNLAB:-}
REPS=10
RUNS="16 64 256"
OUT=""
out_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reps|--runs|--out) [ $# -ge 2 ] || usage_error "$1 needs a value" "bench/sweeps.sh --help lists the options" ;;
  esac
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; out_given=1; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown option '$1'" "bench/sweeps.sh --help lists the options" ;;
  esac
done
# whole numbers of at most 6 digits (bash arithmetic would wrap beyond 2^63)
case "$REPS" in ''|*[!0-9]*|0*|???????*) usage_error "--reps: bad value '$REPS'" "give a whole number of rounds from 1 to 999999, e.g. --reps 10" ;; esac
[ -n "${RUNS//[[:space:]]/}" ] || usage_error "--runs: no sweep lengths given" "e.g. --runs \"16 64 256\""
seen=" "
for n in $RUNS; do
  case "$n" in ''|*[!0-9]*|0*|???????*) usage_error "--runs: bad value '$n'" "give multiples of 4 from 4 to 999996 (4 cells x N/4 seeds), e.g. --runs \"16 64\"" ;; esac
  [ $((n % 4)) -eq 0 ] || usage_error "--runs: bad value '$n'" "give multiples of 4 from 4 to 999996 (4 cells x N/4 seeds), e.g. --runs \"16 64\""
  case "$seen" in *" $n "*) usage_error "--runs: $n given twice" "give each sweep length once" ;; esac
  seen="$seen$n "
done
# paths given are the caller's; the defaults and bench/sweep_w3.ini are the repository's
case "$OUT" in /* | "") ;; *) OUT=$here/$OUT ;; esac
case "$RNNLAB" in /* | "") ;; *) RNNLAB=$here/$RNNLAB ;; esac
cd "$(dirname "$0")/.."
[ $out_given = 0 ] || [ -n "$OUT" ] || usage_error "--out: empty path" "give a file name, e.g. --out /tmp/sweeps.csv"
[ -n "$OUT" ] || OUT=$PWD/results/bench/sweeps.csv
out_prepare
load=$(load_line)
[ -n "$RNNLAB" ] || RNNLAB=bin/rnnlab
[ -x "$RNNLAB" ] || { printf 'sweeps: error: %s is not built\nhint: run make\n' "$RNNLAB" >&2; exit 1; }

# the first two CPUs this process may run on (Cpus_allowed_list: "0-3,8"), for the pinned runs
cpus=()
allowed=""
if command -v taskset > /dev/null; then
  allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status 2> /dev/null) || allowed=""
  for part in ${allowed//,/ }; do
    lo=${part%-*} hi=${part#*-}
    for ((c = lo; c <= hi && ${#cpus[@]} < 2; c++)); do cpus+=("$c"); done
  done
fi
pins=()
# pinned runs only where this shell can pin itself to each CPU and back (a container may forbid it)
if [ ${#cpus[@]} -ge 2 ] &&
  (taskset -p -c "${cpus[0]}" $BASHPID && taskset -p -c "${cpus[1]}" $BASHPID) > /dev/null 2>&1; then
  pins=(a b) # tried in a subshell: whatever failed, this shell's CPUs are as they were
fi
ncpu=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) # nproc would report those
[ "$ncpu" -ge 2 ] || echo "sweeps: warning: this process may use $ncpu CPU: the 2-thread sweeps share it, so their times say nothing about a second core" >&2
cpu_of() { if [ "$1" = a ]; then echo "${cpus[0]}"; else echo "${cpus[1]}"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for n in $RUNS; do
  for p in float32 float64; do
    sed -e "s/^seed = .*/seed = 1..$((n / 4))/" -e "s/^precision = .*/precision = $p/" bench/sweep_w3.ini > "$tmp/s${n}_$p.ini"
  done
done

# the CSV of the rounds done so far ($1 of them), into csv
make_csv() {
  csv=$(
    echo "# rnnlab sweeps side by side (issue #6): wall-clock ms of a whole 'rnnlab run' of bench/sweep_w3.ini widened to N runs, best of $1 of $REPS alternating rounds"
    "$RNNLAB" bench --info | sed 's/^/# /'
    echo "$load"
    echo "# git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include bench/sweep_w3.ini 2>/dev/null || echo '+dirty'); date: $(date -u +%Y-%m-%dT%H:%MZ)"
    if [ ${#pins[@]} -gt 0 ]; then
      echo "# pinned 1-thread runs: cpu_a = CPU ${cpus[0]}, cpu_b = CPU ${cpus[1]} (taskset -c)"
    else
      echo "# pinned 1-thread runs: not measured (taskset missing or not permitted, or fewer than two CPUs allowed)"
    fi
    echo "runs,precision,ms_1thread,ms_2threads,speedup,ms_1thread_cpu_a,ms_1thread_cpu_b,core_bound"
    for n in $RUNS; do
      for p in float32 float64; do
        a=${best[$n,$p,1]} b=${best[$n,$p,2]} pa=${best[$n,$p,a]:-} pb=${best[$n,$p,b]:-}
        awk -v n="$n" -v p="$p" -v a="$a" -v b="$b" -v pa="$pa" -v pb="$pb" 'BEGIN {
          printf "%s,%s,%.1f,%.1f,%.2f", n, p, a / 1e3, b / 1e3, a / b
          if (pa == "" || pb == "") { print ",,,"; exit }
          fast = pa < pb ? pa : pb; slow = pa < pb ? pb : pa
          printf ",%.1f,%.1f,%.2f\n", pa / 1e3, pb / 1e3, 1 + fast / slow }'
      done
    done
  )
}

declare -A best
for ((r = 1; r <= REPS; r++)); do
  echo "sweeps: round $r of $REPS" >&2
  for n in $RUNS; do
    for p in float32 float64; do
      for t in 1 2 "${pins[@]}"; do
        # a pinned run inherits this shell's CPU (no taskset process inside the timed span)
        case $t in a | b) taskset -p -c "$(cpu_of $t)" $$ > /dev/null ;; esac
        rm -rf "$tmp/out"
        t0=${EPOCHREALTIME/[.,]/} # bash 5's clock, read in this shell: $(...) would fork inside the span
        rc=0
        "$RNNLAB" run "$tmp/s${n}_$p.ini" --out "$tmp/out" --threads "${t/[ab]/1}" --quiet --no-plot > /dev/null || rc=$?
        t1=${EPOCHREALTIME/[.,]/}
        us=$((t1 - t0))
        case $t in a | b) taskset -p -c "$allowed" $$ > /dev/null ;; esac
        if [ $rc != 0 ]; then
          case $t in 1) how="1 thread" ;; 2) how="2 threads" ;; *) how="1 thread on CPU $(cpu_of $t)" ;; esac
          printf 'sweeps: error: %s run failed (exit %d): %d runs, %s, %s\n' "$RNNLAB" "$rc" "$n" "$p" "$how" >&2
          exit 1
        fi
        k="$n,$p,$t"
        if [ -z "${best[$k]:-}" ] || [ "$us" -lt "${best[$k]}" ]; then best[$k]=$us; fi
      done
    done
  done
  make_csv "$r"
  out_round "$csv"
done

out_final "$csv"
printf '%s\n' "$csv" | grep -v '^#' | awk -F, '{ printf "%-6s %-10s %-12s %-12s %-8s %-17s %-17s %s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
echo "sweeps: wrote $OUT" >&2
