// graphql-http's server audit (the GraphQL over HTTP spec's own conformance suite)
// against the running server, every request carrying a user's bearer token.
// Usage: node graphql_http_audit.mjs <graphql url> <bearer token>
// Prints one JSON line: [{id, name, status, reason?, status code?}, ...].
import { auditServer } from "graphql-http";

const [url, token] = process.argv.slice(2);

// The audit builds its own requests; this adds the token to each of them.
function withToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: withToken });
console.log(
  JSON.stringify(
    results.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      ...(r.status === "ok" ? {} : { reason: r.reason, code: r.response.status }),
    })),
  ),
);
