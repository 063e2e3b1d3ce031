/** `GET /dashboard` over HTTP: served without the API key, from the module graph, with a
 * policy that only runs this server's scripts; `--no-dashboard` removes it. (What the page does
 * is tested in Chromium: browser_dashboard_test.ts.) */

import assert from "node:assert/strict";
import { createApi } from "../src/api/mod.ts";
import { apiContext, startTestServer } from "./helpers.ts";

const ASSETS = [
  ["/dashboard", "text/html; charset=utf-8"],
  ["/dashboard/dashboard.js", "text/javascript; charset=utf-8"],
  ["/dashboard/dashboard.css", "text/css; charset=utf-8"],
  ["/dashboard/uplot.js", "text/javascript; charset=utf-8"],
  ["/dashboard/uplot.css", "text/css; charset=utf-8"],
] as const;

Deno.test("the dashboard's page and assets are served without the API key", async () => {
  await using server = await startTestServer({ apiKey: ["k1"] });
  for (const [path, type] of ASSETS) {
    const response = await server.api(path);
    const body = await response.text();
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type, path);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(response.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    assert.ok(body.length > 100, path);
  }
  const page = await (await server.api("/dashboard/")).text();
  // Everything the page loads comes from this server: no CDN.
  const sources = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map(([, source]) => source);
  assert.deepEqual(sources, [
    "/dashboard/uplot.css",
    "/dashboard/dashboard.css",
    "/dashboard/uplot.js",
    "/dashboard/dashboard.js",
  ]);
  assert.match(await (await server.api("/dashboard/uplot.js")).text(), /uPlot/);
  // What the page shows still needs the key.
  const stats = await server.api("/stats");
  assert.equal(stats.status, 401);
  await stats.body?.cancel();
});

Deno.test("--no-dashboard: /dashboard and its assets answer 404", async () => {
  const api = createApi(apiContext({ dashboard: false }));
  for (const [path] of ASSETS) {
    const response = await api(new Request(`http://boreas.test${path}`));
    assert.equal(response.status, 404, path);
    await response.body?.cancel();
  }
});
