import createClient from "openapi-fetch";
import type { paths } from "../gen/assessment";
import { describe } from "./problem";

const assessment = createClient<paths>({ baseUrl: "http://127.0.0.1:8003" });

/** Every published run of a period, page by page. */
export async function publishedRuns(period: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await assessment.GET("/v1/assessments", {
      params: { query: { period, status: "published", cursor } },
    });
    if (error) throw new Error(describe(error));
    ids.push(...data.items.map((run) => run.id));
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return ids;
}

/** A draft created (a body) and published; a refusal's machine-readable code is read, never its prose. */
export async function createAndPublish(token: string, period: string): Promise<string> {
  const headers = { Authorization: `Bearer ${token}`, "Idempotency-Key": `run-${period}` };
  const created = await assessment.POST("/v1/assessments", {
    headers,
    body: { methodology: "demo-econ-annual", period, kind: "economic", label: `${period} 年度综合考评` },
  });
  if (created.error) return `${created.error.title} ${created.error.errors?.[0]?.loc.join(".") ?? ""}`;
  if (!("id" in created.data)) throw new Error("a dry run was not asked for"); // 200/201: a run, or a dry run
  const published = await assessment.POST("/v1/assessments/{assessment_id}/publish", {
    headers: { Authorization: `Bearer ${token}` },
    params: { path: { assessment_id: created.data.id } },
    body: { note: "市政府审定" },
  });
  if (published.error) throw new Error(describe(published.error));
  return published.data.status;
}

/** A run's bulletin downloaded as a spreadsheet file. */
export async function bulletin(run: string): Promise<Blob> {
  const { data, error } = await assessment.GET("/v1/assessments/{assessment_id}/bulletin.xlsx", {
    params: { path: { assessment_id: run } },
    parseAs: "blob",
  });
  if (error) throw new Error(describe(error));
  return data;
}
