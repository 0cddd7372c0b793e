import { DurableObject } from "cloudflare:workers";

/** One per exchange account: stream socket, scheduler, executor (issue 6). */
export class AccountDO extends DurableObject<Env> {}
