// Generates TypeScript types from the committed OpenAPI documents, as a frontend team would.
// Usage: node generate.mjs <spec dir> <out dir> <service>...
// A schema holding a file (OpenAPI 3.1 `contentMediaType`, or 3.0 `format: binary`) becomes a
// `Blob`, so uploads and downloads are typed as files, not strings (openapi-typescript's documented
// `transform` hook; the command line has no such option).
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import openapiTS, { astToString } from "openapi-typescript";

const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const [specDir, outDir, ...services] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
for (const service of services) {
  const spec = JSON.parse(fs.readFileSync(path.join(specDir, `${service}.json`), "utf8"));
  const ast = await openapiTS(spec, {
    // A field with a default is optional in a request body (the service fills it in); the
    // generator's default (true) would make every such field required of the caller.
    defaultNonNullable: false,
    transform(schema) {
      if (schema.format === "binary" || (schema.type === "string" && schema.contentMediaType)) {
        return BLOB;
      }
      return undefined;
    },
  });
  fs.writeFileSync(path.join(outDir, `${service}.d.ts`), astToString(ast));
}
