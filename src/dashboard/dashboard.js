// The dashboard page's logic: asks for the API key when the server needs one, polls the API
// every second, keeps the last 5 minutes of rates for the chart, and drives the three forms.
// Plain browser JavaScript, served as is; uPlot is loaded before it as the global `uPlot`.

const KEY_STORAGE = "boreas-api-key";
const POLL_MS = 1000;
/** How long one request may take before the page gives up on it. */
const REQUEST_MS = 3000;
const WINDOW_SECONDS = 300;
const BUSIEST_LIMIT = 10;

/** The API key the page sends, from this tab's session storage. */
let apiKey = sessionStorage.getItem(KEY_STORAGE);
/** By node id in a cluster ("" standalone): the last totals read and when the node reported
 * them, and the rates they gave. */
let previous = null;
/** The chart's data: times (unix seconds), messages/s, frames/s. */
const series = [[], [], []];
let chart = null;
/** Bumped whenever the page changes what it is doing; a loop of an older run stops. */
let run = 0;

const byId = (id) => document.getElementById(id);

/** A request to the API with the key, answered as `{ status, body }`; `body` is parsed JSON.
 * Rejects when the server cannot be reached or takes longer than `REQUEST_MS`. */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  if (apiKey !== null) headers.set("authorization", `Bearer ${apiKey}`);
  const response = await fetch(path, {
    ...init,
    headers,
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  const text = await response.text();
  let body = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = { errors: [text] };
  }
  return { status: response.status, body };
}

/** The API's error messages, or a line naming the status. */
function errorsOf({ status, body }) {
  const errors = body?.errors;
  return Array.isArray(errors) && errors.length > 0 ? errors.join("; ") : `HTTP ${status}`;
}

/** Shows the page's state (announced to screen readers when it changes) and when it was last
 * updated (not announced). */
function setStatus(text, isError = false) {
  const status = byId("status");
  if (status.textContent !== text) status.textContent = text;
  status.classList.toggle("error", isError);
  byId("updated").textContent = isError ? "" : `updated ${new Date().toLocaleTimeString()}`;
}

function showKeyForm(message) {
  run++;
  byId("dashboard").hidden = true;
  byId("key-form").hidden = false;
  byId("key-error").textContent = message;
  setStatus("API key needed");
  byId("key-input").focus();
}

function forgetKey() {
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
}

/** Asks the server whether the key (or no key) is accepted, then opens the dashboard and polls
 * it every second, one refresh after another, until something else starts. */
async function start() {
  const current = ++run;
  while (current === run) {
    let answer;
    try {
      answer = await api("/stats");
    } catch {
      setStatus("The server cannot be reached; retrying", true);
      await delay(POLL_MS);
      continue;
    }
    if (current !== run) return;
    if (answer.status === 401) {
      const hadKey = apiKey !== null;
      forgetKey();
      showKeyForm(hadKey ? "That key was refused." : "");
      return;
    }
    byId("key-form").hidden = true;
    byId("dashboard").hidden = false;
    if (chart === null) chart = createChart();
    while (current === run) {
      await refresh();
      await delay(POLL_MS);
    }
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

byId("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = byId("key-input").value.trim();
  // What an Authorization header can carry.
  if (!/^[\x21-\x7e]+$/.test(key)) {
    byId("key-error").textContent = "An API key is printable ASCII, without spaces.";
    return;
  }
  apiKey = key;
  sessionStorage.setItem(KEY_STORAGE, apiKey);
  byId("key-input").value = "";
  byId("key-error").textContent = "";
  start();
});

/** Reads the API once and redraws everything; never throws. */
async function refresh() {
  let stats;
  let channels;
  let nodes;
  try {
    [stats, channels, nodes] = await Promise.all([
      api("/stats"),
      api(`/channels/?limit=${BUSIEST_LIMIT}`),
      api("/nodes/"),
    ]);
  } catch {
    setStatus("The server cannot be reached; retrying", true);
    return;
  }
  if (stats.status === 401) {
    forgetKey();
    showKeyForm("The key is no longer accepted.");
    return;
  }
  if (stats.status !== 200) {
    setStatus(`The server cannot answer: ${errorsOf(stats)}`, true);
    return;
  }
  try {
    const rows = nodes.status === 200 ? nodes.body.nodes : [];
    renderCounts(stats.body, rows);
    if (channels.status === 200) renderBusiest(channels.body.channels);
    renderNodes(rows);
    setStatus("Live");
  } catch (error) {
    setStatus(`The server's answer could not be shown: ${error.message}`, true);
  }
}

/** Each Pusher app's connections across the cluster; the section stays hidden without apps. */
function renderPusherApps(apps) {
  byId("pusher-section").hidden = apps === undefined;
  const rows = Object.entries(apps ?? {}).map(([id, { connections }]) => [id, connections]);
  fillTable("pusher-apps", rows, "No app");
}

function renderCounts(stats, nodes) {
  const now = Date.now() / 1000;
  byId("connections-anonymous").textContent = stats.connections.anonymous;
  byId("connections-authenticated").textContent = stats.connections.authenticated;
  byId("channels").textContent = stats.channels;
  byId("tokens").textContent = stats.tokens;
  byId("slow-consumers").textContent = stats.slow_consumers_dropped;
  byId("connections-refused").textContent = stats.connections_refused;
  renderPusherApps(stats.pusher);
  // In a cluster, each node's own totals, as of its own report: a node that joins, leaves or
  // restarts changes the cluster's sum, not the rate, and a report that is a heartbeat older
  // than the others does not make a sawtooth.
  const readings = nodes.length === 0
    ? [{ id: "", reported_at: now, ...stats }]
    : nodes.map((node) => ({ reported_at: now, ...node }));
  const rates = new Map();
  let published = 0;
  let publications = 0;
  let delivered = 0;
  for (const node of readings) {
    const reading = {
      at: node.reported_at,
      published: node.messages_published,
      publications: node.client_publications ?? 0,
      delivered: node.frames_delivered,
    };
    const before = previous?.get(node.id);
    // The same report again (no heartbeat since): its last rate still stands.
    const entry = before !== undefined && reading.at <= before.reading.at
      ? before
      : { reading, rate: before === undefined ? undefined : rateBetween(before.reading, reading) };
    rates.set(node.id, entry);
    published += entry.rate?.published ?? 0;
    publications += entry.rate?.publications ?? 0;
    delivered += entry.rate?.delivered ?? 0;
  }
  if (previous !== null) {
    byId("rate-published").textContent = formatRate(published);
    byId("rate-publications").textContent = formatRate(publications);
    byId("rate-delivered").textContent = formatRate(delivered);
    addSample(now, published, delivered);
  }
  previous = rates;
}

/** Broadcasts, clients' publications and frames per second between two readings of one node's totals. A total below the
 * last one means the node restarted from 0. */
function rateBetween(before, after) {
  const seconds = after.at - before.at;
  return {
    published: Math.max(0, after.published - before.published) / seconds,
    publications: Math.max(0, after.publications - before.publications) / seconds,
    delivered: Math.max(0, after.delivered - before.delivered) / seconds,
  };
}

function formatRate(rate) {
  return rate >= 100 ? Math.round(rate).toLocaleString() : rate.toFixed(1);
}

function addSample(time, published, delivered) {
  series[0].push(time);
  series[1].push(published);
  series[2].push(delivered);
  while (series[0].length > 0 && series[0][0] < time - WINDOW_SECONDS) {
    for (const values of series) values.shift();
  }
  chart.setData(series);
  byId("chart").dataset.samples = String(series[0].length);
}

function createChart() {
  const element = byId("chart");
  const options = {
    width: Math.max(320, element.clientWidth),
    height: 240,
    scales: {
      // Always the last 5 minutes, however few samples there are yet.
      x: { time: true, range: (_plot, _min, max) => [max - WINDOW_SECONDS, max] },
      y: { range: (_plot, _min, max) => [0, Math.max(1, max * 1.1)] },
    },
    series: [
      {},
      { label: "Messages published / s", stroke: "#2563eb", width: 2 },
      { label: "Frames delivered / s", stroke: "#ea580c", width: 2 },
    ],
    axes: [{}, { size: 60 }],
  };
  const plot = new uPlot(options, series, element);
  globalThis.addEventListener("resize", () => {
    plot.setSize({ width: Math.max(320, element.clientWidth), height: 240 });
  });
  return plot;
}

/** Replaces a table body's rows with `rows`, each an array of cell values (as text). */
function fillTable(tableId, rows, emptyText) {
  const body = byId(tableId).tBodies[0];
  const width = byId(tableId).tHead.rows[0].cells.length;
  body.replaceChildren();
  if (rows.length === 0) rows = [[emptyText, ...Array(width - 1).fill("")]];
  for (const cells of rows) {
    const row = body.insertRow();
    for (const value of cells) row.insertCell().textContent = String(value);
  }
}

function renderBusiest(channels) {
  fillTable(
    "busiest",
    channels.map(({ name, subscribers }) => [name, subscribers]),
    "No channel has subscribers",
  );
}

function renderNodes(nodes) {
  // A standalone server is a cluster of one: its one row would repeat the totals.
  byId("nodes-section").hidden = nodes.length < 2;
  fillTable(
    "nodes",
    nodes.map((node) => [
      node.id,
      node.connections.anonymous,
      node.connections.authenticated,
      node.channels,
      node.messages_published,
      node.client_publications ?? 0,
      node.frames_delivered,
      node.slow_consumers_dropped,
      node.connections_refused,
      node.redis ?? "",
    ]),
    "",
  );
}

/** Wires a form: `run` returns the text to show in the form's output. */
function onSubmit(formId, outputId, run) {
  byId(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const output = byId(outputId);
    output.classList.remove("error");
    output.textContent = "…";
    try {
      output.textContent = await run();
    } catch (error) {
      output.classList.add("error");
      output.textContent = error.message;
    }
  });
}

/** Sends a JSON body; resolves with the answer's body, or throws its errors. */
async function send(method, path, body) {
  const init = { method };
  if (body !== undefined) {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const answer = await api(path, init);
  if (answer.status === 401) {
    forgetKey();
    showKeyForm("The key is no longer accepted.");
  }
  if (answer.status < 200 || answer.status > 299) throw new Error(errorsOf(answer));
  return answer.body;
}

/** The message field as JSON when it parses, else as a string. */
function messageValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

onSubmit("publish-form", "publish-result", async () => {
  const channel = byId("publish-channel").value.trim();
  const payload = messageValue(byId("publish-message").value);
  const { recipients } = await send(
    "POST",
    `/broadcast/${encodeURIComponent(channel)}/`,
    { payload },
  );
  return `Delivered to ${recipients} subscriber${recipients === 1 ? "" : "s"}`;
});

onSubmit("mint-form", "mint-result", async () => {
  const grant = {};
  const channels = byId("mint-channels").value.split(",").map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== "");
  if (channels.length > 0) grant.channels = channels;
  const ttl = byId("mint-ttl").value.trim();
  // Anything but digits goes as typed, for the server to say what is wrong with it.
  if (ttl !== "") grant.ttl = /^\d+$/.test(ttl) ? Number(ttl) : ttl;
  const user = byId("mint-user").value.trim();
  if (user !== "") grant.user = user;
  const answer = await send("POST", "/token/", grant);
  return answer.expires_at === undefined
    ? answer.token
    : `${answer.token} (expires ${new Date(answer.expires_at * 1000).toLocaleString()})`;
});

onSubmit("revoke-form", "revoke-result", async () => {
  const token = byId("revoke-token").value.trim();
  await send("DELETE", `/token/${encodeURIComponent(token)}/`);
  return `Revoked ${token}`;
});

start();
