#!/usr/bin/env bash
# Times the test suite of an old commit and of this checkout side by side, in one run, on the
# same machine: old, new, old, new, ... (alternating, so that a change in the machine's load
# hits both sides alike). Prints every run's wall time and test counts, then the ratio new/old
# and the time per test (the suite grew, so seconds per test compares the work done too).
#
#   scripts/suite-time.sh [--old <commit>] [--rounds <n>] [--keep]
#
# --old     the commit to compare with (default 95d2fdc, the suite issue #13 was filed against)
# --rounds  old/new pairs to run (default 2)
# --keep    keep the old commit's worktree and its node_modules for the next run (an npm install
#           takes minutes); it is reused when found. Without it, it is removed at the end.
#
# The old commit gets a detached worktree of its own. When its package-lock.json matches this
# checkout's, it shares this node_modules; otherwise it gets its own `npm install` inside that
# worktree (never into this checkout's node_modules). Both sides generate their Prisma client
# before the first run. Needs the same PostgreSQL and Redis as `npm test`.
set -euo pipefail

old=95d2fdc
rounds=2
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --old) old="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

new_dir="$(git rev-parse --show-toplevel)"
cd "$new_dir"
old_sha="$(git rev-parse --verify "$old^{commit}")"
old_dir="${TMPDIR:-/tmp}/suite-time-${old_sha:0:12}"
out_dir="$(mktemp -d "${TMPDIR:-/tmp}/suite-time-results.XXXXXX")"

cleanup() {
  if [ "$keep" = 0 ] && [ -d "$old_dir" ]; then
    git -C "$new_dir" worktree remove --force "$old_dir" >/dev/null 2>&1 || rm -rf "$old_dir"
  fi
}
trap cleanup EXIT

# The fake Bot API reads shared/telegram/bot-api.json from above the checkout; the old worktree
# lives elsewhere, so tell both where it is.
if [ -z "${TELEGRAM_BOT_API_SPEC:-}" ]; then
  dir="$new_dir"
  while [ "$dir" != / ] && [ ! -f "$dir/shared/telegram/bot-api.json" ]; do dir="$(dirname "$dir")"; done
  [ -f "$dir/shared/telegram/bot-api.json" ] || { echo "shared/telegram/bot-api.json not found above $new_dir (set TELEGRAM_BOT_API_SPEC)" >&2; exit 1; }
  export TELEGRAM_BOT_API_SPEC="$dir/shared/telegram/bot-api.json"
fi

if [ -d "$old_dir" ] && [ "$(git -C "$old_dir" rev-parse HEAD 2>/dev/null)" = "$old_sha" ]; then
  echo "old: reusing $old_dir"
else
  rm -rf "$old_dir"
  git worktree prune
  git worktree add --detach "$old_dir" "$old_sha" >/dev/null
  if git diff --quiet "$old_sha" HEAD -- package-lock.json; then
    ln -s "$(readlink -f node_modules)" "$old_dir/node_modules"
  else
    echo "old: its package-lock.json differs from this one: npm install in $old_dir (takes minutes)"
    (cd "$old_dir" && npm install --prefer-offline --no-audit --no-fund --loglevel=error >"$out_dir/old-npm-install.log" 2>&1) ||
      { echo "npm install failed, see $out_dir/old-npm-install.log" >&2; exit 1; }
  fi
fi
(cd "$old_dir" && node scripts/prisma-generate.mjs)
node scripts/prisma-generate.mjs

# One suite run: wall time measured here (process start to exit), counts from vitest's JSON report.
run() {
  local side="$1" round="$2" dir report start end status
  [ "$side" = old ] && dir="$old_dir" || dir="$new_dir"
  report="$out_dir/$side-$round.json"
  start=$EPOCHREALTIME
  status=0
  (cd "$dir" && npx vitest run --reporter=json --outputFile="$report" >"$out_dir/$side-$round.log" 2>&1) || status=$?
  end=$EPOCHREALTIME
  echo "$side $round $start $end $status $report" >>"$out_dir/runs.txt"
  printf '%-4s round %s: %6.1f s (exit %s)\n' "$side" "$round" "$(awk "BEGIN { print $end - $start }")" "$status"
}

echo "old = ${old_sha:0:12} ($old_dir), new = $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+uncommitted') ($new_dir)"
echo "logs and reports: $out_dir"
for round in $(seq 1 "$rounds"); do
  run old "$round"
  run new "$round"
done

node --input-type=module - "$out_dir/runs.txt" <<'EOF'
import { readFileSync } from 'node:fs';
const runs = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((line) => {
  const [side, round, start, end, status, report] = line.split(' ');
  let r = {};
  try { r = JSON.parse(readFileSync(report, 'utf8')); } catch {}
  const files = r.testResults?.length ?? 0;
  return { side, round: Number(round), wall: Number(end) - Number(start), status: Number(status), files,
    tests: r.numTotalTests ?? 0, passed: r.numPassedTests ?? 0, failed: r.numFailedTests ?? 0, skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) };
});
const perTest = (x) => (x.tests ? (x.wall / x.tests) * 1000 : NaN);
console.log('\nside  round  wall s  files  tests  passed  failed  skipped  ms/test');
for (const x of runs) {
  console.log(`${x.side.padEnd(4)}  ${String(x.round).padStart(5)}  ${x.wall.toFixed(1).padStart(6)}  ${String(x.files).padStart(5)}  ${String(x.tests).padStart(5)}  ${String(x.passed).padStart(6)}  ${String(x.failed).padStart(6)}  ${String(x.skipped).padStart(7)}  ${perTest(x).toFixed(0).padStart(7)}`);
}
console.log('\nround  new/old wall  new/old per test');
const rounds = [...new Set(runs.map((x) => x.round))];
for (const round of rounds) {
  const o = runs.find((x) => x.side === 'old' && x.round === round);
  const n = runs.find((x) => x.side === 'new' && x.round === round);
  if (o && n) console.log(`${String(round).padStart(5)}  ${(n.wall / o.wall).toFixed(2).padStart(12)}  ${(perTest(n) / perTest(o)).toFixed(2).padStart(16)}`);
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const side = (name) => runs.filter((x) => x.side === name);
const [o, n] = [side('old'), side('new')];
if (o.length && n.length) {
  const ow = median(o.map((x) => x.wall)), nw = median(n.map((x) => x.wall));
  console.log(`median  old ${ow.toFixed(1)} s, new ${nw.toFixed(1)} s: new/old ${(nw / ow).toFixed(2)}; per test ${(median(n.map(perTest)) / median(o.map(perTest))).toFixed(2)}`);
}
if (runs.some((x) => x.status !== 0 || x.failed > 0)) console.log('\nSome runs failed: see their logs in the directory above.');
EOF
