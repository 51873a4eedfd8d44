#!/usr/bin/env bash
# Soak test for "every row takes effect exactly once" (issue 5). Not run in CI.
#
# Repeats the kill -9 scenario of tests/tests/it/faults/ (two workers; three times
# during one 400-row import, the worker in the middle of a chunk is killed with
# SIGKILL and a fresh one started) N times, each on a fresh PostgreSQL database,
# Redis and S3 server, and prints the rows lost (no outcome) and the rows
# duplicated (two outcomes, or a technician created twice) of every run and in
# total. Both must be 0; the script exits non-zero otherwise, or if a run fails.
#
#   scripts/soak-kill9.sh            # 20 runs
#   scripts/soak-kill9.sh 100        # 100 runs
#   SOAK_TEST=redis_flushall scripts/soak-kill9.sh 10   # another test of the faults module
#
# Needs what scripts/test needs (PostgreSQL on 127.0.0.1:5432 or ROSTER_TEST_PG,
# redis-server, s3s-fs, cargo-nextest). A failed run's logs are kept
# (ROSTER_TEST_KEEP) and their folder printed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${1:-20}"
filter="test(/^faults::/) & test(${SOAK_TEST:-kill_9_workers_mid_chunk})"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster/target}"
export PATH="$HOME/.cargo/bin:$PATH"
export RUST_BACKTRACE=0

cargo build -q --workspace --bins || exit 1
cargo nextest run -p roster-tests --test it --no-run || exit 1

total_lost=0
total_duplicated=0
failed_runs=0
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  out=$(ROSTER_TEST_KEEP=1 cargo nextest run -p roster-tests --test it --no-capture \
        --no-fail-fast -E "$filter" 2>&1)
  status=$?
  line=$(grep -o 'FAULTS .*' <<<"$out" | tail -n1)
  lost=$(grep -o 'lost=[0-9]*' <<<"$line" | cut -d= -f2)
  duplicated=$(grep -o 'duplicated=[0-9]*' <<<"$line" | cut -d= -f2)
  elapsed=$(( $(date +%s) - started ))
  if [ -z "$line" ]; then
    lost="?"
    duplicated="?"
  else
    total_lost=$(( total_lost + lost ))
    total_duplicated=$(( total_duplicated + duplicated ))
  fi
  if [ "$status" -eq 0 ]; then
    verdict="ok"
  else
    verdict="FAILED"
    failed_runs=$(( failed_runs + 1 ))
    grep -E 'panicked|timed out|assertion' <<<"$out" | head -n 5 | sed 's/^/    /'
  fi
  kept=$(grep -o 'kept test folder .*' <<<"$out" | tail -n1 | sed 's/kept test folder //')
  # A passing run's folder is of no use: remove it; a failed run's is printed.
  if [ "$status" -eq 0 ] && [ -n "$kept" ]; then
    rm -rf "$kept"
    kept=""
  fi
  printf 'run %3d/%d: lost=%s duplicated=%s %s (%ss)%s\n' "$i" "$runs" "$lost" "$duplicated" \
    "$verdict" "$elapsed" "${kept:+ logs: $kept}"
done

echo "total over $runs runs: lost=$total_lost duplicated=$total_duplicated failed_runs=$failed_runs"
[ "$total_lost" -eq 0 ] && [ "$total_duplicated" -eq 0 ] && [ "$failed_runs" -eq 0 ]
