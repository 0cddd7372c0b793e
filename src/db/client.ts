import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof getDb>;

/** A drizzle handle on the D1 binding (cheap: no connection to open). */
export function getDb(env: Pick<Env, "DB">) {
  return drizzle(env.DB, { schema });
}

export { schema };
