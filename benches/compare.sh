#!/usr/bin/env bash
# Whole-process comparison of grantscope with ripgrep, jq (and angle-grinder when present) on
# a generated corpus: wall time and peak RSS from GNU time, printed as a markdown table with
# the performance targets. See benches/README.md.
#
#   bash benches/compare.sh            # 1 GiB JSON, 1 GiB access log, 300 MB HAR, 2 GiB JSON,
#                                      # 256 MiB dense IdP log (--noise 0)
#   bash benches/compare.sh --quick    # 64 MiB files (128 MiB for the growth check): smoke run
#
# Options: --dir DIR (corpus folder, default target/bench-corpus, reused when present),
# --runs N (median of N runs; default 3 quick, 1 full), --no-install (never apt-get/cargo
# install), --agrind / --no-agrind (try `cargo install ag` for angle-grinder; default: only in
# a full run), --seed N.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=0
DIR=""
RUNS=""
INSTALL=1
AGRIND=auto
SEED=1
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --dir) DIR=$2; shift ;;
        --runs) RUNS=$2; shift ;;
        --seed) SEED=$2; shift ;;
        --no-install) INSTALL=0 ;;
        --agrind) AGRIND=yes ;;
        --no-agrind) AGRIND=no ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
DIR=${DIR:-$ROOT/target/bench-corpus}
if [ "$QUICK" = 1 ]; then
    MODE=quick
    JSON_SIZE=64MiB; JSON2_SIZE=128MiB; ACCESS_SIZE=64MiB; HAR_SIZE=64MiB; DENSE_SIZE=32MiB
    RUNS=${RUNS:-3}
else
    MODE=full
    JSON_SIZE=1GiB; JSON2_SIZE=2GiB; ACCESS_SIZE=1GiB; HAR_SIZE=300MB; DENSE_SIZE=256MiB
    RUNS=${RUNS:-1}
fi
mkdir -p "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
log() { echo "compare.sh: $*" >&2; }

# ---- tools ----------------------------------------------------------------------------
need=()
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
command -v jq >/dev/null 2>&1 || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$INSTALL" = 1 ] && command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" = 0 ] || SUDO="sudo"
        log "installing ${need[*]} (apt-get)"
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"; } >"$TMP/apt.log" 2>&1 ||
            { log "apt-get install failed:"; tail -5 "$TMP/apt.log" >&2; }
    else
        log "missing tools: ${need[*]} (install them, or run without --no-install)"
    fi
fi
[ -x /usr/bin/time ] || { log "GNU time (/usr/bin/time) is required: apt-get install time"; exit 1; }
HAVE_RG=0; command -v rg >/dev/null 2>&1 && HAVE_RG=1
HAVE_JQ=0; command -v jq >/dev/null 2>&1 && HAVE_JQ=1
[ "$HAVE_JQ" = 1 ] || log "jq missing: jq rows and the diagnosis check are skipped"

AGRIND_BIN=$(command -v agrind 2>/dev/null || true)
[ -z "$AGRIND_BIN" ] && [ -x "$HOME/.cargo/bin/agrind" ] && AGRIND_BIN=$HOME/.cargo/bin/agrind
if [ -z "$AGRIND_BIN" ] && [ "$INSTALL" = 1 ] &&
    { [ "$AGRIND" = yes ] || { [ "$AGRIND" = auto ] && [ "$QUICK" = 0 ]; }; }; then
    log "installing angle-grinder (cargo install ag); this compiles for a few minutes"
    if cargo install --locked ag >"$TMP/agrind.log" 2>&1 || cargo install ag >"$TMP/agrind.log" 2>&1; then
        AGRIND_BIN=$(command -v agrind 2>/dev/null || echo "$HOME/.cargo/bin/agrind")
    else
        log "skipping angle-grinder: cargo install ag failed ($(tail -1 "$TMP/agrind.log"))"
    fi
fi
[ -n "$AGRIND_BIN" ] && [ ! -x "$AGRIND_BIN" ] && AGRIND_BIN=""
[ -z "$AGRIND_BIN" ] && log "angle-grinder (agrind) not available: its row is skipped (--agrind installs it)"

# ---- build and corpus -----------------------------------------------------------------
log "building grantscope and the corpus generator (release)"
cargo build --release --quiet --bin grantscope --example gen
GS=$TARGET/release/grantscope
GEN=$TARGET/release/examples/gen

JSON=app-$JSON_SIZE.jsonl
JSON2=app-$JSON2_SIZE.jsonl
ACCESS=access-$ACCESS_SIZE.log
HAR=session-$HAR_SIZE.har
# An IdP's own log: (nearly) every line OAuth, hundreds of logins a second.
DENSE=idp-dense-$DENSE_SIZE.jsonl
GEN_NOTES=()
gen() { # kind size file [noise]
    local kind=$1 size=$2 file=$3 noise=${4:-0.95}
    if [ -s "$DIR/$file" ] && [ -s "$DIR/.truth.$file.json" ]; then
        log "reusing $DIR/$file"
        return
    fi
    rm -f "$DIR/.truth.$file.json"
    "$GEN" --kind "$kind" --size "$size" --out "$DIR" --file "$file" --seed "$SEED" --noise "$noise" 2>"$TMP/gen.err" ||
        { cat "$TMP/gen.err" >&2; exit 1; }
    cut -c1-160 "$TMP/gen.err" >&2
    GEN_NOTES+=("$(sed -n 's/^gen: \([^ ]*\) (\([a-z]*\)): \([0-9.]* MB\) in \([0-9.]* s\) (\([0-9]* MB\/s\)).*/\2 \3 in \4 = \5/p' "$TMP/gen.err" | sed "s|$DIR/||")")
}
gen json "$JSON_SIZE" "$JSON"
gen access "$ACCESS_SIZE" "$ACCESS"
gen har "$HAR_SIZE" "$HAR"
gen json "$JSON2_SIZE" "$JSON2"
gen json "$DENSE_SIZE" "$DENSE" 0

size_of() { stat -c %s "$DIR/$1"; }
warm() { cat "$DIR/$1" >/dev/null; }

# Each input's pages are dropped from the page cache once and read back (`dd iflag=nocache
# count=0` asks the kernel to drop a whole file), so that every file is cached as reading
# leaves it, not as the generator's writes left it. On this VM that decides how fast a tool
# that maps the file runs: rg counted a 1 GiB file in 0.18 s while it held the pages its
# writer left, and in 0.035 s once they were read back (large folios map with far fewer
# faults); grantscope went 0.65 -> 0.53 s. Without the drop, a ratio to rg depended on how
# each file came into the cache.
for f in "$JSON" "$ACCESS" "$HAR" "$JSON2" "$DENSE"; do
    dd if="$DIR/$f" iflag=nocache count=0 status=none 2>/dev/null || true
    warm "$f"
done

# ---- measuring ------------------------------------------------------------------------
# measure OUT CMD... : runs CMD $RUNS times with stdout to OUT; sets WALL (median seconds)
# and RSS (max KiB).
measure() {
    local out=$1
    shift
    local walls=() rss=0 w m code t0 t1 a
    for _ in $(seq "$RUNS"); do
        # Warm the page cache right before each run: this machine pages out cold file pages
        # between runs (DAMON), which would otherwise time the disk instead of the tool.
        for a in "$@" ${WARM:-}; do
            if [ -f "$a" ]; then cat -- "$a" >/dev/null; fi
        done
        code=0
        t0=$(date +%s%N)
        /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$out" 2>"$TMP/err" || code=$?
        t1=$(date +%s%N)
        if [ "$code" -gt 1 ]; then
            log "exit $code from: $*"
            tail -3 "$TMP/err" >&2
        fi
        # GNU time gives the peak RSS; its wall clock has 10 ms steps, so time it here.
        read -r _ m < <(tail -1 "$TMP/time")
        w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        walls+=("$w")
        [ "$m" -gt "$rss" ] && rss=$m
    done
    WALL=$(median "${walls[@]}")
    RSS=$rss
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure_pair OUT_A OUT_B CMD_A... -- CMD_B... : runs the two commands in turn, A B A B...,
# $RUNS times each; sets WALL_A, RSS_A, WALL_B, RSS_B. For the figures that are ratios: this
# host's speed drifts over minutes (the same binary took 0.96-1.46 s within minutes), and
# two commands timed minutes apart (the 2 GiB run came last, after jq) measured the drift.
measure_pair() {
    local out_a=$1 out_b=$2 runs=$RUNS wa=() wb=() ra=0 rb=0 cmd_a=()
    shift 2
    while [ "$1" != -- ]; do cmd_a+=("$1"); shift; done
    shift
    RUNS=1
    for _ in $(seq "$runs"); do
        measure "$out_a" "${cmd_a[@]}"
        wa+=("$WALL"); [ "$RSS" -gt "$ra" ] && ra=$RSS
        measure "$out_b" "$@"
        wb+=("$WALL"); [ "$RSS" -gt "$rb" ] && rb=$RSS
    done
    RUNS=$runs
    WALL_A=$(median "${wa[@]}"); RSS_A=$ra
    WALL_B=$(median "${wb[@]}"); RSS_B=$rb
}

cell() { # seconds bytes rss_kib
    awk -v s="$1" -v b="$2" -v r="$3" 'BEGIN {
        mbs = (s > 0) ? b / 1e6 / s : 0
        rs = (r >= 1048576) ? sprintf("%.2f GiB", r / 1048576) : sprintf("%.0f MiB", r / 1024)
        printf "%.3g s, %.0f MB/s, %s RSS", s, mbs, rs }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
verdict() { # value op target
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "nan") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
        print ok ? "ok" : "MISSED" }'
}

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); }
# The first step of grantscope's question asked of rg: which lines hold one of the
# prefilter's words, in any case (grantscope then also parses and analyzes those lines).
rg_words_row() { # label words-file input grantscope-seconds grantscope-rss
    local words=$ROOT/benches/$2 n
    n=$(wc -l <"$words" | tr -d ' ')
    log "$1: rg -c -i -F -f benches/$2"
    measure "$TMP/out" rg -c -i -F -f "$words" "$DIR/$3"
    R=$(ratio "$WALL" "$4")
    row "$1: vs ripgrep finding the prefilter's words" "$(cell "$4" "$B" "$5")" \
        "\`rg -c -i -F -f benches/$2\` ($n words, any case): $(cell "$WALL" "$B" "$RSS")" \
        "$(awk -v r="$R" 'BEGIN{ if (r >= 1) printf "%.2fx faster", r; else if (r > 0) printf "%.2fx slower", 1 / r; else print "n/a" }')" "(reference)" "-"
}
RES=$DIR/results-$MODE
mkdir -p "$RES"
NPROC=$(nproc 2>/dev/null || echo '?')
# grantscope_on LABEL FILE OUT: times grantscope on FILE (output kept in $RES/OUT); sets B
# (the file's bytes), GS_WALL and GS_RSS.
grantscope_on() {
    warm "$2"
    B=$(size_of "$2")
    log "$1: grantscope"
    measure "$RES/$3" "$GS" analyze --format json "$DIR/$2"
    GS_WALL=$WALL; GS_RSS=$RSS
}
# jq_select_row LABEL FILE TARGET THRESHOLD: jq's select of invalid_grant on FILE against the
# grantscope run just timed.
jq_select_row() {
    log "$1: jq select"
    WARM="$DIR/$2" measure "$TMP/out" bash -c "jq -c 'select(.error==\"invalid_grant\")' '$DIR/$2' | wc -l"
    R=$(ratio "$WALL" "$GS_WALL")
    row "$1: vs jq" "$(cell "$GS_WALL" "$B" "$GS_RSS")" \
        "\`jq -c 'select(.error==\"invalid_grant\")' \\| wc -l\`: $(cell "$WALL" "$B" "$RSS")" \
        "$(awk -v r="$R" 'BEGIN{printf "%.1fx faster", r}')" "$3" \
        "$([ "$4" = - ] && echo - || verdict "$R" ">=" "$4")"
}

# grantscope_and LABEL FILE OUT CMD...: times grantscope on FILE (output kept in $RES/OUT) in
# turn with CMD; sets B, GS_WALL, GS_RSS, and WALL, RSS for CMD.
grantscope_and() {
    local label=$1 file=$2 out=$3
    shift 3
    warm "$file"
    B=$(size_of "$file")
    log "$label: grantscope and $1, in turn"
    measure_pair "$RES/$out" "$TMP/out" "$GS" analyze --format json "$DIR/$file" -- "$@"
    GS_WALL=$WALL_A; GS_RSS=$RSS_A; WALL=$WALL_B; RSS=$RSS_B
}

# JSON lines
if [ "$HAVE_RG" = 1 ]; then
    grantscope_and "JSON lines $JSON_SIZE" "$JSON" gs-json.json rg -c invalid_grant "$DIR/$JSON"
else
    grantscope_on "JSON lines $JSON_SIZE" "$JSON" gs-json.json
fi
GS_J=$GS_WALL; GS_J_RSS=$GS_RSS
if [ "$HAVE_RG" = 1 ]; then
    R=$(ratio "$WALL" "$GS_J")
    row "JSON lines $JSON_SIZE: throughput vs ripgrep" "$(cell "$GS_J" "$B" "$GS_J_RSS")" \
        "\`rg -c invalid_grant\`: $(cell "$WALL" "$B" "$RSS")" \
        "$(awk -v r="$R" 'BEGIN{printf "%.1f%% of rg", r*100}')" ">= 25% of rg" "$(verdict "$R" ">=" 0.25)"
    rg_words_row "JSON lines $JSON_SIZE" log-words.txt "$JSON" "$GS_J" "$GS_J_RSS"
fi
if [ "$HAVE_JQ" = 1 ]; then
    jq_select_row "JSON lines $JSON_SIZE" "$JSON" ">= 50x jq" 50
fi
if [ -n "$AGRIND_BIN" ]; then
    log "JSON lines: angle-grinder"
    measure "$TMP/out" "$AGRIND_BIN" '* | json | where error == "invalid_grant" | count by error_description' -f "$DIR/$JSON"
    R=$(ratio "$WALL" "$GS_J")
    row "JSON lines $JSON_SIZE: vs angle-grinder" "$(cell "$GS_J" "$B" "$GS_J_RSS")" \
        "\`agrind '* \\| json \\| where error == \"invalid_grant\" \\| count by error_description'\`: $(cell "$WALL" "$B" "$RSS")" \
        "$(awk -v r="$R" 'BEGIN{printf "%.1fx faster", r}')" "(reference)" "-"
fi

# threads
log "JSON lines: --threads 1 / --threads 2, in turn"
measure_pair "$TMP/out" "$TMP/out2" "$GS" analyze --format json --threads 1 "$DIR/$JSON" -- \
    "$GS" analyze --format json --threads 2 "$DIR/$JSON"
T1=$WALL_A; T1_RSS=$RSS_A; T2=$WALL_B; T2_RSS=$RSS_B
R=$(ratio "$T1" "$T2")
row "threads: 2 vs 1 (JSON $JSON_SIZE, $NPROC cores)" "2 threads: $(cell "$T2" "$B" "$T2_RSS")" \
    "1 thread: $(cell "$T1" "$B" "$T1_RSS")" "$(awk -v r="$R" 'BEGIN{printf "%.2fx speed-up", r}')" ">= 1.6x" "$(verdict "$R" ">=" 1.6)"

# access log
if [ "$HAVE_RG" = 1 ]; then
    grantscope_and "access log $ACCESS_SIZE" "$ACCESS" gs-access.json rg -c 'POST /token' "$DIR/$ACCESS"
else
    grantscope_on "access log $ACCESS_SIZE" "$ACCESS" gs-access.json
fi
GS_A=$GS_WALL; GS_A_RSS=$GS_RSS
if [ "$HAVE_RG" = 1 ]; then
    R=$(ratio "$WALL" "$GS_A")
    row "access log $ACCESS_SIZE: throughput vs ripgrep" "$(cell "$GS_A" "$B" "$GS_A_RSS")" \
        "\`rg -c 'POST /token'\`: $(cell "$WALL" "$B" "$RSS")" \
        "$(awk -v r="$R" 'BEGIN{printf "%.1f%% of rg", r*100}')" ">= 25% of rg" "$(verdict "$R" ">=" 0.25)"
    rg_words_row "access log $ACCESS_SIZE" access-words.txt "$ACCESS" "$GS_A" "$GS_A_RSS"
fi

# HAR
grantscope_on "HAR $HAR_SIZE" "$HAR" gs-har.json
GS_H=$GS_WALL; GS_H_RSS=$GS_RSS
if [ "$HAVE_JQ" = 1 ]; then
    log "HAR: jq '.log.entries | length'"
    measure "$TMP/out" jq '.log.entries | length' "$DIR/$HAR"
    R=$(ratio "$WALL" "$GS_H")
    row "HAR $HAR_SIZE: vs jq" "$(cell "$GS_H" "$B" "$GS_H_RSS")" \
        "\`jq '.log.entries \\| length'\`: $(cell "$WALL" "$B" "$RSS")" \
        "$(awk -v r="$R" 'BEGIN{printf "%.1fx faster", r}')" ">= 10x jq" "$(verdict "$R" ">=" 10)"
fi

# dense IdP log
grantscope_on "dense IdP JSON log $DENSE_SIZE (nearly all lines OAuth)" "$DENSE" gs-dense.json
if [ "$HAVE_JQ" = 1 ]; then
    jq_select_row "dense IdP JSON log $DENSE_SIZE (nearly all lines OAuth)" "$DENSE" "(reference)" -
fi

# growth and memory: the 1 GiB file timed again, in turn with the 2 GiB one
warm "$JSON"
warm "$JSON2"
B2=$(size_of "$JSON2")
log "JSON lines $JSON_SIZE and $JSON2_SIZE: grantscope, in turn"
measure_pair "$TMP/out" "$RES/gs-json2.json" "$GS" analyze --format json "$DIR/$JSON" -- \
    "$GS" analyze --format json "$DIR/$JSON2"
G1=$WALL_A; G1_RSS=$RSS_A; G2=$WALL_B; G2_RSS=$RSS_B
R=$(awk -v a="$G2" -v b="$G1" -v x="$B2" -v y="$(size_of "$JSON")" 'BEGIN { if (b > 0) printf "%.3f", (a / b) * (2 * y / x); else print "nan" }')
row "growth: JSON $JSON2_SIZE vs $JSON_SIZE" "$JSON2_SIZE: $(cell "$G2" "$B2" "$G2_RSS")" \
    "$JSON_SIZE: $(cell "$G1" "$(size_of "$JSON")" "$G1_RSS")" "$(awk -v r="$R" 'BEGIN{printf "%.2fx time for 2x data", r}')" "<= 2.1x" "$(verdict "$R" "<=" 2.1)"
MIB=$(awk -v r="$G2_RSS" 'BEGIN{printf "%.0f", r/1024}')
row "peak RSS: JSON $JSON2_SIZE" "$MIB MiB" "-" "-" "<= 256 MiB" "$(verdict "$MIB" "<=" 256)"

# ---- report ---------------------------------------------------------------------------
{
    echo
    echo "### grantscope vs other tools ($MODE run, $NPROC cores, median of $RUNS, $(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "Corpus: \`$DIR\` (seed $SEED). Times are whole processes, page cache warm."
    for n in "${GEN_NOTES[@]}"; do [ -n "$n" ] && echo "Generated: $n"; done
    echo
    echo "| measure | grantscope | other tool | ratio | target | |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    if [ "$HAVE_JQ" = 1 ]; then
        echo
        echo "### Diagnoses vs ground truth (sessions per root cause; grantscope: logins diagnosed per rule)"
        echo
        echo "| rule | $JSON truth | grantscope | $ACCESS truth | grantscope | $HAR truth | grantscope | $DENSE truth | grantscope |"
        echo "|---|---|---|---|---|---|---|---|---|"
        FILES=("$DIR/.truth.$JSON.json" "$RES/gs-json.json" "$DIR/.truth.$ACCESS.json" "$RES/gs-access.json"
            "$DIR/.truth.$HAR.json" "$RES/gs-har.json" "$DIR/.truth.$DENSE.json" "$RES/gs-dense.json")
        jq -rs '
          def t(i): .[i].labels; def g(i): ([.[i].diagnoses[] | {(.rule): ([.findings[].flow] | unique | length)}] | add // {});
          (t(0) + t(2) + t(4) + t(6) | keys) as $rules
          | ($rules + (g(1) + g(3) + g(5) + g(7) | keys) | unique)[] as $r
          | select($r != "none")
          | "| \($r) | \(t(0)[$r] // 0) | \(g(1)[$r] // 0) | \(t(2)[$r] // 0) | \(g(3)[$r] // 0) | \(t(4)[$r] // 0) | \(g(5)[$r] // 0) | \(t(6)[$r] // 0) | \(g(7)[$r] // 0) |"
        ' "${FILES[@]}" || true
        jq -rs '"| (clean sessions / unexplained failures) | \(.[0].labels.none // 0) | \(.[1].unexplained | length) | \(.[2].labels.none // 0) | \(.[3].unexplained | length) | \(.[4].labels.none // 0) | \(.[5].unexplained | length) | \(.[6].labels.none // 0) | \(.[7].unexplained | length) |"' \
            "${FILES[@]}" || true
    fi
} | tee "$RES/table.md"
log "table saved to $RES/table.md; grantscope outputs in $RES/"
