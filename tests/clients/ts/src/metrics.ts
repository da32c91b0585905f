import createClient from "openapi-fetch";
import type { paths } from "../gen/metrics";
import { describe } from "./problem";

const metrics = createClient<paths>({ baseUrl: "http://127.0.0.1:8002" });

/** The indicator catalog, every page. */
export async function indicatorCodes(): Promise<string[]> {
  const codes: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await metrics.GET("/v1/indicators", { params: { query: { limit: 500, cursor } } });
    if (error) throw new Error(describe(error));
    codes.push(...data.items.map((indicator) => indicator.code));
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return codes;
}

/** A county pushes one value (a body), and reads the first field error of a refusal. */
export async function pushGdp(token: string, zone: string, period: string, value: string): Promise<string | null> {
  const { error } = await metrics.POST("/v1/observations", {
    headers: { Authorization: `Bearer ${token}` },
    body: { observations: [{ zone_id: zone, indicator: "gdp", period, value, unit: "万元" }] },
  });
  if (!error) return null;
  const first = error.errors?.[0];
  return first ? `${error.title}: ${first.msg}` : error.title;
}

/** An xlsx or csv file uploaded as multipart (a File, not a string). */
export async function importFile(token: string, file: File): Promise<number> {
  const { data, error } = await metrics.POST("/v1/observations/import", {
    headers: { Authorization: `Bearer ${token}` },
    body: { file, dry_run: true },
    bodySerializer(body) {
      const form = new FormData();
      form.append("file", body.file, file.name);
      form.append("dry_run", String(body.dry_run ?? false));
      return form;
    },
  });
  if (error) throw new Error(describe(error));
  return data.counts.created + data.counts.updated;
}

/** The county's template downloaded as a file. */
export async function template(token: string, period: string): Promise<Blob> {
  const { data, error } = await metrics.GET("/v1/templates/observations.xlsx", {
    headers: { Authorization: `Bearer ${token}` },
    params: { query: { period } },
    parseAs: "blob",
  });
  if (error) throw new Error(describe(error));
  return data;
}
