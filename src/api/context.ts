import type { Logger } from "../lib/logger";

export type Role = "user" | "admin";

/** API token scopes, each including the ones before it: read < trade < admin. */
export const TOKEN_SCOPES = ["read", "trade", "admin"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface AuthUser {
  id: string;
  email: string;
  role: Role;
  /**
   * How the request authenticated: a login JWT, an API token (id and scopes) or a single-use
   * WebSocket ticket (upgrades only).
   */
  via: { kind: "jwt" } | { kind: "token"; tokenId: string; scopes: readonly TokenScope[] } | { kind: "ticket" };
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    logger: Logger;
    user: AuthUser;
  };
}
