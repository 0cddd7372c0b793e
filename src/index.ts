import { DurableObject } from "cloudflare:workers";
export class AccountDO extends DurableObject<Env> {}
export class SimulationDO extends DurableObject<Env> {}
export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    return env.LNM_SIM.fetch("http://sim/hello");
  },
} satisfies ExportedHandler<Env>;
