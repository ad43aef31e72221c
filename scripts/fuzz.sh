#!/usr/bin/env bash
# Fuzzes one target for a given time: scripts/fuzz.sh TARGET SECONDS
#
#   TARGET   decode_body | recording_reader   (fuzz/fuzz_targets/)
#   SECONDS  wall-clock budget of the fuzzing itself (the first build comes on top)
#
# Installs what it needs (the nightly toolchain, cargo-fuzz), builds the seed corpus into the
# git-ignored fuzz/seeds/TARGET (the committed fixture's bodies and the shared conformance cases'
# bodies, or small synthetic recordings), then runs libFuzzer at the lowest CPU priority with one
# job (-fork=1: a crash, OOM or timeout is saved and fuzzing goes on). New corpus entries go to the
# git-ignored fuzz/corpus/TARGET, findings to fuzz/artifacts/TARGET/; the committed regression
# inputs (tests/data/fuzz/TARGET) are read as seeds too. Prints the totals at the end; the full
# libFuzzer log is fuzz/logs/TARGET-<time>.log.
#
# Extra libFuzzer flags can follow the two arguments (e.g. -use_value_profile=1).
# A finding: reproduce with `cargo +nightly fuzz run -a TARGET FILE`, minimize with
# `cargo +nightly fuzz tmin -a TARGET FILE`, then see fuzz/README.md.
set -euo pipefail

usage() { echo "usage: $0 decode_body|recording_reader SECONDS [libFuzzer flags…]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
case $target in
  decode_body) max_len=131072 ;;
  recording_reader) max_len=65536 ;;
  *) usage ;;
esac
[[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The toolchain and cargo-fuzz.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain (cargo-fuzz needs it)" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

# The seed corpus (plain, uninstrumented build; CARGO_TARGET_DIR is honoured here).
echo "building the seed corpus in fuzz/seeds/" >&2
nice -n 19 cargo run --quiet --locked --manifest-path fuzz/Cargo.toml --example seeds -- \
  "$root" "$root/fuzz/seeds" >&2

mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" fuzz/logs
log="fuzz/logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
before=$(find "fuzz/artifacts/$target" -type f | wc -l)
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

# The instrumented build lives in fuzz/target, whatever CARGO_TARGET_DIR says.
echo "fuzzing $target for ${seconds}s (nice 19, one job); log: $log" >&2
set +e
env -u CARGO_TARGET_DIR nice -n 19 cargo +nightly fuzz run --debug-assertions "$target" \
  "fuzz/corpus/$target" "fuzz/seeds/$target" "tests/data/fuzz/$target" -- \
  -max_total_time="$seconds" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
  -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -dict="fuzz/dict/$target.dict" \
  -artifact_prefix="fuzz/artifacts/$target/" "$@" >"$log" 2>&1
status=$?
set -e

# Fork mode's progress lines: `#EXECS: cov: C ft: F corp: N exec/s: R oom/timeout/crash: a/b/c time: Ts …`.
last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
after=$(find "fuzz/artifacts/$target" -type f | wc -l)
echo "== $target, ${seconds}s, libFuzzer exit $status"
if [ -n "$last" ]; then
  echo "$last" | awk '{
    for (i = 1; i <= NF; i++) v[$i] = $(i + 1);
    sub(/^#/, "", $1); sub(/:$/, "", $1);
    t = v["time:"]; sub(/s$/, "", t);
    printf "execs %s in %ss (%.0f exec/s on average, %s in the last job), coverage %s edges (%s features), corpus %s inputs, oom/timeout/crash %s\n",
      $1, t, (t > 0 ? $1 / t : 0), v["exec/s:"], v["cov:"], v["ft:"], v["corp:"], v["oom/timeout/crash:"]
  }'
else
  echo "no progress line in $log (did the build fail?):"
  tail -n 20 "$log"
fi
echo "corpus fuzz/corpus/$target: $(find "fuzz/corpus/$target" -type f | wc -l) files"
echo "findings: $((after - before)) new in fuzz/artifacts/$target/ ($after in all)"
find "fuzz/artifacts/$target" -type f -newer "$stamp" -printf '  %p\n' 2>/dev/null | head -n 20 || true
exit "$status"
