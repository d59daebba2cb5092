#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR (default build-fuzz), one
# after the other, each for SECONDS (default 60), and prints per target the
# executions, the rate, the coverage and the findings:
#
#   scripts/fuzz.sh build-fuzz 600
#   scripts/fuzz.sh build-fuzz 600 segment_expr csv_reader   # only these
#
# Each target starts from its seeds in fuzz/corpus/<name> (never written) and
# from what earlier runs found, kept in BUILD_DIR/fuzz-corpus/<name>. Crashing
# inputs go to BUILD_DIR/findings/<name>/; the full logs to
# BUILD_DIR/fuzz-logs/<name>.log. Exits 1 when any target has a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))

shopt -s nullglob
if (($#)); then
  targets=()
  for name in "$@"; do targets+=("$build/fuzz/${name}_fuzzer"); done
else
  targets=("$build"/fuzz/*_fuzzer)
fi
if ((${#targets[@]} == 0)); then
  echo "fuzz: no targets in $build/fuzz (cmake --build $build --target fuzzers)" >&2
  exit 2
fi
mkdir -p "$build/findings" "$build/fuzz-corpus" "$build/fuzz-logs"

printf '%-18s %12s %9s %7s %7s %9s  %s\n' target executions exec/s cov ft findings status
any=0
for bin in "${targets[@]}"; do
  name=$(basename "$bin" _fuzzer)
  work=$build/fuzz-corpus/$name
  found=$build/findings/$name
  log=$build/fuzz-logs/$name.log
  mkdir -p "$work" "$found"
  before=$(find "$found" -type f | wc -l)
  rc=0
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 \
    -artifact_prefix="$found/" "$work" "fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  new=$(($(find "$found" -type f | wc -l) - before))
  status=ok
  if ((rc != 0 || new > 0)); then
    any=1
    status="FINDING (exit $rc): $(find "$found" -type f -newer "$bin" | tail -1), see $log"
  fi
  printf '%-18s %12s %9s %7s %7s %9s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$new" "$status"
done
exit $any
