// graphql-ws (the npm client) subscribed to SyncStatus until a run finishes.
// Usage: node sync_status.mjs <ws url> <bearer token> <subscription text>
// Prints "ready" once subscribed, then one JSON line per event, then "done".
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, query] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: false,
  on: { connected: () => setTimeout(() => console.log("ready"), 300) },
});

await new Promise((resolve, reject) => {
  const stop = client.subscribe(
    { query },
    {
      next: ({ data, errors }) => {
        if (errors) return reject(new Error(JSON.stringify(errors)));
        console.log(JSON.stringify(data.syncStatus));
        if (["SUCCEEDED", "FAILED"].includes(data.syncStatus.status)) {
          stop();
          resolve();
        }
      },
      error: reject,
      complete: resolve,
    },
  );
});
console.log("done");
await client.dispose();
