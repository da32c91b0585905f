import createClient from "openapi-fetch";
import type { paths } from "../gen/permits";
import { describe } from "./problem";

const permits = createClient<paths>({ baseUrl: "http://127.0.0.1:8004" });

/** A zone's catalog of approval items, page by page. */
export async function itemNames(zone: string): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await permits.GET("/v1/catalog", { params: { query: { zone_id: zone, cursor } } });
    if (error) throw new Error(describe(error));
    names.push(...data.items.map((item) => item.name));
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return names;
}

/** A material uploaded as multipart, then an application handed in with it (a body). */
export async function apply(token: string, zone: string, item: string, material: File): Promise<string> {
  const auth = { Authorization: `Bearer ${token}` };
  const uploaded = await permits.POST("/v1/files", {
    headers: auth,
    body: { file: material },
    bodySerializer(body) {
      const form = new FormData();
      form.append("file", body.file, material.name);
      return form;
    },
  });
  if (uploaded.error) throw new Error(describe(uploaded.error));
  const { data, error } = await permits.POST("/v1/applications", {
    headers: { ...auth, "Idempotency-Key": `apply-${uploaded.data.id}` },
    body: {
      item,
      zone_id: zone,
      project_name: "年产10万吨新材料项目（示例）",
      applicant: { name: "张家口某新材料有限公司（示例）", credit_code: "91130700MA0A1B2C3D" },
      materials: [{ code: "m1", file_id: uploaded.data.id }],
    },
  });
  if (error) return `${error.title}: ${error.errors?.[0]?.msg ?? ""}`;
  return data.id;
}

/** A stored file downloaded. */
export async function download(token: string, fileId: string): Promise<Blob> {
  const { data, error } = await permits.GET("/v1/files/{file_id}/content", {
    headers: { Authorization: `Bearer ${token}` },
    params: { path: { file_id: fileId } },
    parseAs: "blob",
  });
  if (error) throw new Error(describe(error));
  return data;
}
