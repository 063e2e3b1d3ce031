/**
 * @module
 * The contract of `TokenRegistry` (src/backend/tokens.ts): minting with a grant, lookups,
 * revocations and their announcement on every node, expiry, and the lists.
 */

import assert from "node:assert/strict";
import { OPEN_GRANT, type TokenGrant } from "../../src/grants.ts";
import type { TokenRegistry } from "../../src/backend/tokens.ts";
import { until } from "../cluster_helpers.ts";
import { withTimeout } from "../helpers.ts";
import { type ContractOptions, type ContractSuite, runSuite } from "./contract.ts";

/** Unix seconds now. */
const nowSeconds = () => Date.now() / 1000;

/** A grant naming `user`, ending at `expiresAt` (Unix seconds; null: never). */
function grantOf(user: string | null, expiresAt: number | null = null): TokenGrant {
  return { channels: ["news", "sport*"], expiresAt, user, publish: ["news"] };
}

/** Resolves with the first token `registry` announces revoked for which `accept` holds. */
function nextRevocation(
  registry: TokenRegistry,
  accept: (token: string) => boolean = () => true,
): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  registry.onRevoke((token) => {
    if (accept(token)) resolve(token);
  });
  return withTimeout(promise, "a revocation to be announced");
}

/** The `TokenRegistry` contract. */
export const tokensContract: ContractSuite = {
  title: "TokenRegistry",
  cases: {
    "a minted token is valid until revoked, and revocations are announced": async (newBackend) => {
      await using node = await newBackend();
      const { tokens } = node.backend;
      const revoked: string[] = [];
      const { promise: bothAnnounced, resolve } = Promise.withResolvers<void>();
      tokens.onRevoke((token) => {
        if (revoked.push(token) === 2) resolve();
      });
      const token = await tokens.mint();
      assert.equal(await tokens.isValid(token), true);
      assert.equal(await tokens.count(), 1);
      assert.deepEqual(await tokens.all(), [token]);
      assert.equal(await tokens.revoke(token), true);
      assert.equal(await tokens.isValid(token), false);
      assert.equal(await tokens.revoke("never-minted"), false);
      await withTimeout(bothAnnounced, "both revocations to be announced");
      assert.deepEqual(revoked, [token, "never-minted"]);
      assert.equal(await tokens.count(), 0);
    },

    "lookup() answers the minted grant, every channel forever by default, null once revoked":
      async (newBackend) => {
        await using node = await newBackend();
        const { tokens } = node.backend;
        const grant = grantOf("ann", Math.floor(nowSeconds()) + 3600);
        const granted = await tokens.mint(grant);
        const open = await tokens.mint();
        assert.deepEqual(await tokens.lookup(granted), grant);
        assert.deepEqual(await tokens.lookup(open), OPEN_GRANT);
        assert.equal(await tokens.lookup("never-minted"), null);
        assert.equal(await tokens.isValid("never-minted"), false);
        await tokens.revoke(granted);
        assert.equal(await tokens.lookup(granted), null);
        assert.deepEqual(await tokens.lookup(open), OPEN_GRANT);
      },

    "a token whose grant has expired is refused, and neither counted, listed nor named": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      const { tokens } = node.backend;
      // Whole seconds, as POST /token/ gives them; the soon one lasts 0.3 to 1.3 s.
      const past = await tokens.mint(grantOf("ann", Math.floor(nowSeconds()) - 10));
      const soon = await tokens.mint(grantOf("ann", Math.ceil(nowSeconds() + 0.3)));
      const forever = await tokens.mint(grantOf("ann"));
      assert.equal(await tokens.lookup(past), null);
      assert.equal(await tokens.isValid(past), false);
      assert.equal(await tokens.isValid(soon), true);
      assert.equal(await tokens.count(), 2);
      // In any order: the order is another case's.
      assert.deepEqual((await tokens.all()).sort(), [soon, forever].sort());
      assert.deepEqual((await tokens.userTokens("ann")).sort(), [soon, forever].sort());
      await until(async () => !await tokens.isValid(soon), "the grant to expire", 3_000);
      assert.equal(await tokens.lookup(soon), null);
      assert.equal(await tokens.count(), 1);
      assert.deepEqual(await tokens.all(), [forever]);
      assert.deepEqual(await tokens.userTokens("ann"), [forever]);
      await tokens.sweepExpired();
      assert.deepEqual(await tokens.all(), [forever]);
    },

    "userTokens() names the valid tokens whose grant names the user": async (newBackend) => {
      await using node = await newBackend();
      const { tokens } = node.backend;
      const [first, second] = [
        await tokens.mint(grantOf("ann")),
        await tokens.mint(grantOf("ann")),
      ];
      const bobs = await tokens.mint(grantOf("bob"));
      await tokens.mint();
      assert.deepEqual((await tokens.userTokens("ann")).sort(), [first, second].sort());
      assert.deepEqual(await tokens.userTokens("bob"), [bobs]);
      assert.deepEqual(await tokens.userTokens("nobody"), []);
      await tokens.revoke(first);
      assert.deepEqual(await tokens.userTokens("ann"), [second]);
    },

    "all() lists the valid tokens oldest first": async (newBackend) => {
      await using node = await newBackend();
      const { tokens } = node.backend;
      const minted: string[] = [];
      // Minted one after another, as fast as they come: several within one millisecond.
      for (let i = 0; i < 20; i++) minted.push(await tokens.mint());
      assert.deepEqual(await tokens.all(), minted);
      await tokens.revoke(minted[3]!);
      assert.deepEqual(await tokens.all(), minted.filter((_, i) => i !== 3));
    },

    "wasRevoked() says a token found valid has been revoked since": async (newBackend) => {
      await using node = await newBackend();
      const { tokens } = node.backend;
      const token = await tokens.mint();
      assert.equal(await tokens.isValid(token), true);
      assert.equal(tokens.wasRevoked(token), false);
      const heard = nextRevocation(tokens);
      await tokens.revoke(token);
      assert.equal(await heard, token);
      assert.equal(tokens.wasRevoked(token), true);
    },

    "a token minted on one node authenticates on another, and its revocation reaches both": async (
      newBackend,
    ) => {
      await using a = await newBackend();
      await using b = await newBackend({ peerOf: a });
      const grant = grantOf("ann");
      const token = await a.backend.tokens.mint(grant);
      assert.deepEqual(await b.backend.tokens.lookup(token), grant);
      assert.deepEqual(await b.backend.tokens.userTokens("ann"), [token]);
      const heardByA = nextRevocation(a.backend.tokens);
      const heardByB = nextRevocation(b.backend.tokens);
      assert.equal(await b.backend.tokens.revoke(token), true);
      assert.deepEqual(await Promise.all([heardByA, heardByB]), [token, token]);
      assert.equal(await a.backend.tokens.isValid(token), false);
      assert.equal(a.backend.tokens.wasRevoked(token), true);
    },
  },
};

/** Runs the `TokenRegistry` contract as a step of `t`. */
export function runTokensContract(t: Deno.TestContext, options: ContractOptions): Promise<void> {
  return runSuite(t, tokensContract, options);
}
