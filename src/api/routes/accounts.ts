import { createRoute } from "@hono/zod-openapi";
import { CredentialsInput, ValidationResult, clearAccountCredentialsCache, validateCredentials } from "../../accounts/credentials";
import { activateAccount, accountView, createAccount, deleteAccount, getAccount, listAccounts, updateAccount } from "../../accounts/service";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";

const Name = z.string().trim().min(1, "name is required").max(64, "name is at most 64 characters");
const Network = z.enum(["mainnet", "testnet", "simulator"]);
export const AccountParams = z.object({ id: z.string().max(100).openapi({ param: { name: "id", in: "path" } }) });

const Account = z.object({
  id: z.string(), name: z.string(), network: Network, status: z.enum(["active", "disabled"]), active: z.boolean(),
  credentialVersion: z.number(),
  automations: z.object({ total: z.number(), enabled: z.number(), byType: z.record(z.string(), z.number()) }),
  feed: z.string().nullable(), lastHeartbeatAt: z.number().nullable(), createdAt: z.number(), updatedAt: z.number(),
}).openapi("ExchangeAccount");

const CreateAccount = z.strictObject({ name: Name, network: Network, credentials: CredentialsInput }).openapi("CreateExchangeAccount");
const PatchAccount = z.strictObject({ name: Name.optional(), credentials: CredentialsInput.optional(), status: z.enum(["active", "disabled"]).optional() }).openapi("PatchExchangeAccount");

const tags = ["accounts"];

export const accountRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/", tags, security, summary: "Connect an LN Markets account (credentials encrypted, never returned)",
      request: jsonBody(CreateAccount), responses: { 201: json(Account, "Created"), 402: errorResponses[402], 409: errorResponses[409], ...commonErrors } }),
    async (c) => c.json(await createAccount(c.env, c.get("user").id, c.req.valid("json"), c.get("logger")), 201),
  )
  .openapi(
    createRoute({ method: "get", path: "/", tags, security, summary: "List your accounts", responses: { 200: json(z.object({ data: z.array(Account) }), "Accounts"), ...commonErrors } }),
    async (c) => c.json({ data: await listAccounts(c.env, c.get("user").id) }, 200),
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}", tags, security, summary: "One account", request: { params: AccountParams }, responses: { 200: json(Account, "Account"), ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const row = await getAccount(c.env, user.id, c.req.valid("param").id);
      const me = await listAccounts(c.env, user.id);
      return c.json(me.find((a) => a.id === row.id) ?? accountView(row, null), 200);
    },
  )
  .openapi(
    createRoute({ method: "patch", path: "/{id}", tags, security, summary: "Rename, replace credentials (bumps the version, clears caches), enable/disable",
      request: { params: AccountParams, ...jsonBody(PatchAccount) }, responses: { 200: json(Account, "Updated"), 409: errorResponses[409], ...commonErrors } }),
    async (c) => c.json(await updateAccount(c.env, c.get("user").id, c.req.valid("param").id, c.req.valid("json"), c.get("logger")), 200),
  )
  .openapi(
    createRoute({ method: "delete", path: "/{id}", tags, security, summary: "Delete: stops its automations and forgets its state", request: { params: AccountParams }, responses: { 204: { description: "Deleted" }, ...commonErrors } }),
    async (c) => {
      await deleteAccount(c.env, c.get("user").id, c.req.valid("param").id, c.get("logger"));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/{id}/activate", tags, security, summary: "Make it the active account (schedules follow)", request: { params: AccountParams }, responses: { 200: json(Account, "Activated"), ...commonErrors } }),
    async (c) => c.json(await activateAccount(c.env, c.get("user").id, c.req.valid("param").id, c.get("logger")), 200),
  )
  .openapi(
    createRoute({ method: "post", path: "/{id}/credentials/validate", tags, security, summary: "Check the credentials live (cached 5 min per credential version)",
      request: { params: AccountParams, query: z.object({ force: z.enum(["true", "false"]).optional() }) }, responses: { 200: json(ValidationResult, "Validation"), ...commonErrors } }),
    async (c) => {
      const row = await getAccount(c.env, c.get("user").id, c.req.valid("param").id);
      return c.json(await validateCredentials(c.env, row, c.get("logger"), { force: c.req.valid("query").force === "true" }), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/{id}/credentials/cache", tags, security, summary: "Forget the cached validation and decrypted keys", request: { params: AccountParams }, responses: { 204: { description: "Cleared" }, ...commonErrors } }),
    async (c) => {
      await clearAccountCredentialsCache(c.env, await getAccount(c.env, c.get("user").id, c.req.valid("param").id));
      return c.body(null, 204);
    },
  );
