declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** The long form of the API fuzz test (`npm run fuzz`): total requests; "" in the suite. */
    FUZZ_REQUESTS: string;
  }
}
