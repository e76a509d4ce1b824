// Apollo Client with its persisted-queries link against the running server:
// the first request of an operation misses, registers, and later ones hit.
// Usage: node apollo_apq.mjs <graphql url> <bearer token> <get|post> <operation name>
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";

const [url, token, method, name] = process.argv.slice(2);
const sent = [];

// Records what goes on the wire: the method, and whether the text was sent.
async function recordingFetch(input, init) {
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = init?.body ? JSON.parse(init.body) : null;
  sent.push({
    method: init?.method ?? "GET",
    withText: Boolean(body?.query ?? target.searchParams.get("query")),
    withHash: Boolean(
      body?.extensions?.persistedQuery ?? target.searchParams.get("extensions"),
    ),
  });
  const response = await fetch(input, init);
  sent.at(-1).status = response.status;
  return response;
}

function client() {
  const persisted = createPersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries: method === "get",
  });
  const http = new HttpLink({
    uri: url,
    fetch: recordingFetch,
    headers: { authorization: `Bearer ${token}` },
  });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}

// A name of the caller's choosing: a text the server has not seen before.
const ME = gql(`
  query ${name} {
    me {
      id
      email
    }
  }
`);

const first = await client().query({ query: ME, fetchPolicy: "network-only" });
const afterFirst = sent.length;
const second = await client().query({ query: ME, fetchPolicy: "network-only" });

console.log(
  JSON.stringify({
    first: { data: first.data, requests: sent.slice(0, afterFirst) },
    second: { data: second.data, requests: sent.slice(afterFirst) },
  }),
);
