import { beforeEach, describe, expect, it } from "vitest";
import { control, sim } from "./helpers";

const create = (body: unknown, key: string | null = "invoice-key") =>
  sim("/lnbits/api/v1/payments", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) },
    body: JSON.stringify(body),
  });
const check = (hash: string) => sim(`/lnbits/api/v1/payments/${hash}`, { headers: { "x-api-key": "invoice-key" } });

beforeEach(async () => {
  await control("POST", "/reset");
});

describe("fake LNbits", () => {
  it("creates an invoice, reports it unpaid, then paid after the control API pays it", async () => {
    const res = await create({ out: false, amount: 21_000, memo: "pro plan", expiry: 3600 });
    expect(res.status).toBe(201);
    const inv = (await res.json()) as { payment_hash: string; payment_request: string };
    expect(inv.payment_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(inv.payment_request).toMatch(/^lnbcrt210000n1/);

    const before = (await (await check(inv.payment_hash)).json()) as { paid: boolean; status: string };
    expect(before).toMatchObject({ paid: false, status: "pending" });

    expect(await control("POST", `/invoices/${inv.payment_hash}/pay`)).toEqual({ paid: true, payment_hash: inv.payment_hash });
    const after = (await (await check(inv.payment_hash)).json()) as { paid: boolean; details: { amount: number; memo: string } };
    expect(after).toMatchObject({ paid: true, details: { amount: 21_000_000, memo: "pro plan" } });
  });

  it("requires an X-Api-Key and validates the body", async () => {
    expect((await create({ out: false, amount: 1 }, null)).status).toBe(401);
    expect((await create({ out: true, amount: 1 })).status).toBe(400);
    expect((await create({ out: false, amount: 0 })).status).toBe(400);
  });

  it("404 for an unknown hash; an expired invoice cannot be paid", async () => {
    expect((await check("00".repeat(32))).status).toBe(404);
    expect((await sim(`/__sim/invoices/${"00".repeat(32)}/pay`, { method: "POST" })).status).toBe(404);
    const inv = (await (await create({ out: false, amount: 5, expiry: 1 })).json()) as { payment_hash: string };
    await new Promise((r) => setTimeout(r, 1100));
    expect(await (await check(inv.payment_hash)).json()).toMatchObject({ paid: false, status: "expired" });
    expect((await sim(`/__sim/invoices/${inv.payment_hash}/pay`, { method: "POST" })).status).toBe(409);
  });

  it("the lightningDown fault fails creation and checks until cleared", async () => {
    const inv = (await (await create({ out: false, amount: 5 })).json()) as { payment_hash: string };
    await control("POST", "/faults", { lightningDown: true });
    expect((await create({ out: false, amount: 5 })).status).toBe(503);
    expect((await check(inv.payment_hash)).status).toBe(503);
    await control("DELETE", "/faults");
    expect((await check(inv.payment_hash)).status).toBe(200);
  });
});
