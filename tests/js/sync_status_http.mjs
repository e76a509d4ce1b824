// Apollo Client's own HttpLink subscribed to SyncStatus over HTTP (Apollo's multipart
// subscription protocol) until a run finishes; then it unsubscribes, which aborts the request.
// Usage: node sync_status_http.mjs <graphql url> <bearer token> <subscription text>
// Prints one JSON line per event, then "done" (or "error <json>" on an error).
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";

const [url, token, query] = process.argv.slice(2);
const client = new ApolloClient({
  link: new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` } }),
  cache: new InMemoryCache(),
});

try {
  await new Promise((resolve, reject) => {
    const subscription = client.subscribe({ query: gql(query) }).subscribe({
      next: ({ data, errors }) => {
        if (errors) return reject(new Error(JSON.stringify(errors)));
        console.log(JSON.stringify(data.syncStatus));
        if (["SUCCEEDED", "FAILED"].includes(data.syncStatus.status)) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
      complete: resolve,
    });
  });
  console.log("done");
} catch (error) {
  const { protocolErrors, graphQLErrors, message } = error;
  console.log(`error ${JSON.stringify({ message, protocolErrors, graphQLErrors })}`);
}
client.stop();
