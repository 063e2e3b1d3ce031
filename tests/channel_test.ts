import assert from "node:assert/strict";
import { channelNameProblem, MAX_CHANNEL_NAME_BYTES } from "../src/channel.ts";

const UTF8 = new TextEncoder();

function byteLength(text: string): number {
  return UTF8.encode(text).length;
}

Deno.test("channelNameProblem() rejects an empty name", () => {
  assert.equal(channelNameProblem(""), "expected a non-empty channel name");
});

Deno.test("channelNameProblem() accepts ordinary, spaced, slashed and unicode names", () => {
  const names = [
    "news",
    "a",
    "with spaces",
    "a/b/c",
    "/leading/slash/",
    "héllo",
    "日本語",
    "emoji 🎉",
    "tab-free\u00a0nbsp", // U+00A0 is just past the C1 range
    'quotes " and \\ backslash',
  ];
  for (const name of names) assert.equal(channelNameProblem(name), null, name);
});

Deno.test("channelNameProblem() accepts 255 ASCII bytes and rejects 256", () => {
  assert.equal(MAX_CHANNEL_NAME_BYTES, 255);
  assert.equal(channelNameProblem("a".repeat(255)), null);
  assert.equal(
    channelNameProblem("a".repeat(256)),
    "expected a channel name of at most 255 UTF-8 bytes, got 256",
  );
});

Deno.test("channelNameProblem() counts multi-byte characters in UTF-8 bytes", async (t) => {
  await t.step("2-byte é: 85 chars of 170 bytes pass, 128 chars of 256 bytes fail", () => {
    const ok = "é".repeat(85) + "a".repeat(85); // 170 + 85 = 255 bytes
    assert.equal(byteLength(ok), 255);
    assert.equal(channelNameProblem(ok), null);
    const tooLong = "é".repeat(128);
    assert.equal(byteLength(tooLong), 256);
    assert.equal(
      channelNameProblem(tooLong),
      "expected a channel name of at most 255 UTF-8 bytes, got 256",
    );
  });

  await t.step("3-byte 日: 85 chars (255 bytes) pass, 86 (258 bytes) fail", () => {
    assert.equal(channelNameProblem("日".repeat(85)), null);
    assert.equal(
      channelNameProblem("日".repeat(86)),
      "expected a channel name of at most 255 UTF-8 bytes, got 258",
    );
  });

  await t.step("3-byte chars plus one ASCII byte tip 255 into 256", () => {
    const name = "日".repeat(85) + "a";
    assert.equal(name.length, 86);
    assert.equal(
      channelNameProblem(name),
      "expected a channel name of at most 255 UTF-8 bytes, got 256",
    );
  });

  await t.step("4-byte 🎉 (two UTF-16 units): 63 pass with 3 ASCII, 64 fail", () => {
    const ok = "🎉".repeat(63) + "abc"; // 252 + 3 = 255 bytes
    assert.equal(byteLength(ok), 255);
    assert.equal(channelNameProblem(ok), null);
    assert.equal(
      channelNameProblem("🎉".repeat(64)),
      "expected a channel name of at most 255 UTF-8 bytes, got 256",
    );
  });
});

Deno.test("channelNameProblem() rejects C0 controls, DEL and C1 controls", () => {
  const controls = ["\u0000", "\u0001", "\t", "\n", "\r", "\u001b", "\u001f", "\u007f", "\u0080"];
  controls.push("\u0085", "\u009f");
  for (const control of controls) {
    const code = control.codePointAt(0)!.toString(16);
    for (const name of [control, `a${control}`, `${control}b`, `a${control}b`]) {
      assert.equal(
        channelNameProblem(name),
        "expected a channel name without control characters",
        `U+${code}`,
      );
    }
  }
});

Deno.test("channelNameProblem() accepts the characters just outside the control ranges", () => {
  assert.equal(channelNameProblem(" "), null); // U+0020
  assert.equal(channelNameProblem("~"), null); // U+007E
  assert.equal(channelNameProblem("\u00a0"), null); // U+00A0
});

Deno.test("channelNameProblem() rejects lone surrogates", () => {
  const names = ["\ud800", "\udfff", "a\ud83d", "\ude00b", "\ude00\ud83d"];
  for (const name of names) {
    assert.equal(
      channelNameProblem(name),
      "expected a channel name without lone surrogates",
      JSON.stringify(name),
    );
  }
  // A surrogate pair is a valid character.
  assert.equal(channelNameProblem("\ud83d\ude00"), null);
});

Deno.test("channelNameProblem() rejects the dot segments a URL path cannot carry", () => {
  assert.equal(channelNameProblem("."), 'expected a channel name other than "."');
  assert.equal(channelNameProblem(".."), 'expected a channel name other than ".."');
  assert.equal(channelNameProblem("..."), null);
  assert.equal(channelNameProblem(".hidden"), null);
});
