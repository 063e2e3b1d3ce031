/**
 * @module
 * JWT access tokens (`--jwt-secret`, `--jwt-public-key`, `--jwks-url`), verified with `jose`:
 * only the algorithms that fit the configured key are accepted (never `none`, never an HS token
 * against a public key); `exp` is the expiry, `sub` the user, and the `channels` claim the grant
 * (none without it: a JWT must say what it grants). The only module that imports `jose`.
 */

import { createPublicKey } from "node:crypto";
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  importSPKI,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { ConfigError } from "./config.ts";
import type { Config } from "./config.ts";
import { isUserName, MAX_USER_LENGTH, patternsProblem, type TokenGrant } from "./grants.ts";
import { errorMessage } from "./text.ts";

/** Checks JWTs and turns their claims into grants. */
export interface JwtVerifier {
  /** The grant of `token`, or why it is refused (for the debug log, never the token). */
  verify(token: string): Promise<{ grant: TokenGrant } | { problem: string }>;
}

/** How soon an unknown `kid` may make the key set be fetched again. */
export const JWKS_REFETCH_MS = 10_000;

const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;

/** Whether `token` has the shape of a JWT: three dot-separated base64url parts. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** The verifier `config` asks for, or null when no JWT option is set. Reads the public key
 * file; throws `ConfigError` naming the option when it cannot be read or is not a usable key. */
export async function createJwtVerifier(
  config: Pick<Config, "jwtSecret" | "jwtPublicKey" | "jwksUrl" | "jwtAudience" | "jwtIssuer">,
  { jwksRefetchMs = JWKS_REFETCH_MS }: { jwksRefetchMs?: number } = {},
): Promise<JwtVerifier | null> {
  const checks = {
    ...(config.jwtAudience === null ? {} : { audience: config.jwtAudience }),
    ...(config.jwtIssuer === null ? {} : { issuer: config.jwtIssuer }),
  };
  if (config.jwtSecret !== null) {
    const secret = new TextEncoder().encode(config.jwtSecret);
    // Imported once per hash, not at every check.
    const keys = new Map<string, Promise<CryptoKey>>();
    const keyFor = (alg: string) => {
      let key = keys.get(alg);
      if (key === undefined) {
        const hash = `SHA-${alg.slice(2)}`;
        key = crypto.subtle.importKey("raw", secret, { name: "HMAC", hash }, false, ["verify"]);
        keys.set(alg, key);
      }
      return key;
    };
    return verifierWith(keyFor, [...HMAC_ALGORITHMS], checks);
  }
  if (config.jwtPublicKey !== null) {
    const { keys, algorithms } = await readPublicKey(config.jwtPublicKey);
    return verifierWith((alg) => keys(alg), algorithms, checks);
  }
  if (config.jwksUrl !== null) {
    const keySet = createRemoteJWKSet(new URL(config.jwksUrl), {
      cooldownDuration: jwksRefetchMs,
      timeoutDuration: 5_000,
    });
    return verifierWithKeySet(keySet, checks);
  }
  return null;
}

type Checks = { audience?: string; issuer?: string };

function verifierWith(
  keyFor: (alg: string) => Promise<CryptoKey>,
  algorithms: string[],
  checks: Checks,
): JwtVerifier {
  return {
    async verify(token) {
      try {
        const { alg } = decodeProtectedHeader(token);
        if (alg === undefined || !algorithms.includes(alg)) {
          return { problem: `algorithm ${JSON.stringify(alg)} does not fit the configured key` };
        }
        const { payload } = await jwtVerify(token, await keyFor(alg), { algorithms, ...checks });
        return grantOf(payload);
      } catch (error) {
        return { problem: errorMessage(error) };
      }
    },
  };
}

function verifierWithKeySet(keySet: JWTVerifyGetKey, checks: Checks): JwtVerifier {
  // Every asymmetric family; a JWKS key's own `alg` and type narrow it further.
  const algorithms = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
  ];
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keySet, { algorithms, ...checks });
        return grantOf(payload);
      } catch (error) {
        return { problem: errorMessage(error) };
      }
    },
  };
}

/** The grant of verified claims: `exp`, `sub`, `channels` (required to grant anything) and
 * `publish` (required to publish anywhere). */
function grantOf(payload: JWTPayload): { grant: TokenGrant } | { problem: string } {
  const { channels = [], publish = [], sub, exp } = payload as JWTPayload & {
    channels?: unknown;
    publish?: unknown;
  };
  const problem = patternsProblem(channels, "channels") ?? patternsProblem(publish, "publish");
  if (problem !== null) return { problem: `claim ${problem}` };
  if (typeof sub === "string" && !isUserName(sub)) {
    return {
      problem: `claim sub: expected at most ${MAX_USER_LENGTH} characters, without lone surrogates`,
    };
  }
  return {
    grant: {
      channels: channels as string[],
      expiresAt: exp ?? null,
      user: typeof sub === "string" ? sub : null,
      publish: publish as string[],
    },
  };
}

/** The algorithms a PEM public key may verify, and the key for each. */
async function readPublicKey(
  path: string,
): Promise<{ keys: (alg: string) => Promise<CryptoKey>; algorithms: string[] }> {
  let pem: string;
  let algorithms: string[];
  try {
    pem = await Deno.readTextFile(path);
    algorithms = algorithmsOf(pem);
  } catch (error) {
    throw new ConfigError([
      `--jwt-public-key: cannot use ${JSON.stringify(path)}: ${errorMessage(error)}`,
    ]);
  }
  const imported = new Map<string, Promise<CryptoKey>>();
  const keys = (alg: string) => {
    let key = imported.get(alg);
    if (key === undefined) imported.set(alg, key = importSPKI(pem, alg));
    return key;
  };
  return { keys, algorithms };
}

/** The JWS algorithms that fit the public key in `pem`. */
function algorithmsOf(pem: string): string[] {
  const key = createPublicKey(pem);
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = {
        "prime256v1": "ES256",
        "P-256": "ES256",
        "secp384r1": "ES384",
        "P-384": "ES384",
        "secp521r1": "ES512",
        "P-521": "ES512",
      }[curve ?? ""];
      if (alg === undefined) throw new Error(`unsupported curve ${curve}`);
      return [alg];
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new Error(`expected an RSA, EC or Ed25519 public key, got ${key.asymmetricKeyType}`);
  }
}
