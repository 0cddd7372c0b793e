/** Cursor pagination over (created_at, id) descending: stable under inserts. */
import { z } from "@hono/zod-openapi";
import { ApiError } from "./errors";

export const PageQuery = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function encodeCursor(at: number, id: string): string {
  return btoa(`${at}:${id}`).replaceAll("=", "");
}

export function decodeCursor(cursor: string | undefined): { at: number; id: string } | null {
  if (!cursor) return null;
  try {
    const [at, id] = atob(cursor).split(":");
    if (!at || !id || !Number.isFinite(Number(at))) throw new Error("bad");
    return { at: Number(at), id };
  } catch {
    throw new ApiError("validation_error", "Invalid cursor", [{ path: "cursor", message: "not a cursor returned by this API", code: "invalid_cursor" }]);
  }
}

/** `rows` fetched with limit + 1: the extra row says whether another page exists. */
export function page<T extends { id: string }>(rows: T[], limit: number, at: (r: T) => number) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(at(last), last.id) : null };
}
