/** Reading the report another node stored in Redis (`GET /nodes/`, `/stats`): a report that
 * is missing, unreadable or of another shape is left out instead of failing the request. */

import assert from "node:assert/strict";
import { readReport } from "../src/backend/redis_census.ts";

const REPORT = {
  id: "b",
  "reported_at": 1764633600.25,
  connections: { anonymous: 1, authenticated: 2 },
  channels: 3,
  "messages_published": 4,
  "client_publications": 0,
  "frames_delivered": 5,
  "slow_consumers_dropped": 0,
  "connections_refused": 0,
  "connections_closed_for_limits": 0,
  "webhook_events_dropped": 0,
};

Deno.test("readReport() reads a node's report, under the id it is stored for", () => {
  assert.deepEqual(readReport("b", JSON.stringify(REPORT)), [REPORT]);
  assert.deepEqual(readReport("c", JSON.stringify(REPORT)), [{ ...REPORT, id: "c" }]);
});

Deno.test("readReport() leaves out a missing, unreadable or older report", () => {
  assert.deepEqual(readReport("b", null), []);
  assert.deepEqual(readReport("b", "{not json"), []);
  // Counters only, as a node of an earlier version wrote them.
  assert.deepEqual(readReport("b", JSON.stringify({ "messages_published": 4 })), []);
});

Deno.test("readReport() fills in counters a report lacks with 0", () => {
  const older: Partial<typeof REPORT> = { ...REPORT };
  delete older.webhook_events_dropped;
  assert.deepEqual(readReport("b", JSON.stringify(older)), [REPORT]);
});
