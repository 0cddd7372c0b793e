/** The list routes' query (`cursor`, `limit`); the cursor helpers live in src/lib/pagination.ts. */
import { z } from "@hono/zod-openapi";

export { decodeCursor, encodeCursor, olderThan, page, type Cursor } from "../lib/pagination";

export const PageQuery = z.object({
  cursor: z.string().max(400).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
