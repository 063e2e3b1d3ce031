import assert from "node:assert/strict";
import { HostCheck, isLoopback } from "../src/host_check.ts";

/** What `check` says of a request whose `Host` is `host` (none when null). */
function refusalOf(check: HostCheck, host: string | null): string | undefined {
  const headers: Record<string, string> = host === null ? {} : { host };
  return check.refusal(new Request("http://127.0.0.1:8001/token/", { headers }));
}

const LOOPBACK_HOSTS = [
  "localhost",
  "localhost:8001",
  "LocalHost:8001",
  "localhost.:8001",
  "app.localhost:5173",
  "127.0.0.1",
  "127.0.0.1:8001",
  "127.1.2.3:80",
  "127.1:8001",
  "[::1]",
  "[::1]:8001",
  "[0:0:0:0:0:0:0:1]:8001",
  "[::ffff:127.0.0.1]:8001",
];

const OTHER_HOSTS = [
  "evil.example",
  "evil.example:8001",
  "localhost.evil.example",
  "127.0.0.1.nip.io:8001",
  "localhostx:8001",
  "128.0.0.1:8001",
  "0.0.0.0:8001",
  "10.0.0.5:8001",
  "[::2]:8001",
  "localhost@evil.example",
  "evil.example/localhost",
  "localhost:8001:8001",
  "[::1",
  ":8001",
];

Deno.test("HostCheck answers loopback names and addresses, with any port, and no other", () => {
  const check = new HostCheck([]);
  for (const host of LOOPBACK_HOSTS) assert.equal(refusalOf(check, host), undefined, host);
  for (const host of OTHER_HOSTS) {
    assert.equal(
      refusalOf(check, host),
      `host: ${JSON.stringify(host)} is not allowed (see --allowed-hosts)`,
      host,
    );
  }
});

Deno.test("HostCheck answers a request without a Host: only a non-browser client omits it", () => {
  assert.equal(refusalOf(new HostCheck([]), null), undefined);
  assert.equal(refusalOf(new HostCheck([]), ""), undefined);
});

Deno.test("HostCheck answers the --allowed-hosts names too, in any case and with any port", () => {
  const check = new HostCheck(["Boreas.example", "10.0.0.5", "fd00::1", "[fd00::2]", "0.0.0.0"]);
  const allowed = [
    "boreas.example",
    "BOREAS.EXAMPLE:8001",
    "boreas.example.:443",
    "10.0.0.5:8001",
    "[fd00::1]:8001",
    "[fd00:0::2]",
    "0.0.0.0:8001",
    "localhost:8001",
  ];
  for (const host of allowed) assert.equal(refusalOf(check, host), undefined, host);
  for (const host of ["www.boreas.example", "boreas.example.evil", "10.0.0.6", "[fd00::3]"]) {
    assert.notEqual(refusalOf(check, host), undefined, host);
  }
});

Deno.test("HostCheck with * answers any Host", () => {
  const check = new HostCheck(["*"]);
  for (const host of [...LOOPBACK_HOSTS, ...OTHER_HOSTS]) {
    assert.equal(refusalOf(check, host), undefined, host);
  }
});

Deno.test("isLoopback() accepts loopback hosts only", () => {
  const loopback = ["127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost", "::1", "[::1]"];
  for (const host of [...loopback, "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "a.localhost"]) {
    assert.equal(isLoopback(host), true, host);
  }
  const others = ["0.0.0.0", "::", "10.0.0.1", "192.168.1.10", "128.0.0.1", "127.0.0.1.nip.io"];
  for (const host of [...others, "localhost.example.com", "1127.0.0.1", ""]) {
    assert.equal(isLoopback(host), false, host);
  }
});
