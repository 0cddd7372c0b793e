/**
 * Cursor pagination over (timestamp, id) descending, stable under inserts, for every list
 * (services and routes alike; the query schema is src/api/pagination.ts). The cursor is
 * opaque to clients: base64url of `at:id` (ids may contain ':', so only the first one
 * separates).
 */
import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { fromBase64Url, toBase64Url, utf8 } from "./encoding";
import { ValidationError } from "./errors";

export interface Cursor {
  at: number;
  id: string;
}

export function encodeCursor(at: number, id: string): string {
  return toBase64Url(utf8(`${at}:${id}`));
}

/** @throws ValidationError (400) naming `cursor` when it is not one this API returned. */
export function decodeCursor(cursor: string | undefined): Cursor | null {
  if (!cursor) return null;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64Url(cursor));
    const sep = text.indexOf(":");
    const at = Number(text.slice(0, sep));
    const id = text.slice(sep + 1);
    if (sep < 1 || !Number.isSafeInteger(at) || !id) throw new Error("bad cursor");
    return { at, id };
  } catch {
    throw new ValidationError([{ path: "cursor", message: "not a cursor returned by this API", code: "invalid_cursor" }], "Invalid cursor");
  }
}

/** Rows strictly after the cursor in (at desc, id desc) order; undefined without a cursor. */
export function olderThan(at: AnySQLiteColumn, id: AnySQLiteColumn, cursor: Cursor | null): SQL | undefined {
  return cursor ? or(lt(at, cursor.at), and(eq(at, cursor.at), lt(id, cursor.id))) : undefined;
}

/** `rows` fetched with limit + 1: the extra row says whether another page exists. */
export function page<T extends { id: string }>(rows: T[], limit: number, at: (r: T) => number): { data: T[]; nextCursor: string | null } {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(at(last), last.id) : null };
}
