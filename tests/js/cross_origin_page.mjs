// Runs in Chromium, on a page of another origin than the API's: a web frontend's
// Apollo Client (its ES modules from node_modules, through the page's import map).
// window.scenarios(api, tokens) reports what the page could and could not read.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client/core";

const ME = gql`
  query Me {
    me {
      email
    }
  }
`;
const UPDATE_PROFILE = gql`
  mutation UpdateProfile($input: UpdateProfileInput!) {
    updateProfile(input: $input) {
      displayName
    }
  }
`;

// The answer's headers, as the page's script sees them (only the exposed ones).
const headersSeen = [];
const recordHeaders = new ApolloLink((operation, forward) =>
  forward(operation).map((result) => {
    const { response } = operation.getContext();
    headersSeen.push({
      requestId: response.headers.get("X-Request-ID"),
      replayed: response.headers.get("Idempotent-Replayed"),
    });
    return result;
  }),
);

function client(api, token) {
  const http = new HttpLink({ uri: api, headers: { Authorization: `Bearer ${token}` } });
  return new ApolloClient({ link: recordHeaders.concat(http), cache: new InMemoryCache() });
}

// What an error let the page read: the status, the body's codes, Retry-After.
function failure(error) {
  const network = error.networkError;
  return {
    message: String(network ?? error.message),
    status: network?.statusCode ?? null,
    codes: (network?.result?.errors ?? []).map((e) => e.extensions?.code),
    retryAfter: network?.response?.headers?.get("Retry-After") ?? null,
  };
}

async function attempt(run) {
  try {
    return { data: (await run()).data };
  } catch (error) {
    return { error: failure(error) };
  }
}

window.scenarios = async (api, tokens) => {
  const report = {};
  // A query with the caller's request id.
  report.me = await attempt(() =>
    client(api, tokens.user).query({
      query: ME,
      context: { headers: { "X-Request-ID": "cross-origin-1" } },
    }),
  );
  report.meHeaders = headersSeen.at(-1) ?? null;
  // A mutation sent twice with one Idempotency-Key, as Apollo's CSRF-safe clients send it.
  const mutation = {
    mutation: UPDATE_PROFILE,
    variables: { input: { displayName: "From another origin" } },
    context: {
      headers: { "Idempotency-Key": "cross-origin-key", "Apollo-Require-Preflight": "true" },
    },
  };
  const writer = client(api, tokens.writer);
  report.firstWrite = await attempt(() => writer.mutate(mutation));
  report.secondWrite = await attempt(() => writer.mutate(mutation));
  report.writeHeaders = headersSeen.slice(-2);
  // Refusals the page must be able to read: a bad token, and the rate limit.
  report.badToken = await attempt(() => client(api, "not.a.token").query({ query: ME }));
  const limited = client(api, tokens.limited);
  report.limited = [];
  for (let i = 0; i < 3; i++) {
    report.limited.push(await attempt(() => limited.query({ query: ME, fetchPolicy: "no-cache" })));
  }
  return report;
};
window.ready = true;
