import { describe, expect, it } from "vitest";
import { CredentialsCryptoError, loadKeyRing, open, seal } from "../src/lib/credentials-crypto";

const K1 = btoa("0123456789abcdef0123456789abcdef");
const K2 = btoa("fedcba9876543210fedcba9876543210");
const ring1 = loadKeyRing(JSON.stringify({ current: "k1", keys: { k1: K1 } }));
const ring2 = loadKeyRing(JSON.stringify({ current: "k2", keys: { k1: K1, k2: K2 } }));

describe("AES-256-GCM credentials", () => {
  it("round-trips with a fresh IV each time, in the v1:{keyId}:{iv}:{ct} format", async () => {
    const a = await seal(ring1, "acc_1", "hello secret");
    const b = await seal(ring1, "acc_1", "hello secret");
    expect(a.value).toMatch(/^v1:k1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(a.value).not.toBe(b.value);
    expect(a.value).not.toContain("hello");
    expect((await open(ring1, "acc_1", a.value)).plaintext).toBe("hello secret");
  });

  it("detects tampering", async () => {
    const a = await seal(ring1, "acc_1", "hello secret");
    const parts = a.value.split(":");
    const ct = atob(parts[3]!);
    const flipped = btoa(String.fromCharCode(ct.charCodeAt(0) ^ 1) + ct.slice(1));
    await expect(open(ring1, "acc_1", [parts[0], parts[1], parts[2], flipped].join(":"))).rejects.toBeInstanceOf(CredentialsCryptoError);
  });

  it("binds the ciphertext to its account (AAD)", async () => {
    const a = await seal(ring1, "acc_1", "hello secret");
    await expect(open(ring1, "acc_2", a.value)).rejects.toThrow(/could not be decrypted/);
  });

  it("rotates: old ciphertexts still open under a new current key and are flagged stale", async () => {
    const old = await seal(ring1, "acc_1", "rotate me");
    const opened = await open(ring2, "acc_1", old.value);
    expect(opened).toMatchObject({ plaintext: "rotate me", keyId: "k1", stale: true });
    const fresh = await seal(ring2, "acc_1", opened.plaintext);
    expect(fresh.keyId).toBe("k2");
    expect((await open(ring2, "acc_1", fresh.value)).stale).toBe(false);
  });

  it("refuses a malformed key ring without echoing key material", () => {
    expect(() => loadKeyRing('{"current":"x","keys":{"x":"c2hvcnQ="}}')).toThrow(/malformed/);
    try {
      loadKeyRing('{"current":"x","keys":{"x":"c2hvcnQ="}}');
    } catch (e) {
      expect(String(e)).not.toContain("c2hvcnQ=");
    }
    expect(() => loadKeyRing(undefined)).toThrow(/not configured/);
  });
});
