/** Unit tests of JWT verification: every algorithm family, wrong keys, `none`, the claims and
 * their checks, and the JWKS refetch limit, against keys and a JWKS server made here. */

import assert from "node:assert/strict";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { createJwtVerifier, type JwtVerifier, looksLikeJwt } from "../src/jwt.ts";
import { tempDir } from "./process_helpers.ts";

const SECRET = "a-long-enough-test-secret-for-hmac-256";

function config(overrides: Partial<typeof DEFAULT_CONFIG>) {
  return { ...DEFAULT_CONFIG, ...overrides };
}

async function sign(
  key: CryptoKey | Uint8Array,
  alg: string,
  claims: Record<string, unknown> = { channels: ["room:*"] },
  header: Record<string, unknown> = {},
  edit: (jwt: SignJWT) => SignJWT = (jwt) => jwt.setSubject("7").setExpirationTime("1h"),
): Promise<string> {
  return await edit(new SignJWT(claims).setProtectedHeader({ alg, ...header })).sign(key);
}

async function verifierFor(overrides: Partial<typeof DEFAULT_CONFIG>): Promise<JwtVerifier> {
  const verifier = await createJwtVerifier(config(overrides));
  assert.ok(verifier !== null);
  return verifier;
}

Deno.test("createJwtVerifier() is null without a JWT option", async () => {
  assert.equal(await createJwtVerifier(DEFAULT_CONFIG), null);
});

Deno.test("HS256/384/512 tokens verify against --jwt-secret and give their grant", async () => {
  const verifier = await verifierFor({ jwtSecret: SECRET });
  const secret = new TextEncoder().encode(SECRET);
  for (const alg of ["HS256", "HS384", "HS512"]) {
    const token = await sign(secret, alg);
    assert.ok(looksLikeJwt(token));
    const result = await verifier.verify(token);
    assert.ok("grant" in result, `${alg}: ${JSON.stringify(result)}`);
    assert.deepEqual(result.grant.channels, ["room:*"]);
    assert.equal(result.grant.user, "7");
    assert.ok(result.grant.expiresAt! > Date.now() / 1000 + 3000);
  }
  const wrong = await sign(new TextEncoder().encode("another-secret-another-secret!!"), "HS256");
  assert.ok("problem" in await verifier.verify(wrong));
});

Deno.test("RS, PS, ES and EdDSA tokens verify against --jwt-public-key of their kind only", async () => {
  await using dir = await tempDir();
  const families: Array<[generate: string, algs: string[], options?: Record<string, unknown>]> = [
    ["RS256", ["RS256", "PS256"]],
    ["ES256", ["ES256"]],
    ["EdDSA", ["EdDSA"], { crv: "Ed25519" }],
  ];
  for (const [generate, algs, options] of families) {
    const { publicKey, privateKey } = await generateKeyPair(generate, {
      extractable: true,
      ...options,
    });
    const path = await dir.write(`${generate}.pem`, await exportSPKI(publicKey));
    const verifier = await verifierFor({ jwtPublicKey: path });
    for (const alg of algs) {
      const key = alg === generate
        ? privateKey
        : (await generateKeyPair(alg, { extractable: true })).privateKey;
      const result = await verifier.verify(await sign(key, alg));
      if (alg === generate) assert.ok("grant" in result, `${alg}: ${JSON.stringify(result)}`);
      else assert.ok("problem" in result, `${alg} with another key pair must fail`);
    }
    // An HS token that uses the public key's text as its secret: the classic confusion.
    const pem = new TextEncoder().encode(await exportSPKI(publicKey));
    assert.ok("problem" in await verifier.verify(await sign(pem, "HS256")), `${generate}: HS`);
  }
});

Deno.test("alg none, expired, not yet valid, wrong audience or issuer: refused", async () => {
  const verifier = await verifierFor({
    jwtSecret: SECRET,
    jwtAudience: "chat",
    jwtIssuer: "https://auth.test/",
  });
  const secret = new TextEncoder().encode(SECRET);
  const good = (jwt: SignJWT) =>
    jwt.setAudience("chat").setIssuer("https://auth.test/").setExpirationTime("1h");
  assert.ok("grant" in await verifier.verify(await sign(secret, "HS256", undefined, {}, good)));
  const base64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "");
  const none = `${base64({ alg: "none" })}.${base64({ channels: ["*"], aud: "chat" })}.`;
  const cases: Array<[string, (jwt: SignJWT) => SignJWT]> = [
    ["expired", (jwt) => good(jwt).setExpirationTime(Math.floor(Date.now() / 1000) - 10)],
    ["not yet valid", (jwt) => good(jwt).setNotBefore("1h")],
    ["wrong audience", (jwt) => good(jwt).setAudience("other")],
    ["wrong issuer", (jwt) => good(jwt).setIssuer("https://evil.test/")],
  ];
  assert.ok("problem" in await verifier.verify(none), "alg none");
  for (const [name, edit] of cases) {
    const result = await verifier.verify(await sign(secret, "HS256", undefined, {}, edit));
    assert.ok("problem" in result, name);
  }
});

Deno.test("a JWT without a channels claim grants no channel", async () => {
  const verifier = await verifierFor({ jwtSecret: SECRET });
  const token = await sign(new TextEncoder().encode(SECRET), "HS256", {});
  const result = await verifier.verify(token);
  assert.ok("grant" in result);
  assert.deepEqual(result.grant.channels, []);
  assert.deepEqual(result.grant.publish, [], "no publish claim: publishes nowhere");
  const bad = await sign(new TextEncoder().encode(SECRET), "HS256", { channels: "room" });
  assert.ok("problem" in await verifier.verify(bad));
});

Deno.test("a JWT's publish claim grants publishing, in the shape of channels", async () => {
  const verifier = await verifierFor({ jwtSecret: SECRET });
  const secret = new TextEncoder().encode(SECRET);
  const result = await verifier.verify(
    await sign(secret, "HS256", { channels: ["room:*"], publish: ["room:1"] }),
  );
  assert.ok("grant" in result);
  assert.deepEqual(result.grant.publish, ["room:1"]);
  const bad = await verifier.verify(await sign(secret, "HS256", { publish: "room:1" }));
  assert.deepEqual(bad, { problem: "claim publish: expected a list of patterns" });
});

Deno.test("--jwks-url: a rotated key is fetched for its new kid, at most once per refetch period", async () => {
  const first = await generateKeyPair("ES256", { extractable: true });
  const second = await generateKeyPair("ES256", { extractable: true });
  let served = [{ ...(await exportJWK(first.publicKey)), kid: "k1", alg: "ES256" }];
  let fetches = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    fetches++;
    return Response.json({ keys: served });
  });
  const verifier = await createJwtVerifier(
    config({ jwksUrl: `http://127.0.0.1:${server.addr.port}/jwks` }),
    { jwksRefetchMs: 300 },
  );
  assert.ok(verifier !== null);
  const one = await sign(first.privateKey, "ES256", undefined, { kid: "k1" });
  assert.ok("grant" in await verifier.verify(one));
  assert.equal(fetches, 1);
  served = [{ ...(await exportJWK(second.publicKey)), kid: "k2", alg: "ES256" }];
  const two = await sign(second.privateKey, "ES256", undefined, { kid: "k2" });
  // Within the refetch period, unknown kids do not hammer the endpoint.
  for (let i = 0; i < 5; i++) await verifier.verify(two);
  assert.ok(fetches <= 2, `${fetches} fetches`);
  await new Promise((resolve) => setTimeout(resolve, 350)); // past the refetch period
  assert.ok("grant" in await verifier.verify(two));
  assert.ok(fetches <= 3, `${fetches} fetches`);
});

Deno.test("createJwtVerifier() names --jwt-public-key when the file is missing or no public key", async () => {
  await using dir = await tempDir();
  const notAKey = await dir.write("note.pem", "hello");
  for (const path of [`${dir.path}/missing.pem`, notAKey]) {
    await assert.rejects(
      createJwtVerifier(config({ jwtPublicKey: path })),
      (error: Error) =>
        error.message.startsWith(`--jwt-public-key: cannot use ${JSON.stringify(path)}: `),
    );
  }
});

Deno.test("a JWT whose channels claim holds a bad pattern, or whose sub is too long, is refused", async () => {
  const verifier = await verifierFor({ jwtSecret: SECRET });
  const secret = new TextEncoder().encode(SECRET);
  const bad = await verifier.verify(await sign(secret, "HS256", { channels: ["ok", ""] }));
  assert.ok("problem" in bad && bad.problem.startsWith("claim channels[1]: "), JSON.stringify(bad));
  const long = await sign(
    secret,
    "HS256",
    { channels: [] },
    {},
    (jwt) => jwt.setSubject("x".repeat(129)).setExpirationTime("1h"),
  );
  assert.ok("problem" in await verifier.verify(long));
});
