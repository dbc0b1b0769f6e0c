#!/usr/bin/env bash
# compare.sh - rnnlab against PyTorch and oneDNN on the standard grid of issue #6 (`make bench-compare`).
#
# usage: bench/compare.sh [--reps R] [--only W1,W3] [--steps S] [--out FILE] [--no-scaling]
#                         [--scaling-only] [--wait-quiet SECONDS]
#
# The grid comes from `rnnlab bench --grid standard --list` (one source of truth). For every row
# the contenders run alternately, R times, in a rotating order (rep 1: rnnlab, rnnlab with taps,
# torch, onednn; rep 2 starts one further; ...), so machine noise hits all of them alike. Each run
# reports the median step time of its S steps; a contender's figure for a row (ms_*) is the best of
# its R run medians, because noise on a shared machine only ever slows a run down (ms_min_*: the
# fastest single step seen). other_cpu is how many cores other processes kept busy, on average,
# while the row ran (from /proc/stat, minus this script's own children): rows with other_cpu well
# above 0 were measured on a loaded machine, and their 2-thread figures mean little. OpenBLAS on the
# row's own products (`rnnlab bench --sgemm`, `--dgemm` on the float64 rows, with the row's sizes)
# runs in the same rotation on every row: on W2 the ceiling of its target, and on all what
# the float64 target is up against (OpenBLAS's DGEMM time over its SGEMM time on the same products;
# on W2 also its own 2-thread gain).
#
# Contenders that are not installed are skipped with a message:
#   torch   needs Debian's python3-torch (bench/torch_bench.py, run by $PYTHON, default /usr/bin/python3)
#   onednn  needs Debian's libdnnl-dev (the Makefile builds $ONEDNN from bench/onednn_bench.c)
# Writes FILE (default results/bench/compare.csv: '#' lines describing the machine, then one CSV row
# per grid row), the raw runs next to it (compare_raw.csv), prints a table and the issue's targets,
# and (unless --no-scaling) runs `rnnlab bench --grid scaling` R times for the linear-in-T and
# truncation targets (every run in scaling.csv next to FILE; the summary takes the best of R).
#
# --wait-quiet S: before each run, wait up to S seconds for a second in which other processes keep
# less than a quarter of a core busy (for shared machines). RNNLAB_REV overrides the git revision
# recorded in FILE (for a build made outside a checkout). Without --out, FILE is the committed
# results/bench/compare.csv: a partial run (--only, --reps 1) replaces it; give --out for trials.
# R and S are whole numbers >= 1; a bad option exits 2 before anything runs.
set -euo pipefail

RNNLAB=${RNNLAB:-bin/rnnlab}
ONEDNN=${ONEDNN:-build/bench/onednn_bench}
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=3
ONLY=""
STEPS=""
OUT=results/bench/compare.csv
SCALING=1
QUIET=0
usage() { echo "compare: error: $1" >&2; echo "hint: bench/compare.sh --help" >&2; exit 2; }
value() { # option, the arguments left: the option's value, or a usage error
  [ "$2" -ge 2 ] || usage "$1 needs a value"
}
count() { # option, value, least: a whole number >= least (at most 6 digits), or a usage error
  [[ "$2" =~ ^[0-9]{1,6}$ ]] && [ $((10#$2)) -ge "$3" ] || usage "$1: expected a whole number >= $3 (at most 6 digits), got '$2'"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) value "$1" $#; count "$1" "$2" 1; REPS=$((10#$2)); shift 2 ;;
    --only) value "$1" $#; ONLY=$2; shift 2 ;;
    --steps) value "$1" $#; count "$1" "$2" 1; STEPS=$((10#$2)); shift 2 ;;
    --out) value "$1" $#; OUT=$2; shift 2 ;;
    --no-scaling) [ $SCALING = 2 ] && usage "--no-scaling and --scaling-only exclude each other"; SCALING=0; shift ;;
    --scaling-only) [ $SCALING = 0 ] && usage "--no-scaling and --scaling-only exclude each other"; SCALING=2; shift ;;
    --wait-quiet) value "$1" $#; count "$1" "$2" 0; QUIET=$((10#$2)); shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) usage "unknown option '$1'" ;;
  esac
done
[ -x "$RNNLAB" ] || { echo "compare: error: $RNNLAB not found" >&2; echo "hint: make build" >&2; exit 1; }
# the output is checked before anything runs: a run of many minutes must not end in a write error
[ -n "$OUT" ] || usage "--out: empty path"
[ -d "$OUT" ] && usage "--out: $OUT is a folder (give a file in it, e.g. $OUT/compare.csv)"
mkdir -p "$(dirname "$OUT")" || { echo "compare: error: --out: cannot create the folder of $OUT" >&2; exit 1; }
[ -w "$(dirname "$OUT")" ] || { echo "compare: error: --out: cannot write in $(dirname "$OUT")" >&2; exit 1; }
RAW="$(dirname "$OUT")/compare_raw.csv"

# ------------------------------------------------------------------ load from other processes
TORCH_PID=""
cpu_snapshot() { # prints: wall_ns busy_ticks own_ticks (own: this script's waited-for children + torch)
  local busy own t=0
  busy=$(awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat)
  own=$(awk '{sub(/^.*\) /, ""); print $14 + $15}' /proc/$$/stat) # utime.. after "(comm) ": cutime cstime
  if [ -n "${TORCH_PID:-}" ] && [ -r "/proc/${TORCH_PID:-}/stat" ]; then  # bash unsets TORCH_PID when the coproc ends
    t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' /proc/$TORCH_PID/stat)  # utime stime
  fi
  echo "$(date +%s%N) $busy $((own + t))"
}
TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)
other_cpu() { # snapshot-before snapshot-after -> cores used by other processes
  echo "$1 $2" | awk -v tick="$TICK" '{ w = ($4 - $1) * 1e-9 * tick; o = (($5 - $2) - ($6 - $3)) / (w > 0 ? w : 1); printf "%.2f", o < 0 ? 0 : o }'
}

quiet() { # up to $QUIET seconds, until one second passes with other processes below 0.25 cores
  local t=0 s0 oc
  while [ "$t" -lt "$QUIET" ]; do
    s0=$(cpu_snapshot); sleep 1; oc=$(other_cpu "$s0" "$(cpu_snapshot)")
    awk -v o="$oc" 'BEGIN { exit !(o < 0.25) }' && return 0
    t=$((t + 1))
  done
}

if [ $SCALING -ne 2 ]; then # the contenders on the standard grid

# ------------------------------------------------------------------ contenders
contenders=(rnnlab rnnlab_taps)
have_torch=0
if [ -x "$PYTHON" ] && "$PYTHON" -c 'import torch' 2>/dev/null; then
  have_torch=1
  contenders+=(torch)
  coproc TORCH { exec "$PYTHON" bench/torch_bench.py --serve; }
else
  echo "compare: skipping PyTorch: python3-torch is not installed (apt-get install python3-torch)"
fi
have_onednn=0
if [ -x "$ONEDNN" ]; then
  have_onednn=1
  contenders+=(onednn)
else
  echo "compare: skipping oneDNN: $ONEDNN is not built (needs libdnnl-dev: apt-get install libdnnl-dev)"
fi
contenders+=(gemm)

grid_args=(--grid standard --list)
[ -n "$ONLY" ] && grid_args+=(--only "$ONLY")
[ -n "$STEPS" ] && grid_args+=(--steps "$STEPS")
mapfile -t rows < <("$RNNLAB" bench "${grid_args[@]}" | grep -- '--taps off')
[ ${#rows[@]} -gt 0 ] || { echo "compare: error: no grid rows (--only '$ONLY'?)" >&2; exit 1; }

# ------------------------------------------------------------------ machine description
torch_version=none; dnnl_version=none
[ $have_torch = 1 ] && torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)
[ $have_onednn = 1 ] && dnnl_version=$(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo installed)
{
  echo "# rnnlab bench-compare (issue #6): ms per training step (forward over T, full BPTT, SGD): best of $REPS alternating runs' medians"
  "$RNNLAB" bench --info | sed 's/^/# /'
  echo "# torch: $torch_version; onednn: $dnnl_version; git: ${RNNLAB_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo '+dirty')}; date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
} | sed 's/,/;/g' > "$OUT.head"
cat "$OUT.head"

# ------------------------------------------------------------------ one run of one contender
# prints: ms_median,ms_min,ms_forward,ms_backward,gflops,peak_rss_mib,params_bytes,cache_bytes (or nothing)
fields() { # CSV row of `rnnlab bench` columns -> the fields above
  local line=${1//\"/}
  local IFS=,
  local -a f
  read -ra f <<< "$line"
  echo "${f[14]},${f[15]},${f[16]},${f[17]},${f[20]},${f[21]},${f[23]},${f[24]}"
}
run_one() { # contender, row args
  local c=$1 args=$2 line
  case "$c" in
    rnnlab) quiet; line=$("$RNNLAB" bench $args | tail -1) ;;
    rnnlab_taps)
      [[ "$args" == *"float32"* ]] || return 0
      quiet; line=$("$RNNLAB" bench ${args/--taps off/--taps on} | tail -1) ;;
    torch)
      if [ -z "${TORCH[1]:-}" ]; then echo "compare: torch: the server has exited" >&2; return 0; fi
      quiet; echo "$args --max-seconds 4" >&"${TORCH[1]}"
      IFS= read -r line <&"${TORCH[0]}" || { echo "compare: torch: no answer" >&2; return 0; }
      # let torch's OpenMP and OpenBLAS threads stop spinning before the next contender starts
      sleep 0.3
      [[ "$line" == error,* ]] && { echo "compare: torch: ${line#error,}" >&2; return 0; } ;;
    onednn)
      [[ "$args" == *"float32"* ]] || return 0 # oneDNN's RNN primitives have no float64
      quiet; line=$("$ONEDNN" $args 2>/dev/null | tail -1) || return 0 ;;
    gemm)
      local -a g=()
      local o kind=--sgemm out mix big
      for o in --threads --cell --input --hidden --batch --seq; do
        local v=${args#*$o }; g+=("$o" "${v%% *}")
      done
      [[ "$args" == *"float64"* ]] && kind=--dgemm
      quiet; out=$("$RNNLAB" bench $kind "${g[@]}")
      mix=$(grep '"step_mix"' <<< "$out"); big=$(grep '"dU"' <<< "$out")
      mix=${mix//\"/}; big=${big//\"/}
      IFS=, read -ra m <<< "$mix"; IFS=, read -ra g <<< "$big"
      echo "${m[8]},${g[8]},,,${m[10]},${g[10]},,"  # ms_mix, ms_dU, -, -, gflops_mix, gflops_dU (in the rss slot)
      return 0 ;;
  esac
  [ -n "$line" ] && fields "$line"
  return 0
}

# ------------------------------------------------------------------ the alternating runs
echo "contender,workload,cell,precision,threads,rep,ms_median,ms_min,ms_forward,ms_backward,gflops,peak_rss_mib,params_bytes,cache_bytes" > "$RAW"
n=${#contenders[@]}
echo "compare: ${#rows[@]} rows x $REPS reps, contenders: ${contenders[*]}"
for args in "${rows[@]}"; do
  wl=${args#*--workload }; wl=${wl%% *}
  cell=${args#*--cell }; cell=${cell%% *}
  prec=${args#*--precision }; prec=${prec%% *}
  thr=${args#*--threads }; thr=${thr%% *}
  printf 'compare: %s %s %s %s threads ' "$wl" "$cell" "$prec" "$thr"
  snap0=$(cpu_snapshot)
  for ((rep = 0; rep < REPS; rep++)); do
    for ((i = 0; i < n; i++)); do
      c=${contenders[$(((i + rep) % n))]}
      r=$(run_one "$c" "$args")
      [ -n "$r" ] && echo "$c,$wl,$cell,$prec,$thr,$rep,$r" >> "$RAW"
    done
    printf '.'
  done
  oc=$(other_cpu "$snap0" "$(cpu_snapshot)")
  echo "load,$wl,$cell,$prec,$thr,,,,,,$oc,,," >> "$RAW"
  echo " other processes: $oc cores"
done
if [ $have_torch = 1 ] && [ -n "${TORCH[1]:-}" ]; then eval "exec ${TORCH[1]}>&-"; wait "$TORCH_PID" 2>/dev/null || true; fi

# ------------------------------------------------------------------ aggregate, table, targets
awk -F, -v out="$OUT.body" '
function best(key,   n, i, b) {
  n = cnt[key]; if (n == 0) return ""
  b = val[key, 1]; for (i = 2; i <= n; i++) if (val[key, i] < b) b = val[key, i]
  return b
}
function bestmax(key,   n, i, b) { # the highest rate: the run with the best median
  n = cnt[key]; if (n == 0) return ""
  b = val[key, 1]; for (i = 2; i <= n; i++) if (val[key, i] > b) b = val[key, i]
  return b
}
function add(key, x) { if (x == "") return; cnt[key]++; val[key, cnt[key]] = x + 0 }
function mn(key, x) { if (x == "") return; if (!(key in lo) || x + 0 < lo[key]) lo[key] = x + 0 }
function f(x, d) { return x == "" ? "" : sprintf("%." d "f", x) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "" : a / b }
NR == 1 { next }
$1 == "load" { load[$2 "," $3 "," $4 "," $5] = $11; next }
{
  row = $2 "," $3 "," $4 "," $5
  if (!(row in seen)) { seen[row] = 1; order[++nrows] = row }
  k = $1 SUBSEP row
  add(k SUBSEP "ms", $7); mn(k, $8); add(k SUBSEP "fwd", $9); add(k SUBSEP "bwd", $10)
  add(k SUBSEP "gf", $11); add(k SUBSEP "rss", $12)
  if ($14 != "") cache[k] = $14; if ($13 != "") params[k] = $13
}
END {
  hdr = "workload,cell,precision,threads,ms_rnnlab,ms_rnnlab_taps,ms_torch,ms_onednn,speedup_vs_torch,speedup_vs_onednn,taps_overhead,ms_min_rnnlab,ms_min_torch,ms_min_onednn,ms_forward_rnnlab,ms_backward_rnnlab,gflops_rnnlab,gflops_torch,gflops_onednn,gemm_mix_gflops,gemm_large_gflops,rnnlab_frac_of_gemm_mix,peak_rss_mib_rnnlab,model_mib_rnnlab,other_cpu"
  print hdr > out
  printf "\n%-4s %-8s %-7s %3s %9s %9s %9s %9s %8s %8s %6s %8s %8s %6s\n", "wl", "cell", "prec", "thr", "rnnlab", "r+taps", "torch", "onednn", "x_torch", "x_onednn", "taps%", "GFLOP/s", "gemm", "other"
  for (i = 1; i <= nrows; i++) {
    row = order[i]; split(row, p, ",")
    r = best("rnnlab" SUBSEP row SUBSEP "ms"); rt = best("rnnlab_taps" SUBSEP row SUBSEP "ms")
    t = best("torch" SUBSEP row SUBSEP "ms"); o = best("onednn" SUBSEP row SUBSEP "ms")
    gr = bestmax("rnnlab" SUBSEP row SUBSEP "gf"); gt = bestmax("torch" SUBSEP row SUBSEP "gf"); go = bestmax("onednn" SUBSEP row SUBSEP "gf")
    # the gemm runs store the mix rate in the gflops column and the large (dU) product rate in the rss column
    sm = bestmax("gemm" SUBSEP row SUBSEP "gf"); sb = bestmax("gemm" SUBSEP row SUBSEP "rss")
    kr = "rnnlab" SUBSEP row
    mm = (kr in params) ? (2 * params[kr] + cache[kr]) / 1048576 : ""
    ms[row] = r; mst[row] = t; mso[row] = o; mstaps[row] = rt; gfl[row] = gr; sgm[row] = sm
    rss[row] = best(kr SUBSEP "rss"); model[row] = mm
    printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", p[1], p[2], p[3], p[4], \
      f(r, 4), f(rt, 4), f(t, 4), f(o, 4), f(ratio(t, r), 3), f(ratio(o, r), 3), \
      (rt == "" ? "" : f(rt / r - 1, 4)), f(lo[kr], 4), f(lo["torch" SUBSEP row], 4), f(lo["onednn" SUBSEP row], 4), \
      f(best(kr SUBSEP "fwd"), 4), f(best(kr SUBSEP "bwd"), 4), f(gr, 2), f(gt, 2), f(go, 2), f(sm, 2), f(sb, 2), \
      f(ratio(gr, sm), 3), f(rss[row], 1), f(mm, 1), load[row] > out
    printf "%-4s %-8s %-7s %3s %9s %9s %9s %9s %8s %8s %6s %8s %8s %6s\n", p[1], p[2], p[3], p[4], f(r, 2), f(rt, 2), \
      f(t, 2), f(o, 2), f(ratio(t, r), 2), f(ratio(o, r), 2), (rt == "" ? "" : f(100 * (rt / r - 1), 1)), f(gr, 1), f(sm, 1), load[row]
  }
  print "\ntargets (issue #6; ms are the best run medians of the alternating runs):"
  for (i = 1; i <= nrows; i++) {
    row = order[i]; split(row, p, ",")
    w = p[1]; c = p[2]; pr = p[3]; th = p[4]; r = ms[row]; t = mst[row]; o = mso[row]
    if (r == "") continue
    tag = w " " c " " pr " " th "t"
    if (load[row] + 0 > 0.25) printf "  %-28s measured while other processes kept %.2f cores busy: its figures mean little\n", tag, load[row]
    if (pr == "float32" && w == "W3") {
      if (t != "") printf "  %-28s >= 10x torch:          %6.2fx  %s\n", tag, t / r, (t / r >= 10 ? "met" : "NOT met")
      if (o != "") printf "  %-28s >= oneDNN rate:        %6.2fx  %s\n", tag, o / r, (o / r >= 1 ? "met" : "NOT met")
    }
    if (pr == "float32" && w == "W1" && th == 1) {
      if (t != "") printf "  %-28s >= 1.75x torch:        %6.2fx  %s\n", tag, t / r, (t / r >= 1.75 ? "met" : "NOT met")
      if (o != "") printf "  %-28s within 15%% of oneDNN:  %6.2fx  %s\n", tag, o / r, (r <= 1.15 * o ? "met" : "NOT met")
    }
    if (pr == "float32" && w == "W1" && th == 2 && t != "")
      printf "  %-28s >= 3x torch:           %6.2fx  %s\n", tag, t / r, (t / r >= 3 ? "met" : "NOT met")
    if (pr == "float32" && w == "W2" && sgm[row] != "")
      printf "  %-28s >= 85%% of SGEMM mix:   %5.1f%%  %s (%.1f of %.1f GFLOP/s)\n", tag, 100 * gfl[row] / sgm[row], (gfl[row] >= 0.85 * sgm[row] ? "met" : "NOT met"), gfl[row], sgm[row]
    if (pr == "float64" && w == "W2" && sgm[row] != "") # not a target: where float64 stands against its own ceiling
      printf "  %-28s share of DGEMM mix:     %5.1f%%  (%.1f of %.1f GFLOP/s)\n", tag, 100 * gfl[row] / sgm[row], gfl[row], sgm[row]
    if (pr == "float32" && mstaps[row] != "")
      printf "  %-28s taps on <= +5%%:        %+5.1f%%  %s\n", tag, 100 * (mstaps[row] / r - 1), (mstaps[row] <= 1.05 * r ? "met" : "NOT met")
    if (pr == "float64") {
      r32 = ms[w "," c ",float32," th]
      # where the GEMM mix of the row ran in both precisions: the DGEMM / SGEMM time of OpenBLAS on it;
      # W1 and W3 run each batch part on one thread, so their rows take the 1-thread products
      bt = w == "W2" ? th : 1; s32 = sgm[w "," c ",float32," bt]; s64 = sgm[w "," c ",float64," bt]
      blas = (s64 != "" && s32 != "") ? sprintf(" (OpenBLAS DGEMM/SGEMM on its products, %s: %.2fx)", bt > 1 ? bt " threads" : th > 1 ? "1 thread, as each batch part runs" : "1 thread", s32 / s64) : ""
      if (r32 != "") printf "  %-28s f64 >= half f32 rate:   %5.2fx  %s%s\n", tag, r / r32, (r <= 2 * r32 ? "met" : "NOT met"), blas
    }
    if ((w == "W1" || w == "W2") && th == 2) {
      r1 = ms[w "," c "," pr ",1"]; s1 = sgm[w "," c "," pr ",1"]
      blas = (w == "W2" && sgm[row] != "" && s1 != "") ? sprintf(" (OpenBLAS on its products: %.2fx)", sgm[row] / s1) : ""
      if (r1 != "") printf "  %-28s 2t >= 1.7x 1t:          %5.2fx  %s%s\n", tag, r1 / r, (r1 / r >= 1.7 ? "met" : "NOT met"), blas
    }
    if (w == "W2" && th == 1 && model[row] != "")
      printf "  %-28s peak RSS <= 1.25x model: %5.2fx  %s (%.1f MiB, params+grads+cache %.1f MiB)\n", tag, rss[row] / model[row], (rss[row] <= 1.25 * model[row] ? "met" : "NOT met"), rss[row], model[row]
  }
}' "$RAW"
cat "$OUT.head" "$OUT.body" > "$OUT"
rm -f "$OUT.head" "$OUT.body"
echo
echo "compare: wrote $OUT (raw runs: $RAW)"
fi

# ------------------------------------------------------------------ linear in T, truncation memory
if [ $SCALING -ge 1 ]; then
  SC="$(dirname "$OUT")/scaling.csv"
  mapfile -t srows < <("$RNNLAB" bench --grid scaling --list)
  echo "compare: rnnlab scaling grid (W3 sizes, 1 thread, float32), best of $REPS runs -> $SC"
  rm -f "$SC"
  for ((rep = 0; rep < REPS; rep++)); do
    for args in "${srows[@]}"; do quiet; "$RNNLAB" bench $args --out "$SC" > /dev/null; done
  done
  awk -F, 'NR > 1 {
      gsub(/"/, ""); key = $3 " T=" $8 (($12 + 0) > 0 ? " k=" $12 : "")
      if (!(key in ms)) { order[++n] = key; cell[key] = $3; T[key] = $8; k[key] = $12 + 0 }
      if (!(key in ms) || $15 < ms[key]) ms[key] = $15
      rss[key] = $22; cache[key] = $25
    }
    END {
      for (i = 1; i <= n; i++) {
        key = order[i]; per = ms[key] / T[key]
        if (k[key] == 0 && T[key] == 100) base[cell[key]] = per
        printf "  %-22s %9.3f ms/step %8.4f ms per time step  peak RSS %7.1f MiB  cache %8.1f MiB\n", key, ms[key], per, rss[key], cache[key] / 1048576
        if (k[key] == 0 && T[key] > 100 && base[cell[key]] > 0)
          lin[cell[key]] = lin[cell[key]] sprintf(" T=%d: %.2fx", T[key], per / base[cell[key]])
      }
      print "  cost per time step relative to T=100 (target: within 10%):"
      for (c in lin) print "   ", c ":" lin[c]
    }' "$SC"
fi
