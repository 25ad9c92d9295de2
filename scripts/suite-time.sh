#!/usr/bin/env bash
# Times the test suite of an old commit and of this checkout side by side, in one run, on the
# same machine: old, new, old, new, ... (alternating, so that a change in the machine's load
# hits both sides alike). Prints every run's wall time and test counts, then the ratio new/old
# and the time per test (the suite grew, so seconds per test compares the work done too).
#
#   scripts/suite-time.sh [--old <commit>] [--new <commit>] [--rounds <n>] [--keep]
#
# --old     the commit to compare with (default 95d2fdc, the suite issue #13 was filed against)
# --new     a commit to measure in a worktree of its own (default: this checkout as it is, with
#           uncommitted changes; a commit lets you go on editing while it runs)
# --rounds  old/new pairs to run (default 2)
# --keep    keep the commits' worktrees (and node_modules) for the next run (an npm install
#           takes minutes); they are reused when found. Without it, they are removed at the end.
#
# A commit gets a detached worktree of its own under $TMPDIR. When its package-lock.json matches
# this checkout's, it shares this node_modules; otherwise it gets its own `npm install` inside that
# worktree (never into this checkout's node_modules). Both sides generate their Prisma client
# before the first run. Needs the same PostgreSQL and Redis as `npm test`.
set -euo pipefail

old=95d2fdc
new=
rounds=2
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --old) old="$2"; shift 2 ;;
    --new) new="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

here="$(git rev-parse --show-toplevel)"
cd "$here"
out_dir="$(mktemp -d "${TMPDIR:-/tmp}/suite-time-results.XXXXXX")"
made=()

cleanup() {
  if [ "$keep" = 0 ]; then
    for dir in "${made[@]}"; do git -C "$here" worktree remove --force "$dir" >/dev/null 2>&1 || rm -rf "$dir"; done
  fi
}
trap cleanup EXIT

# The fake Bot API reads shared/telegram/bot-api.json from above the checkout; the worktrees
# live elsewhere, so tell every side where it is.
if [ -z "${TELEGRAM_BOT_API_SPEC:-}" ]; then
  dir="$here"
  while [ "$dir" != / ] && [ ! -f "$dir/shared/telegram/bot-api.json" ]; do dir="$(dirname "$dir")"; done
  [ -f "$dir/shared/telegram/bot-api.json" ] || { echo "shared/telegram/bot-api.json not found above $here (set TELEGRAM_BOT_API_SPEC)" >&2; exit 1; }
  export TELEGRAM_BOT_API_SPEC="$dir/shared/telegram/bot-api.json"
fi

# A worktree of commit $1 with its dependencies; its path in $checked_out.
checkout() {
  local sha dir
  sha="$(git rev-parse --verify "$1^{commit}")"
  dir="${TMPDIR:-/tmp}/suite-time-${sha:0:12}"
  made+=("$dir")
  if [ -d "$dir" ] && [ "$(git -C "$dir" rev-parse HEAD 2>/dev/null)" = "$sha" ]; then
    echo "${sha:0:12}: reusing $dir" >&2
  else
    rm -rf "$dir"
    git worktree prune
    git worktree add --detach "$dir" "$sha" >/dev/null 2>&1
    if git diff --quiet "$sha" HEAD -- package-lock.json; then
      ln -s "$(readlink -f node_modules)" "$dir/node_modules"
    else
      echo "${sha:0:12}: its package-lock.json differs from this checkout's: npm install in $dir (takes minutes)" >&2
      (cd "$dir" && npm install --prefer-offline --no-audit --no-fund --loglevel=error >"$out_dir/npm-install-${sha:0:12}.log" 2>&1) ||
        { echo "npm install failed, see $out_dir/npm-install-${sha:0:12}.log" >&2; exit 1; }
    fi
  fi
  checked_out="$dir"
}

checkout "$old"
old_dir="$checked_out"
new_dir="$here"
if [ -n "$new" ]; then
  checkout "$new"
  new_dir="$checked_out"
fi
(cd "$old_dir" && node scripts/prisma-generate.mjs)
(cd "$new_dir" && node scripts/prisma-generate.mjs)

# One suite run: wall time and the CPU time of vitest and its workers (user + system: on a shared
# machine it moves less with the load than the wall time does), counts from vitest's JSON report.
# PostgreSQL's and Redis's CPU is not in it: they are not children of the run.
run() {
  local side="$1" round="$2" dir base times status
  [ "$side" = old ] && dir="$old_dir" || dir="$new_dir"
  base="$out_dir/$side-$round"
  {
    TIMEFORMAT='%R %U %S'
    time (
      cd "$dir"
      status=0
      npx vitest run --reporter=json --outputFile="$base.json" >"$base.log" 2>&1 || status=$?
      echo "$status" >"$base.status"
    )
  } 2>"$base.time"
  times="$(tail -n 1 "$base.time")"
  status="$(cat "$base.status")"
  echo "$side $round $times $status $base.json" >>"$out_dir/runs.txt"
  printf '%-4s round %s: %s s wall, %s s user, %s s system (exit %s)\n' "$side" "$round" $times "$status"
}

echo "old = $(git -C "$old_dir" rev-parse --short HEAD) ($old_dir), new = $(git -C "$new_dir" rev-parse --short HEAD)$(git -C "$new_dir" diff --quiet HEAD || echo '+uncommitted') ($new_dir)"
echo "logs and reports: $out_dir"
for round in $(seq 1 "$rounds"); do
  run old "$round"
  run new "$round"
done

node --input-type=module - "$out_dir/runs.txt" <<'EOF'
import { readFileSync } from 'node:fs';
const runs = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((line) => {
  const [side, round, wall, user, system, status, report] = line.split(' ');
  let r = {};
  try { r = JSON.parse(readFileSync(report, 'utf8')); } catch {}
  const files = r.testResults?.length ?? 0;
  return { side, round: Number(round), wall: Number(wall), cpu: Number(user) + Number(system), status: Number(status), files,
    tests: r.numTotalTests ?? 0, passed: r.numPassedTests ?? 0, failed: r.numFailedTests ?? 0, skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) };
});
const perTest = (x) => (x.tests ? (x.wall / x.tests) * 1000 : NaN);
console.log('\nside  round  wall s   cpu s  files  tests  passed  failed  skipped  ms/test');
for (const x of runs) {
  console.log(`${x.side.padEnd(4)}  ${String(x.round).padStart(5)}  ${x.wall.toFixed(1).padStart(6)}  ${x.cpu.toFixed(1).padStart(6)}  ${String(x.files).padStart(5)}  ${String(x.tests).padStart(5)}  ${String(x.passed).padStart(6)}  ${String(x.failed).padStart(6)}  ${String(x.skipped).padStart(7)}  ${perTest(x).toFixed(0).padStart(7)}`);
}
console.log('\nround  new/old wall  new/old per test  new/old cpu');
const rounds = [...new Set(runs.map((x) => x.round))];
for (const round of rounds) {
  const o = runs.find((x) => x.side === 'old' && x.round === round);
  const n = runs.find((x) => x.side === 'new' && x.round === round);
  if (o && n) console.log(`${String(round).padStart(5)}  ${(n.wall / o.wall).toFixed(2).padStart(12)}  ${(perTest(n) / perTest(o)).toFixed(2).padStart(16)}  ${(n.cpu / o.cpu).toFixed(2).padStart(11)}`);
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const side = (name) => runs.filter((x) => x.side === name);
const [o, n] = [side('old'), side('new')];
if (o.length && n.length) {
  const ow = median(o.map((x) => x.wall)), nw = median(n.map((x) => x.wall));
  const oc = median(o.map((x) => x.cpu)), nc = median(n.map((x) => x.cpu));
  console.log(`median  old ${ow.toFixed(1)} s, new ${nw.toFixed(1)} s: new/old ${(nw / ow).toFixed(2)}; per test ${(median(n.map(perTest)) / median(o.map(perTest))).toFixed(2)}; cpu ${(nc / oc).toFixed(2)}`);
}
if (runs.some((x) => x.status !== 0 || x.failed > 0)) console.log('\nSome runs failed: see their logs in the directory above.');
EOF
