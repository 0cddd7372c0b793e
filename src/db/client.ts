import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof makeDb>;

const makeDb = (d1: D1Database) => drizzle(d1, { schema });

// drizzle() walks the whole schema to build its relational config on every call (measured as
// most of the CPU of a D1 read on the account DO's alarm path), so one handle is kept per D1
// binding object. The handle holds no connection or request state: sharing it is safe.
const handles = new WeakMap<D1Database, Db>();

/** A drizzle handle on the D1 binding, built once per binding. */
export function getDb(env: Pick<Env, "DB">): Db {
  let db = handles.get(env.DB);
  if (!db) {
    db = makeDb(env.DB);
    handles.set(env.DB, db);
  }
  return db;
}

export { schema };
