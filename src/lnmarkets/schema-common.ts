/**
 * Pieces shared by the REST v3 (schemas.ts) and stream v1 (stream-schemas.ts) schemas: the
 * trade enums and the lenient field kinds.
 */
import { z } from "zod";

export const FuturesTradeSide = z.enum(["buy", "sell"]);
export type FuturesTradeSide = z.infer<typeof FuturesTradeSide>;

export const FuturesTradeType = z.enum(["market", "limit"]);
export type FuturesTradeType = z.infer<typeof FuturesTradeType>;

export const FuturesStoplossMode = z.enum(["fixed", "trailing"]);
export type FuturesStoplossMode = z.infer<typeof FuturesStoplossMode>;

// Lenient field kinds: a field the platform does not read is optional and, should it come
// with another type, dropped (`catch`) rather than failing the parse.
export const optNumber = z.number().optional().catch(undefined);
export const optString = z.string().optional().catch(undefined);
export const optBoolean = z.boolean().optional().catch(undefined);
export const optNullableNumber = z.number().nullable().optional().catch(undefined);
export const optNullableString = z.string().nullable().optional().catch(undefined);
