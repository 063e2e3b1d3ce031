/**
 * @module
 * Starts Boreas: builds the hub and token store, and serves the HTTP API and the WebSocket
 * endpoint on their own listeners (`listener.ts` makes the only `Deno.serve` calls). Prints
 * nothing itself.
 */

import { createApi } from "./api/mod.ts";
import { type Backend } from "./backend/backend.ts";
import { composeBackend } from "./backend/compose.ts";
import { errorResponse, HttpError } from "./api/response.ts";
import type { Config } from "./config.ts";
import type { ConnectionLimits } from "./session/context.ts";
import { Hub } from "./hub.ts";
import { type Logger, silentLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { CLOSE } from "./protocol.ts";
import type { BlockJournal, TokenJournal } from "./token_journal.ts";
import type { TokenRegistry } from "./backend/tokens.ts";
import type { TokenGrant } from "./grants.ts";
import type { Block } from "./blocks.ts";
import { errorMessage } from "./text.ts";
import { settlesWithin } from "./timing.ts";
import { createWsEndpoint } from "./transports/endpoint.ts";
import { createJwtVerifier } from "./jwt.ts";
import { createWebhooks } from "./webhooks/mod.ts";
import { createPusherWebhooks, type PusherWebhooks } from "./webhooks/pusher.ts";
import { createPublishHook } from "./hooks/publish_hook.ts";
import { PusherApps } from "./session/pusher_apps.ts";
import { PusherPresence } from "./session/pusher_presence.ts";
import { createPusherApi, withPusherApi } from "./api/pusher/mod.ts";
import { hostPort, urlHost } from "./address.ts";
import { Listener } from "./listener.ts";

/** What `startServer` takes besides the configuration. */
export interface ServerDeps {
  /** Default: a logger that drops everything. */
  readonly logger?: Logger;
  /** Tokens valid from the start, e.g. from a token provider. Default: none. */
  readonly tokens?: Iterable<string>;
  /** Standalone only: where token changes and blocks made through the API are kept; the
   * server closes it on shutdown. Default: none, tokens and blocks live in memory only. */
  readonly journal?: (TokenJournal & BlockJournal) | undefined;
  /** What the startup tokens minted with grants grant (the token store's). Default: none. */
  readonly grants?: ReadonlyMap<string, TokenGrant>;
  /** Standalone only: the users blocked at startup (the token store's). Default: none. */
  readonly blocks?: ReadonlyMap<string, Block>;
  /** How long an upgraded WebSocket may take to open before the server forgets it, in
   * milliseconds. Default: 10 s (`OPEN_TIMEOUT_MS`); tests shorten it. */
  readonly openTimeoutMs?: number;
}

/** A started server. Disposing it shuts it down. */
export interface RunningServer extends AsyncDisposable {
  /** The address the HTTP API is bound to (the real port when 0 was asked for). */
  readonly apiAddr: Deno.NetAddr;
  /** The address the WebSocket endpoint is bound to. */
  readonly wsAddr: Deno.NetAddr;
  /** `http://host:port` of the API, usable by a client on this machine. */
  readonly apiUrl: string;
  /** `ws://host:port/` of the WebSocket endpoint. */
  readonly wsUrl: string;
  readonly hub: Hub;
  readonly tokens: TokenRegistry;
  /** What this node shares with the others (itself alone, standalone). */
  readonly cluster: Backend;
  readonly metrics: Metrics;
  /** Shuts down gracefully: `/health` answers 503 and new upgrades are refused, every
   * WebSocket is closed with 1001 `server shutting down`, then both listeners stop, the
   * HTTP requests in flight finish, and the node leaves the cluster. Resolves to false when that took longer than
   * `--shutdown-timeout` and was cut short. Safe to call more than once. */
  shutdown(): Promise<boolean>;
}

/** A listener could not be bound; the message names the option and the address. */
export class ListenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ListenError";
  }
}

/** Starts both listeners. Throws `ListenError` when either cannot be bound (and then leaves
 * nothing running). */
export async function startServer(
  config: Config,
  deps: ServerDeps = {},
): Promise<RunningServer> {
  const {
    logger = silentLogger(),
    tokens: initialTokens = [],
    journal,
    grants,
    blocks,
    openTimeoutMs,
  } = deps;
  // Before anything starts: a key that cannot be used is a configuration error.
  const jwt = await createJwtVerifier(config);
  const hub = new Hub();
  const metrics = new Metrics();
  const pusherWebhooks = createPusherWebhooks(config.pusherApps, {
    queueSize: config.webhookQueueSize,
    logger,
    metrics,
  });
  const webhooks = createWebhooks(config, {
    logger,
    metrics,
    ...(pusherWebhooks.isOn ? { adapter: pusherWebhooks } : {}),
  });
  const cluster = composeBackend(config, {
    events: webhooks.isOn ? webhooks : undefined,
    hub,
    metrics,
    logger,
    tokens: initialTokens,
    journal,
    grants,
    blocks,
  });
  const { tokens, membership } = cluster;
  const publishHook = createPublishHook(config, { node: cluster.nodeId, logger });
  tokens.onRevoke((token) => hub.disconnectToken(token, CLOSE.revoked.code, CLOSE.revoked.reason));
  let isShuttingDown = false;
  const apiHandler = createApi({
    hub,
    cluster,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    bodyTimeout: config.bodyTimeout,
    debug: config.debug,
    dashboard: config.dashboard,
    apiKeys: config.apiKey,
    allowedHosts: [...config.allowedHosts, config.apiHost],
    corsOrigins: config.corsOrigin,
    isShuttingDown: () => isShuttingDown,
  });
  const pusherApps = config.pusherApps.length === 0 ? undefined : pusherAppsOf(config, {
    cluster,
    metrics,
    webhooks: pusherWebhooks,
  });
  const pusherApi = pusherApps === undefined ? undefined : createPusherApi({
    apps: pusherApps,
    broker: cluster.broker,
    cache: cluster.cache,
    membership,
    members: pusherApps.members,
    users: cluster.users,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    bodyTimeout: config.bodyTimeout,
  });
  const apiAndPusher = withPusherApi(apiHandler, pusherApi);
  const endpoint = createWsEndpoint(
    {
      hub,
      tokens,
      blocks: cluster.users,
      membership,
      history: cluster.history,
      members: cluster.members,
      jwt,
      events: webhooks,
      nodeId: cluster.nodeId,
      metrics,
      logger,
      requireAuth: config.requireAuth,
      limits: limitsOf(config),
      broker: cluster.broker,
      clientPublish: config.clientPublish,
      publishHook,
    },
    {
      maxConnections: config.maxConnections,
      maxAnonymousConnections: config.maxAnonymousConnections,
      pingIntervalSeconds: config.pingInterval,
      allowedOrigins: config.allowedOrigins,
      // An API key marks a deployment reached by name (the container's); see the API's check.
      allowedHosts: config.apiKey.length > 0 ? null : [...config.allowedHosts, config.wsHost],
      pusherApps,
      pusherApi,
      openTimeoutMs,
    },
  );

  const apiRequests = new InFlight();
  const api = listen("api", {
    hostname: config.apiHost,
    port: config.apiPort,
    handler: (request) => apiRequests.track(apiAndPusher(request)),
    reusePort: config.reusePort,
    logger,
    metrics,
  });
  let ws: Listener;
  try {
    ws = listen("ws", {
      hostname: config.wsHost,
      port: config.wsPort,
      handler: endpoint.handler,
      reusePort: config.reusePort,
      logger,
      metrics,
    });
  } catch (error) {
    await api.shutdown();
    await publishHook?.[Symbol.asyncDispose]();
    await cluster.close();
    await webhooks[Symbol.asyncDispose]();
    await pusherWebhooks[Symbol.asyncDispose]();
    throw error;
  }

  const shutdown = once(async () => {
    isShuttingDown = true;
    // The node stays counted as it is until it leaves: its connections and its place in the
    // cluster's lists go together.
    cluster.startLeaving();
    const deadline = Date.now() + config.shutdownTimeout * 1000;
    const left = () => deadline - Date.now();
    // Our own close frames first: Deno's shutdown would close the sockets with its own reason.
    const areSocketsClosed = await endpoint.closeAll(CLOSE.shuttingDown, left());
    // Deno's shutdown can cut off a request still reading its body, so wait for those first.
    const areRequestsDone = await settlesWithin(apiRequests.idle(), left());
    const areListenersDone = await settlesWithin(
      Promise.all([api.shutdown(), ws.shutdown()]),
      left(),
    );
    const isClean = areSocketsClosed && areRequestsDone && areListenersDone;
    if (!isClean) logger.warn("shutdown timed out", { openConnections: endpoint.size });
    // Publications still waiting for the backend are refused, not sent to a closing cluster.
    await publishHook?.[Symbol.asyncDispose]();
    await cluster.close();
    // After the connections closed: their events get one last try.
    await webhooks[Symbol.asyncDispose]();
    await pusherWebhooks[Symbol.asyncDispose]();
    await journal?.[Symbol.asyncDispose]();
    return isClean;
  });
  return {
    apiAddr: api.addr,
    wsAddr: ws.addr,
    apiUrl: `http://${urlHost(api.addr.hostname)}:${api.addr.port}`,
    wsUrl: `ws://${urlHost(ws.addr.hostname)}:${ws.addr.port}/`,
    hub,
    tokens,
    cluster,
    metrics,
    shutdown,
    [Symbol.asyncDispose]: async () => {
      await shutdown();
    },
  };
}

/** The Pusher apps of `config`, their presence channels' members followed by the cluster
 * with no leave delay: Pusher sends `member_removed` as a user's last connection goes. */
function pusherAppsOf(
  config: Config,
  { cluster, metrics, webhooks }: { cluster: Backend; metrics: Metrics; webhooks: PusherWebhooks },
): PusherApps {
  const presence = new PusherPresence();
  const members = cluster.addMembers(":pusher", {
    format: presence,
    leaveDelayMs: 0,
    maxMembersListed: config.maxMembersListed,
    events: webhooks.isOn ? webhooks : undefined,
  });
  return new PusherApps(config.pusherApps, metrics, {
    presence,
    members,
    webhooks,
    cache: cluster.cache,
    broker: cluster.broker,
  });
}

/** The per-connection limits of `config`, in the units `Connection` takes. */
function limitsOf(config: Config): ConnectionLimits {
  return {
    maxFrameBytes: config.maxFrameBytes,
    maxChannelsPerConnection: config.maxChannelsPerConnection,
    maxClientMessagesPerSecond: config.maxClientMessagesPerSecond,
    maxBufferedBytes: config.maxBufferedBytes,
    authTimeoutMs: config.authTimeout * 1000,
    maxPublishBytes: config.maxPublishBytes,
  };
}

/** `run`, started on the first call only; every call gets the same promise. */
function once<T>(run: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => started ??= run();
}

/** Counts the requests being answered, so shutdown can wait for them. */
class InFlight {
  #count = 0;
  #idle: (() => void) | undefined;

  // Made once: `track` runs for every request.
  readonly #answered = (response: Response): Response => {
    this.#settled();
    return response;
  };
  readonly #failed = (error: unknown): never => {
    this.#settled();
    throw error;
  };

  /** Counts `answer` until it settles. */
  track(answer: Promise<Response>): Promise<Response> {
    this.#count++;
    return answer.then(this.#answered, this.#failed);
  }

  #settled(): void {
    if (--this.#count === 0) this.#idle?.();
  }

  /** Resolves once no request is being answered. */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle = resolve);
  }
}

/** Serves `handler`; `listener` is `api` or `ws`, whose `--X-host` and `--X-port` options a
 * failure to bind names. Bound again when its accept loop stops (`listener.ts`). */
function listen(
  listener: "api" | "ws",
  { hostname, port, handler, reusePort, logger, metrics }: {
    hostname: string;
    port: number;
    handler: Deno.ServeHandler<Deno.NetAddr>;
    reusePort: boolean;
    logger: Logger;
    metrics: Metrics;
  },
): Listener {
  // Handlers answer their own errors; this only catches what escapes them, without a stack.
  const onError = (error: unknown) => {
    logger.error("unhandled error", { listener, error: String(error) });
    return errorResponse(new HttpError(500, "internal error"));
  };
  try {
    // reusePort only when asked: it needs --unstable-net, which `deno task start` passes.
    return new Listener({
      name: listener,
      hostname,
      port,
      handler,
      onError,
      reusePort,
      logger,
      onRestart: () => metrics.listenerRestarts++,
    });
  } catch (error) {
    const isInUse = error instanceof Deno.errors.AddrInUse;
    const option = `--${listener}-${isInUse ? "port" : "host"}`;
    const reason = isInUse ? "address already in use" : errorMessage(error);
    throw new ListenError(`${option}: cannot listen on ${hostPort(hostname, port)}: ${reason}`, {
      cause: error,
    });
  }
}
