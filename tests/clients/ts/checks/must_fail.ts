// Must NOT compile (tests/clients/test_typescript_client.py expects exactly these errors): proves
// the generated types are strict (a problem's members are typed, not `any`), so the clients'
// compiling means something.
import createClient from "openapi-fetch";
import type { paths } from "../gen/registry";

const registry = createClient<paths>({ baseUrl: "http://127.0.0.1:8001" });

export async function wrong(): Promise<void> {
  const { error } = await registry.GET("/v1/zones/{zone_id}", { params: { path: { zone_id: "x" } } });
  if (error) {
    const status: string = error.status; // MUST-FAIL TS2322: status is a number
    const count: number = error.no_such_member; // MUST-FAIL TS2322: an extra member is unknown, not any
    console.log(status, count);
  }
  await registry.GET("/v1/no-such-route"); // MUST-FAIL TS2554: not a path of the API (no overload takes it)
}
