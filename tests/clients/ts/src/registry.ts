import createClient from "openapi-fetch";
import type { paths } from "../gen/registry";
import { describe } from "./problem";

const registry = createClient<paths>({ baseUrl: "http://127.0.0.1:8001" });

/** Every active zone, following `next_cursor` page by page. */
export async function activeZoneNames(): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await registry.GET("/v1/zones", {
      params: { query: { status: "active", limit: 100, cursor } },
    });
    if (error) throw new Error(describe(error));
    names.push(...data.items.map((zone) => zone.name));
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return names;
}

/** A body sent: the lineages of several zones at once. */
export async function predecessorsOf(zoneIds: string[]): Promise<number> {
  const { data, error } = await registry.POST("/v1/zones/lineages", { body: { zone_ids: zoneIds } });
  if (error) {
    const title: string = error.title;
    throw new Error(`${title} ${error.errors?.[0]?.msg ?? ""}`);
  }
  return Object.keys(data.lineages).length;
}

/** The change feed followed from a cursor: `next_cursor` is always set, act ids are strings. */
export async function changesAfter(cursor?: string): Promise<{ ids: string[]; next: string }> {
  const { data, error } = await registry.GET("/v1/changes", { params: { query: { limit: 100, cursor } } });
  if (error) throw new Error(describe(error));
  const ids: string[] = data.items.map((change) => change.id);
  const next: string = data.next_cursor;
  return { ids, next };
}
