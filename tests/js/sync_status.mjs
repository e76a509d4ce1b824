// graphql-ws (the npm client) subscribed to SyncStatus until a run finishes.
// Usage: node sync_status.mjs <ws url> <bearer token> <subscription text> [variables JSON]
// Prints "ready" once subscribed, then one JSON line per event ({"errors": [...]} for
// errors, which end the subscription when they come as an `error` message), then "done".
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, query, variables] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: false,
  on: { connected: () => setTimeout(() => console.log("ready"), 300) },
});

await new Promise((resolve) => {
  const stop = client.subscribe(
    { query, variables: variables ? JSON.parse(variables) : undefined },
    {
      next: ({ data, errors }) => {
        if (errors) return console.log(JSON.stringify({ errors }));
        console.log(JSON.stringify(data.syncStatus));
        if (["SUCCEEDED", "FAILED"].includes(data.syncStatus.status)) {
          stop();
          resolve();
        }
      },
      error: (errors) => {
        console.log(JSON.stringify({ errors }));
        resolve();
      },
      complete: resolve,
    },
  );
});
console.log("done");
await client.dispose();
