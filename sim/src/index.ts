import { DurableObject } from "cloudflare:workers";

export class ExchangeDO extends DurableObject<SimEnv> {
  ping(): string {
    return "pong";
  }
}

export default {
  async fetch(req: Request, env: SimEnv): Promise<Response> {
    return Response.json({ ok: true, mode: env.SIM_MODE, path: new URL(req.url).pathname });
  },
} satisfies ExportedHandler<SimEnv>;
