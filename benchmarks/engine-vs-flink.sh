#!/usr/bin/env bash
# Streaming benchmark, side by side on one broker, one topic, the same data: the engine (slot below), a Flink
# 2.2 bars job and a bare kafkajs consume->produce floor. Produces the ticks once, runs every subject RUNS
# times round-robin, measures CPU and peak RSS from outside, writes benchmarks/results/streaming.json.
# Usage: benchmarks/engine-vs-flink.sh
#   env: TICKS (560000) SYMBOLS (50) PARTITIONS (6) RUNS (3) SEED (42) FLINK_PARALLELISM ("1 2") TOPIC
#        RESULTS (benchmarks/results/streaming.json) BENCH_NOTE (free text stored in the results) ENGINE_COMMAND
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TICKS=${TICKS:-560000}
SYMBOLS=${SYMBOLS:-50}
PARTITIONS=${PARTITIONS:-6}
RUNS=${RUNS:-3}
SEED=${SEED:-42}
# Flink runs once per listed parallelism; the engine is compared with the best of them. On this 2-core
# machine 1 and 2 measured alike (within the noise of a shared machine), so both run.
FLINK_PARALLELISM=${FLINK_PARALLELISM:-1 2}
TOPIC=${TOPIC:-bench.ticks}
RESULTS=${RESULTS:-$ROOT/benchmarks/results/streaming.json}
# The engine's command, run once per round with {group} replaced by a fresh consumer group id. It must read
# $TOPIC from the start, stop after the ticks it found at start (as the peers do), and print on stdout a last
# line {"subject":"engine","ticks":N,"seconds":S,"ticksPerSec":R} with S from consuming start to last ack.
# the engine as `mlfp run` builds it (Kafka + PostgreSQL outputs); {group} is replaced per run
ENGINE_COMMAND=${ENGINE_COMMAND:-"node dist/benchmarks/engine-run.js --brokers \$BROKERS --topic \$TOPIC --ticks \$TICKS --group {group}"}

[[ -x /usr/bin/time ]] || {
  echo 'engine-vs-flink: GNU time (/usr/bin/time) is needed to measure CPU and RSS: apt-get install time' >&2
  exit 1
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RUNS_FILE=$WORK/runs.jsonl

log() { printf 'engine-vs-flink: %s\n' "$*" >&2; }

# measure LABEL SUBJECT ROUND COMMAND...: runs COMMAND under GNU time, takes the last stdout line (the
# subject's JSON result), checks it read every tick, and appends it to the runs file under LABEL with
# cpuSeconds, peakRssMb and processSeconds.
measure() {
  local label=$1 subject=$2 round=$3
  shift 3
  local out=$WORK/$label-$round.out timing=$WORK/$label-$round.time
  log "round $round: $label"
  /usr/bin/time -f '%e %U %S %M' -o "$timing" "$@" >"$out" || {
    log "$label failed (exit $?); its output:"
    cat "$out" >&2
    exit 1
  }
  local wall user system rss_kb
  read -r wall user system rss_kb <"$timing"
  # shellcheck disable=SC2016 # JavaScript, not shell
  tail -n 1 "$out" | node -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const [label, subject, round, wall, user, system, rssKb, expected] = process.argv.slice(1);
      const result = JSON.parse(text);
      if (result.subject !== subject) throw new Error(`expected subject ${subject}, got ${text}`);
      if (result.ticks !== Number(expected)) throw new Error(`${subject} read ${result.ticks} ticks, expected ${expected}`);
      const cpuSeconds = Number((Number(user) + Number(system)).toFixed(2));
      const measured = { ...result, subject: label, peer: subject, round: Number(round), cpuSeconds, peakRssMb: Math.round(Number(rssKb) / 1024), processSeconds: Number(wall) };
      process.stdout.write(JSON.stringify(measured) + "\n");
    });' "$label" "$subject" "$round" "$wall" "$user" "$system" "$rss_kb" "$TICKS" | tee -a "$RUNS_FILE" >&2
}

log 'services: kafka'
scripts/services.sh up kafka
BROKERS=$(scripts/services.sh env kafka | sed -n 's/^MLFP_KAFKA_BROKERS=//p')
export BROKERS TOPIC TICKS # ENGINE_COMMAND may refer to them

log 'building TypeScript (npm run build) and the Flink peer'
npm run --silent build >&2
FLINK_JAR=$(benchmarks/peers/flink/run.sh build)

log "producing $TICKS ticks over $SYMBOLS symbols to $TOPIC ($PARTITIONS partitions)"
node dist/benchmarks/lib/tick-producer.js --brokers "$BROKERS" --topic "$TOPIC" --ticks "$TICKS" \
  --symbols "$SYMBOLS" --partitions "$PARTITIONS" --seed "$SEED" | tail -n 1 >"$WORK/data.json"
cat "$WORK/data.json" >&2

stamp=$(date +%s)
for round in $(seq 1 "$RUNS"); do
  measure kafkajs-passthrough kafkajs-passthrough "$round" node dist/benchmarks/peers/kafkajs-passthrough.js \
    --brokers "$BROKERS" --topic "$TOPIC" --output-topic bench.floor.ticks --group "mlfp-bench-floor-$stamp-$round"
  for parallelism in $FLINK_PARALLELISM; do
    measure "flink-p$parallelism" flink "$round" benchmarks/peers/flink/run.sh --brokers "$BROKERS" --topic "$TOPIC" \
      --group "mlfp-bench-flink-$stamp-$round-p$parallelism" --output-topic-prefix bench.flink.bars. \
      --parallelism "$parallelism"
  done
  # ---- ENGINE SLOT ------------------------------------------------------------------------------------
  if [[ -n $ENGINE_COMMAND ]]; then
    measure engine engine "$round" bash -c "exec ${ENGINE_COMMAND//\{group\}/mlfp-bench-engine-$stamp-$round}"
    # the same with the feature vectors published to Kafka too (more output than the Flink job writes)
    measure engine-kafka-features engine "$round" bash -c \
      "exec ${ENGINE_COMMAND//\{group\}/mlfp-bench-engine-kf-$stamp-$round} --kafka-features"
  fi
  # ------------------------------------------------------------------------------------------------------
done
[[ -n $ENGINE_COMMAND ]] || log 'ENGINE_COMMAND not set: the engine slot was skipped'

mkdir -p "$(dirname "$RESULTS")"
node dist/benchmarks/lib/streaming-results.js --runs "$RUNS_FILE" --data "$WORK/data.json" --out "$RESULTS" \
  --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --meta "kafka=${MLFP_KAFKA_VERSION:-3.9.2}" \
  --meta "java=$(java -version 2>&1 | head -n 1)" \
  --meta "flink=2.2.0 (flink-connector-kafka 5.0.0-2.2, MiniCluster, -Xmx${MLFP_FLINK_HEAP:-1g}), jar $(basename "$FLINK_JAR")" \
  --meta "kafkajs=$(node -p 'require("kafkajs/package.json").version')" \
  --meta "note=${BENCH_NOTE:-}"
log "wrote $RESULTS"
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const r = require(process.argv[1]);
  for (const [name, s] of Object.entries(r.subjects)) {
    const m = s.median;
    console.log(`${name.padEnd(20)} ${String(Math.round(m.ticksPerSec)).padStart(7)} ticks/s  (min ${Math.round(s.min.ticksPerSec)}, max ${Math.round(s.max.ticksPerSec)})  cpu ${m.cpuSeconds} s  rss ${m.peakRssMb} MB  process ${m.processSeconds} s`);
  }
  console.log("ratios", JSON.stringify(r.ratios));' "$RESULTS"
