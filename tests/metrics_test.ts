import assert from "node:assert/strict";
import {
  FANOUT_BUCKETS,
  type Gauges,
  Histogram,
  Metrics,
  renderPrometheus,
} from "../src/metrics.ts";

const GAUGES: Gauges = {
  anonymousConnections: 2,
  authenticatedConnections: 5,
  tokens: 7,
  channels: 3,
  nodeId: "node-a",
  residentMemoryBytes: 52_428_800,
  uptimeSeconds: 3600,
};

/** One sample line: `name{labels} value`. */
interface Sample {
  readonly name: string;
  readonly labels: string;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/;

function parseSample(line: string): Sample {
  const match = SAMPLE.exec(line);
  assert.ok(match, `not a sample line: ${JSON.stringify(line)}`);
  const value = match[3] === "+Inf" ? Infinity : Number(match[3]);
  assert.ok(!Number.isNaN(value), `not a number in ${JSON.stringify(line)}`);
  return { name: match[1]!, labels: match[2] ?? "", value };
}

Deno.test("Histogram.render() gives cumulative buckets, +Inf = count, and the sum", () => {
  const histogram = new Histogram([1, 2, 5]);
  for (const value of [0.5, 1, 1.5, 7, 4, 0.25]) histogram.observe(value);
  assert.equal(histogram.count, 6);
  assert.deepEqual(histogram.render("h"), [
    'h_bucket{le="1"} 3',
    'h_bucket{le="2"} 4',
    'h_bucket{le="5"} 5',
    'h_bucket{le="+Inf"} 6',
    "h_sum 14.25",
    "h_count 6",
  ]);
});

Deno.test("Histogram.render() of no observations is all zeros", () => {
  assert.deepEqual(new Histogram([0.1]).render("h"), [
    'h_bucket{le="0.1"} 0',
    'h_bucket{le="+Inf"} 0',
    "h_sum 0",
    "h_count 0",
  ]);
});

Deno.test("Histogram.render() never decreases from one bucket to the next", () => {
  const histogram = new Histogram(FANOUT_BUCKETS);
  for (let i = 0; i < 200; i++) histogram.observe(10 ** (-6 + (i % 8)) * (1 + (i % 3)));
  const counts = histogram.render("h").filter((line) => line.startsWith("h_bucket"))
    .map((line) => parseSample(line).value);
  assert.equal(counts.length, FANOUT_BUCKETS.length + 1);
  counts.slice(1).forEach((count, i) => assert.ok(count >= counts[i]!, `${counts}`));
  assert.equal(counts.at(-1), 200);
  assert.ok(counts[0]! > 0 && counts.at(-2)! < 200, `${counts}`);
});

/** Checks `text` against the text exposition format: every family has one HELP then one TYPE
 * line before its samples, which come together; returns each family's type. */
function checkExposition(text: string): Map<string, string> {
  assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"), "ends with one newline");
  const types = new Map<string, string>();
  let family = "";
  let expected: "HELP" | "TYPE" | "sample" = "HELP";
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (comment?.[1] === "HELP") {
      assert.ok(expected !== "TYPE" && !types.has(comment[2]!), `${line}: one HELP per family`);
      [family, expected] = [comment[2]!, "TYPE"];
    } else if (comment?.[1] === "TYPE") {
      assert.ok(expected === "TYPE" && comment[2] === family, `${line}: right after its HELP`);
      assert.match(comment[3]!, /^(counter|gauge|histogram)$/);
      types.set(family, comment[3]!);
      expected = "sample";
    } else {
      assert.equal(expected, "sample", `${line}: a sample after its family's HELP and TYPE`);
      const { name, labels } = parseSample(line);
      const isHistogram = types.get(family) === "histogram";
      assert.equal(isHistogram ? name.replace(/_(bucket|sum|count)$/, "") : name, family, line);
      if (isHistogram && name.endsWith("_bucket")) assert.match(labels, /^\{le="[^"]+"\}$/);
      else if (labels !== "") assert.match(labels, /^\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\}$/);
    }
  }
  assert.equal(expected, "sample", "the last family has samples");
  return types;
}

Deno.test("renderPrometheus() is valid text exposition: HELP and TYPE before each family", () => {
  const metrics = new Metrics();
  metrics.fanoutSeconds.observe(0.002);
  const text = renderPrometheus(metrics, GAUGES);
  const types = checkExposition(text);
  for (const [name, type] of types) {
    assert.ok(name.startsWith("boreas_"), name);
    assert.equal(type === "counter", name.endsWith("_total"), `${name} is a ${type}`);
  }
  assert.deepEqual([...types].filter(([, type]) => type === "histogram"), [
    ["boreas_broadcast_fanout_seconds", "histogram"],
  ]);
  const buckets = text.split("\n").filter((line) => line.includes("_bucket{"));
  assert.equal(buckets.length, FANOUT_BUCKETS.length + 1);
  assert.match(buckets.at(-1)!, /\{le="\+Inf"\} 1$/);
  assert.match(text, /^boreas_broadcast_fanout_seconds_sum 0\.002$/m);
  assert.match(text, /^boreas_broadcast_fanout_seconds_count 1$/m);
});

Deno.test("renderPrometheus() shows every counter, gauge and the histogram's values", () => {
  const metrics = new Metrics();
  metrics.messagesPublished = 11;
  metrics.framesDelivered = 22;
  metrics.slowConsumersDropped = 3;
  metrics.connectionsRefused = 4;
  metrics.connectionsClosedForLimits = 5;
  // Powers of two, so that their sum is exact.
  metrics.fanoutSeconds.observe(2 ** -12);
  metrics.fanoutSeconds.observe(0.25);
  const samples = new Map(
    renderPrometheus(metrics, GAUGES).split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => parseSample(line))
      .map(({ name, labels, value }) => [`${name}${labels}`, value]),
  );
  const expected: Array<[string, number]> = [
    ['boreas_connections{state="anonymous"}', 2],
    ['boreas_connections{state="authenticated"}', 5],
    ["boreas_tokens", 7],
    ["boreas_channels", 3],
    ["boreas_messages_published_total", 11],
    ["boreas_frames_delivered_total", 22],
    ["boreas_slow_consumers_dropped_total", 3],
    ["boreas_connections_refused_total", 4],
    ["boreas_connections_closed_for_limits_total", 5],
    ['boreas_broadcast_fanout_seconds_bucket{le="0.0001"}', 0],
    ['boreas_broadcast_fanout_seconds_bucket{le="0.0005"}', 1],
    ['boreas_broadcast_fanout_seconds_bucket{le="0.1"}', 1],
    ['boreas_broadcast_fanout_seconds_bucket{le="0.5"}', 2],
    ['boreas_broadcast_fanout_seconds_bucket{le="+Inf"}', 2],
    ["boreas_broadcast_fanout_seconds_sum", 0.25 + 2 ** -12],
    ["boreas_broadcast_fanout_seconds_count", 2],
    ["boreas_uptime_seconds", 3600],
    ["boreas_resident_memory_bytes", 52_428_800],
    ['boreas_node_info{node="node-a"}', 1],
  ];
  for (const [key, value] of expected) {
    assert.equal(samples.get(key), value, key);
  }
});
