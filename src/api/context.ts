import type { Logger } from "../lib/logger";

export type Role = "user" | "admin";

export interface AuthUser {
  id: string;
  email: string;
  role: Role;
  /** How the request authenticated: a login JWT or an API token (id). */
  via: { kind: "jwt" } | { kind: "token"; tokenId: string };
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    logger: Logger;
    user: AuthUser;
  };
}
