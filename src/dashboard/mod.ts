/**
 * @module
 * `GET /dashboard`: the operators' live page, and the scripts and styles it loads. Every asset
 * is imported as text, so it is part of the module graph: `deno compile` ships it inside the
 * binary and nothing is read from disk at run time. The page is public; what it shows comes
 * from the API routes, which ask for the API key as usual.
 */

import uplotScript from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotStyle from "uplot/dist/uPlot.min.css" with { type: "text" };
import type { Route } from "../api/router.ts";
import dashboardScript from "./dashboard.js" with { type: "text" };
import dashboardStyle from "./dashboard.css" with { type: "text" };
import page from "./page.html" with { type: "text" };

/** The dashboard's path on the API listener. */
export const DASHBOARD_PATH = "/dashboard";

/** Scripts only from this server; no framing (the page's buttons publish and revoke). */
const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // uPlot positions its parts with inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/** The dashboard's page and assets, or none with `--no-dashboard` (they answer 404). */
export function dashboardRoutes(enabled: boolean): Route[] {
  if (!enabled) return [];
  return [
    asset(DASHBOARD_PATH, page, "text/html; charset=utf-8"),
    asset(`${DASHBOARD_PATH}/dashboard.js`, dashboardScript, "text/javascript; charset=utf-8"),
    asset(`${DASHBOARD_PATH}/dashboard.css`, dashboardStyle, "text/css; charset=utf-8"),
    asset(`${DASHBOARD_PATH}/uplot.js`, uplotScript, "text/javascript; charset=utf-8"),
    asset(`${DASHBOARD_PATH}/uplot.css`, uplotStyle, "text/css; charset=utf-8"),
  ];
}

function asset(path: string, body: string, type: string): Route {
  const bytes = new TextEncoder().encode(body);
  return {
    method: "GET",
    path,
    isPublic: true,
    handler: () =>
      new Response(bytes, {
        headers: {
          "content-type": type,
          "cache-control": "no-cache",
          "x-content-type-options": "nosniff",
          "content-security-policy": PAGE_POLICY,
        },
      }),
  };
}
