#!/usr/bin/env bash
# Runs cargo-fuzz targets one after the other, each for SECONDS, and prints one summary line per
# target from libFuzzer's final output (README "Fuzzing"; `make fuzz` calls it).
#
#   fuzz/run.sh SECONDS TARGET...        (from the repository root)
#
# Each target runs with a 10 s per-input timeout (a hang is a failure), a 2048 MiB RSS limit
# (a blow-up is a failure) and AddressSanitizer with LeakSanitizer (cargo-fuzz's default
# sanitizer; a leak is a failure). Its log goes to fuzz/artifacts/logs/<target>.log, a crashing
# input to fuzz/artifacts/<target>/. Every target is run even after one fails; the exit status
# is 1 when any failed. FUZZ_NICE (default "nice -n 19") prefixes each run.
set -u
seconds=${1:?usage: fuzz/run.sh SECONDS TARGET...}
shift
nice_cmd=${FUZZ_NICE-nice -n 19}
logs=fuzz/artifacts/logs
mkdir -p "$logs"
export RUSTC_BOOTSTRAP=1 ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
status=0
summary=()
for t in "$@"; do
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for $seconds s (log: $logs/$t.log)"
  start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD -- fuzz rust 2>/dev/null || commit="$commit+dirty"
  # shellcheck disable=SC2086
  $nice_cmd cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$logs/$t.log" 2>&1
  rc=$?
  # The last status line ("#N DONE cov: C ft: F corp: K/S ...") and the final stats.
  last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logs/$t.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ]; then verdict=ok; else verdict="FAILED (exit $rc; see $logs/$t.log, fuzz/artifacts/$t/)"; status=1; fi
  line="$start commit=$commit target=$t seconds=$seconds execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} peak_rss_mb=${rss:-?} $verdict"
  echo "$line"
  summary+=("$line")
done
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $status
