// What every client does with a problem (RFC 9457): show its title and the first field error.
// Typed from the generated error responses: this compiles only if every error response declares
// the Problem schema (with `errors[]`) under the media type the services send.
export interface ProblemLike {
  title?: string;
  errors?: { loc: (string | number)[]; msg: string }[] | null;
}

export function describe(error: ProblemLike): string {
  const first = error.errors?.[0];
  return first ? `${error.title}: ${first.loc.join(".")} ${first.msg}` : `${error.title ?? ""}`;
}
