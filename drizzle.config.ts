import { defineConfig } from "drizzle-kit";

// Migrations are generated flat (NNNN_name.sql) so wrangler and readD1Migrations read them.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
  migrations: { prefix: "index" },
});
