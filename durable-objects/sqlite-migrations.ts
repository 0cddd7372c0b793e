/**
 * Schema migrations for a Durable Object's SQLite: an ordered list, each applied once and
 * recorded in `_migrations`. Call it inside blockConcurrencyWhile (or the constructor).
 * Entries are never edited once released; changes are new entries at the end.
 */
export function applyMigrations(sql: SqlStorage, migrations: readonly string[]): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one().v ?? 0;
  for (let v = applied + 1; v <= migrations.length; v++) {
    sql.exec(migrations[v - 1]!);
    sql.exec("INSERT INTO _migrations (version, applied_at) VALUES (?, ?)", v, Date.now());
  }
}
