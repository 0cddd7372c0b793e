import { DurableObject } from "cloudflare:workers";

/** One per simulation run (issue 8). */
export class SimulationDO extends DurableObject<Env> {}
