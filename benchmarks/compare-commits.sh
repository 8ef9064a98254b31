#!/usr/bin/env bash
# Side-by-side benchmark of this working tree against another commit (default HEAD), in the same run:
# the other commit is checked out beside it (git worktree, sharing node_modules), both are built, then the
# benchmarks run alternately (other, this, other, this, …) so machine load hits both alike. Measures the
# tick → bar → feature graph (pipeline.bench: ticks/s and state bytes per symbol), the 16-column FeatureSet
# (features.bench, "all", updates/s) and the Kafka engine (kafka-engine.bench, ticks/s; needs Kafka from
# scripts/services.sh). Writes benchmarks/results/compare.json: medians per tree and this/other ratios.
# Usage: benchmarks/compare-commits.sh [rev] (ROUNDS=3 PIPELINE_TICKS=1000000 FEATURE_BARS=1000000 KAFKA_TICKS=200000)
set -euo pipefail
rev="${1:-HEAD}"
rounds="${ROUNDS:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
other="$(mktemp -d "${TMPDIR:-/tmp}/mlfp-compare-XXXXXX")"
out="$root/benchmarks/results/compare.json"
samples="$(mktemp)"
saved="$(mktemp -d)"
cp -r "$root/benchmarks/results/." "$saved/"
cleanup() {
  rm -rf "$root/benchmarks/results" && mkdir -p "$root/benchmarks/results" && cp -r "$saved/." "$root/benchmarks/results/"
  [ -f "$samples.json" ] && cp "$samples.json" "$out"
  git -C "$root" worktree remove --force "$other" >/dev/null 2>&1 || rm -rf "$other"
  rm -rf "$saved" "$samples" "$samples.json"
}
trap cleanup EXIT
git -C "$root" worktree add --detach "$other" "$rev" >/dev/null
ln -s "$root/node_modules" "$other/node_modules"
echo "compare: building $(git -C "$root" rev-parse --short "$rev") and the working tree" >&2
(cd "$other" && npx tsc -p tsconfig.build.json)
(cd "$root" && npx tsc -p tsconfig.build.json)
if "$root/scripts/services.sh" status kafka >/dev/null 2>&1; then kafka=1; else kafka=0; echo "compare: Kafka not up, skipping the engine run" >&2; fi

sample() { # tree-label dir
  local label="$1" dir="$2"
  (cd "$dir" && BENCH_TICKS="${PIPELINE_TICKS:-1000000}" node --expose-gc dist/benchmarks/pipeline.bench.js >/dev/null)
  node -e '
    const r = require(process.argv[1] + "/benchmarks/results/pipeline.json");
    const g = r.results.find((x) => x.subject === "mlfp");
    console.log(JSON.stringify({ tree: process.argv[2], bench: "pipeline", ticksPerSec: g.mUpdatesPerSec * 1e6, stateBytesPerSymbol: r.stateBytesPerSymbol?.total ?? null }));
  ' "$dir" "$label" >>"$samples"
  (cd "$dir" && BENCH_ONLY=all BENCH_BARS="${FEATURE_BARS:-1000000}" node dist/benchmarks/features.bench.js >/dev/null)
  node -e '
    const r = require(process.argv[1] + "/benchmarks/results/features.json");
    const g = r.results.find((x) => x.subject === "mlfp" && x.indicator === "all");
    console.log(JSON.stringify({ tree: process.argv[2], bench: "features", barsPerSec: g.mUpdatesPerSec * 1e6 }));
  ' "$dir" "$label" >>"$samples"
  if [ "$kafka" = 1 ]; then
    (cd "$dir" && node dist/benchmarks/kafka-engine.bench.js --ticks "${KAFKA_TICKS:-200000}" --runs 1) | tail -1 |
      node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({tree:process.argv[1],bench:"kafka-engine",ticksPerSec:r.ticksPerSec}))})' "$label" >>"$samples"
  fi
}
for round in $(seq 1 "$rounds"); do
  echo "compare: round $round of $rounds" >&2
  sample other "$other"
  sample this "$root"
done
node -e '
  const fs = require("node:fs");
  const rows = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const metrics = { pipeline: ["ticksPerSec", "stateBytesPerSymbol"], features: ["barsPerSec"], "kafka-engine": ["ticksPerSec"] };
  const summary = [];
  for (const [bench, keys] of Object.entries(metrics))
    for (const key of keys) {
      const of = (tree) => rows.filter((r) => r.bench === bench && r.tree === tree && r[key] != null).map((r) => r[key]);
      const a = of("other"), b = of("this");
      if (a.length === 0 || b.length === 0) continue;
      summary.push({ bench, metric: key, other: median(a), this: median(b), ratio: +(median(b) / median(a)).toFixed(3), samples: { other: a, this: b } });
    }
  const result = { other: process.argv[2], date: new Date().toISOString(), load1m: require("node:os").loadavg()[0], summary };
  fs.writeFileSync(process.argv[1] + ".json", JSON.stringify(result, null, 2) + "\n");
  for (const s of summary) console.log(`${s.bench} ${s.metric}: other ${Math.round(s.other)} this ${Math.round(s.this)} ratio ${s.ratio}`);
' "$samples" "$(git -C "$root" rev-parse --short "$rev")"
