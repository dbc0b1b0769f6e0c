# out.sh - sourced by bench/sweeps.sh and bench/threads.sh: their usage errors, where their CSV goes
# (--out FILE), and the machine's load when they start. Set PROG (the script's name, for messages)
# first, and OUT (an absolute path) before out_prepare.
#
# out_prepare checks OUT before the benchmark, not after it. A link is followed (the file it names is
# written, the link kept); a regular file (or a new one) is replaced whole by renaming a finished copy
# over it, after every round (out_round: a run stopped midway keeps the rounds it finished); anything
# else (/dev/null, a FIFO, /dev/stdout) is written to in place, once, at the end (out_final).

# a usage error: the message, a hint, exit 2
usage_error() { printf '%s: error: %s\nhint: %s\n' "$PROG" "$1" "$2" >&2; exit 2; }

out_cannot_write() { printf '%s: error: cannot write %s\nhint: give a writable path with --out\n' "$PROG" "$OUT" >&2; exit 1; }

out_prepare() {
  if [ -d "$OUT" ]; then
    printf '%s: error: --out: %s is a folder\nhint: give a file name inside it, e.g. --out %s/%s.csv\n' "$PROG" "$OUT" "$OUT" "$PROG" >&2
    exit 2
  fi
  out_atomic=1
  if { [ -e "$OUT" ] && [ ! -f "$OUT" ]; } || [[ $OUT == /dev/* || $OUT == /proc/* ]]; then
    out_atomic=0 # a device, a FIFO, /dev/stdout or /dev/stderr (whatever they lead to): written in place
  elif [ -L "$OUT" ]; then
    local real
    real=$(readlink -f -- "$OUT") || out_cannot_write # a link to a regular file, or to a new one
    OUT=$real
  fi
  if [ $out_atomic = 1 ]; then
    { mkdir -p "$(dirname "$OUT")" && rm -f "$OUT.tmp" && : > "$OUT.tmp" && rm -f "$OUT.tmp"; } 2> /dev/null || out_cannot_write
  else
    [ -w "$OUT" ] || out_cannot_write
  fi
}

# out_round TEXT: a regular file gets the rounds so far, whole (one write, whose failure is seen)
out_round() {
  [ $out_atomic = 1 ] || return 0
  rm -f "$OUT.tmp" # not through a link someone left there
  { printf '%s\n' "$1" 2> /dev/null > "$OUT.tmp" && mv -f "$OUT.tmp" "$OUT"; } || { rm -f "$OUT.tmp"; out_cannot_write; }
}

# out_final TEXT: a device or FIFO gets the result once, appended (/dev/stderr may be a log file, and
# no 2> here: /dev/stderr would follow it); a regular file already has it from the last out_round
out_final() {
  [ $out_atomic = 0 ] || return 0
  printf '%s\n' "$1" >> "$OUT" || out_cannot_write
}

# a '#' line: the load average when the benchmark started (other work on the machine slows every row)
load_line() { echo "# load average at the start (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null || echo unknown); CPUs: $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)"; }
