#!/usr/bin/env bash
# threads.sh - how rnnlab scales past two cores: training steps of the standard workloads, OpenBLAS
# SGEMM, and sweeps of W3-sized decay runs side by side, on 1, 2, 4, ... threads (issue #6 sets its
# targets on 2 cores; this says what more cores give, and where each workload stops gaining).
#
# usage: bench/threads.sh [--threads "1 2 4 8 16"] [--reps R] [--runs "16 64 256 1024"] [--out FILE]
#        defaults: --threads 1, 2, 4, ... up to the CPUs this process may use (and that count),
#        --reps 3, --runs "16 64 256 1024", --out results/bench/threads.csv in the repository;
#        RNNLAB=path picks the binary (default: the repository's bin/rnnlab)
#
# Each round runs every row at every thread count, one after the other, so machine noise hits all of
# them; a figure is the best of its R rounds (noise only ever slows a run). Rows, float32:
#   steps  W1 rnn_tanh, lstm, gru (I=32 H=128 B=32 T=100), W1 lstm at B=256, W2 lstm (I=128 H=512
#          B=64 T=50): the median ms of one training step (rnnlab bench, a process per row)
#   sgemm  OpenBLAS SGEMM on a W2 step's products, their mix in ms per W2 step (rnnlab bench --sgemm)
#   sweep  a whole `rnnlab run --threads N` of bench/sweep_w3.ini widened to R runs (4 cells x R/4
#          seeds), wall-clock ms, the process's start and exit included
# Writes FILE after every round (a run stopped midway keeps the rounds done): '#' lines on the machine,
#   then kind,workload,cell,batch,runs,threads,ms,speedup,efficiency,gflops
# speedup = the row's 1-thread ms / this ms (empty without a 1-thread figure), efficiency =
# speedup / threads, gflops as rnnlab bench counts them (empty for sweeps).
set -euo pipefail
set -f
here=$PWD
PROG=threads
. "$(dirname "$0")/out.sh" # usage_error, out_prepare, out_round, out_final, load_line

RNNLAB=${RNNLAB:-}
REPS=3
RUNS="16 64 256 1024"
THREADS=""
threads_given=0
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps|--runs|--threads|--out) [ $# -ge 2 ] || usage_error "$1 needs a value" "bench/threads.sh --help lists the options" ;;
  esac
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; threads_given=1; shift 2 ;;
    --out) OUT=$2; [ -n "$OUT" ] || usage_error "--out: empty path" "give a file name, e.g. --out /tmp/threads.csv"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown option '$1'" "bench/threads.sh --help lists the options" ;;
  esac
done
whole() { case "$2" in ''|*[!0-9]*|0*|?????*) usage_error "$1: bad value '$2'" "$3" ;; esac; }
whole --reps "$REPS" "give a whole number of rounds from 1 to 9999, e.g. --reps 3"
ncpu=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
if [ $threads_given = 0 ]; then
  for ((t = 1; t < ncpu; t *= 2)); do THREADS="$THREADS $t"; done
  THREADS="$THREADS $ncpu"
fi
[ -n "${THREADS//[[:space:]]/}" ] || usage_error "--threads: no thread counts given" "e.g. --threads \"1 2 4\""
[ -n "${RUNS//[[:space:]]/}" ] || usage_error "--runs: no sweep lengths given" "e.g. --runs \"16 64\""
seen=" "
for t in $THREADS; do
  whole --threads "$t" "give thread counts from 1 to 9999, e.g. --threads \"1 2 4\""
  case "$seen" in *" t$t "*) usage_error "--threads: $t given twice" "give each thread count once" ;; esac
  seen="$seen t$t "
done
for n in $RUNS; do
  whole --runs "$n" "give multiples of 4 from 4 to 9996 (4 cells x N/4 seeds), e.g. --runs \"16 64\""
  [ $((n % 4)) -eq 0 ] || usage_error "--runs: bad value '$n'" "give multiples of 4 (4 cells x N/4 seeds)"
  case "$seen" in *" r$n "*) usage_error "--runs: $n given twice" "give each sweep length once" ;; esac
  seen="$seen r$n "
done
case "$OUT" in /* | "") ;; *) OUT=$here/$OUT ;; esac
case "$RNNLAB" in /* | "") ;; *) RNNLAB=$here/$RNNLAB ;; esac
cd "$(dirname "$0")/.."
[ -n "$OUT" ] || OUT=$PWD/results/bench/threads.csv
out_prepare
load=$(load_line)
[ -n "$RNNLAB" ] || RNNLAB=bin/rnnlab
[ -x "$RNNLAB" ] || { printf 'threads: error: %s is not built\nhint: run make\n' "$RNNLAB" >&2; exit 1; }
for t in $THREADS; do
  [ "$t" -le "$ncpu" ] || echo "threads: warning: $t threads on $ncpu CPUs: that row shares cores" >&2
done

# name|cell|input|hidden|batch|seq: the training-step rows
steps=("W1|rnn_tanh|32|128|32|100" "W1|lstm|32|128|32|100" "W1|gru|32|128|32|100"
  "W1_B256|lstm|32|128|256|100" "W2|lstm|128|512|64|50")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for n in $RUNS; do
  sed -e "s/^seed = .*/seed = 1..$((n / 4))/" bench/sweep_w3.ini > "$tmp/s$n.ini"
done
fail() { printf 'threads: error: %s failed: %s\n' "$RNNLAB" "$1" >&2; exit 1; }
# the value of column $2 in the data row of CSV file $1 (rnnlab bench's header names it)
col() { awk -F, -v c="\"$2\"" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } NR == 2 && k { print $k }' "$1"; }
declare -A best gf
keep() { # key ms [gflops]
  if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then
    best[$1]=$2 gf[$1]=${3:-}
  fi
}
# the CSV of the rounds done so far ($1 of them), into FILE where it is a regular file (bench/out.sh)
write_csv() {
  csv=$(
    echo "# rnnlab thread scaling: ms per training step (steps, sgemm) or per whole sweep (sweep), best of $1 of $REPS rounds"
    "$RNNLAB" bench --info | sed 's/^/# /'
    echo "$load"
    if command -v lscpu > /dev/null; then
      lscpu | grep -E '^(Model name|Socket|Core|Thread|NUMA node\(s\)|L2|L3)' | sed 's/  */ /g; s/^/# lscpu: /'
    fi
    echo "# git: $(git rev-parse --short HEAD 2> /dev/null || echo unknown)$(git diff --quiet HEAD -- src include bench 2> /dev/null || echo '+dirty'); date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "kind,workload,cell,batch,runs,threads,ms,speedup,efficiency,gflops"
    keys=()
    for row in "${steps[@]}"; do
      IFS='|' read -r w cell i h b s <<< "$row"
      keys+=("steps|$w|$cell|$b|")
    done
    keys+=("sgemm|W2|||")
    for n in $RUNS; do keys+=("sweep|W3|||$n"); done
    for k in "${keys[@]}"; do
      one=${best[$k|1]:-}
      for t in $THREADS; do
        awk -v k="$k" -v t="$t" -v ms="${best[$k|$t]}" -v one="$one" -v g="${gf[$k|$t]}" 'BEGIN {
          gsub(/\|/, ",", k); printf "%s,%d,%.3f", k, t, ms
          if (one != "") printf ",%.2f,%.2f", one / ms, one / ms / t; else printf ",,"
          printf ",%s\n", g == "" ? "" : sprintf("%.1f", g) }'
      done
    done
  )
  out_round "$csv"
}
for ((r = 1; r <= REPS; r++)); do
  echo "threads: round $r of $REPS" >&2
  for t in $THREADS; do
    for row in "${steps[@]}"; do
      IFS='|' read -r w cell i h b s <<< "$row"
      "$RNNLAB" bench --cell "$cell" --input "$i" --hidden "$h" --batch "$b" --seq "$s" --threads "$t" \
        --header > "$tmp/row" || fail "$w $cell on $t threads"
      keep "steps|$w|$cell|$b||$t" "$(col "$tmp/row" ms_median)" "$(col "$tmp/row" gflops)"
    done
    "$RNNLAB" bench --sgemm --threads "$t" --header > "$tmp/row" || fail "--sgemm on $t threads"
    mix=$(awk -F, '$2 == "\"step_mix\"" { print $9 "," $11 }' "$tmp/row")
    keep "sgemm|W2||||$t" "${mix%,*}" "${mix#*,}"
    for n in $RUNS; do
      rm -rf "$tmp/out"
      t0=${EPOCHREALTIME/[.,]/}
      "$RNNLAB" run "$tmp/s$n.ini" --out "$tmp/out" --threads "$t" --quiet --no-plot > /dev/null ||
        fail "a sweep of $n runs on $t threads"
      t1=${EPOCHREALTIME/[.,]/}
      keep "sweep|W3|||$n|$t" "$(awk -v u=$((t1 - t0)) 'BEGIN { printf "%.3f", u / 1e3 }')"
    done
  done
  write_csv "$r"
done

out_final "$csv"
printf '%s\n' "$csv" | grep -v '^#' | column -t -s, 2> /dev/null || printf '%s\n' "$csv" | grep -v '^#'
echo "threads: wrote $OUT" >&2
