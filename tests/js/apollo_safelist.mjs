// A stock Apollo Client app against a server in `safelist` mode: every operation of
// operations/ through the persisted-queries link with the ids of the generated manifest
// (@apollo/persisted-query-lists, queries by GET), SyncStatus and PlanUpdates over
// graphql-ws; then an app that hashes at run time, and operations that are not in the
// manifest.
// Usage: node apollo_safelist.mjs <graphql url> <bearer token> <manifest> <operations dir>
// Prints one JSON line: each operation's data or error codes, and what went on the wire.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { getMainDefinition } from "@apollo/client/utilities/index.js";
import {
  createPersistedQueryManifestVerificationLink,
  generatePersistedQueryIdsAtRuntime,
  generatePersistedQueryIdsFromManifest,
} from "@apollo/persisted-query-lists";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

// Node 22 has a global WebSocket; on Node 20 GraphQLWsLink needs one to read errors.
globalThis.WebSocket ??= WebSocket;

const [url, token, manifestPath, operationsDir] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const documents = Object.fromEntries(
  readdirSync(operationsDir)
    .filter((file) => file.endsWith(".graphql"))
    .map((file) => [file.slice(0, -8), gql(readFileSync(join(operationsDir, file), "utf8"))]),
);
const wire = [];
const mismatches = [];

// Records what goes on the wire: the method, the hash, and whether the text was sent.
async function recordingFetch(input, init) {
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = init?.body ? JSON.parse(init.body) : null;
  const extensions = body?.extensions ?? JSON.parse(target.searchParams.get("extensions") ?? "{}");
  wire.push({
    operation: body?.operationName ?? target.searchParams.get("operationName"),
    method: init?.method ?? "GET",
    hash: extensions.persistedQuery?.sha256Hash ?? null,
    withText: Boolean(body?.query ?? target.searchParams.get("query")),
  });
  return fetch(input, init);
}

const isSubscription = ({ query }) => {
  const main = getMainDefinition(query);
  return main.kind === "OperationDefinition" && main.operation === "subscription";
};

function client(ids) {
  const http = new HttpLink({
    uri: url,
    fetch: recordingFetch,
    headers: { authorization: `Bearer ${token}` },
  });
  const socket = new GraphQLWsLink(
    createClient({
      url: url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${token}` },
    }),
  );
  const persisted = createPersistedQueryLink({ ...ids, useGETForHashedQueries: true });
  // As in development: says when an operation is not the manifest's, body for body.
  const verification = createPersistedQueryManifestVerificationLink({
    loadManifest: () => manifest,
    onVerificationFailed: ({ reason, operation }) =>
      mismatches.push({ reason, operation: operation.operationName }),
  });
  return {
    apollo: new ApolloClient({
      link: verification.concat(split(isSubscription, socket, persisted.concat(http))),
      cache: new InMemoryCache(),
    }),
    close: () => socket.client.dispose(),
  };
}

function codesOf(error) {
  const errors = [...(error?.graphQLErrors ?? []), ...(error?.protocolErrors ?? [])];
  if (Array.isArray(error?.networkError?.result?.errors)) {
    errors.push(...error.networkError.result.errors);
  }
  if (Array.isArray(error)) errors.push(...error);
  if (errors.length === 0 && error?.message) errors.push(error); // a socket closed, say
  return errors.map((e) => e.extensions?.code ?? e.message);
}

const ran = {};

// Runs one operation of operations/ (or `document`) and keeps its data or error codes.
async function run(app, name, variables = {}, document = documents[name]) {
  const type = getMainDefinition(document).operation;
  try {
    const result =
      type === "mutation"
        ? await app.apollo.mutate({ mutation: document, variables, errorPolicy: "all" })
        : await app.apollo.query({
            query: document,
            variables,
            fetchPolicy: "network-only",
            errorPolicy: "all",
          });
    ran[name] = { data: result.data ?? null, codes: codesOf({ graphQLErrors: result.errors }) };
  } catch (error) {
    ran[name] = { data: null, codes: codesOf(error) };
  }
  return ran[name].data;
}

// Follows SyncStatus until its first event; each `trigger` queues a new sync (a calendar
// connected), repeated until the subscription, set up on its own schedule, sees one.
async function firstEvent(app, name, document, trigger) {
  let stop;
  const first = new Promise((resolve) => {
    const subscription = app.apollo.subscribe({ query: document }).subscribe({
      next: ({ data, errors }) => resolve({ data: data ?? null, codes: codesOf(errors ?? []) }),
      error: (error) => resolve({ data: null, codes: codesOf(error) }),
    });
    stop = () => subscription.unsubscribe();
  });
  let outcome = null;
  for (let attempt = 0; attempt < 60 && outcome === null; attempt++) {
    await trigger(attempt);
    outcome = await Promise.race([first, new Promise((r) => setTimeout(() => r(null), 500))]);
  }
  stop();
  ran[name] = outcome ?? { data: null, codes: ["no event"] };
  return ran[name].data;
}

const day = (offset) => new Date(Date.now() + offset * 86400e3).toISOString().slice(0, 10);
const now = new Date();
const monday = new Date(
  Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 15 - (now.getUTCDay() || 7)),
);
const at = (days, hours) => new Date(monday.getTime() + (days * 24 + hours) * 3600e3).toISOString();
const week = { start: at(0, 0), end: at(7, 0) };

// The app: ids from the generated manifest, never the text.
const app = client(generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }));
const hours = [{ weekday: 1, start: "09:00", end: "17:30" }];
const profile = { displayName: "Apollo", timezone: "Europe/Berlin", workingHours: hours };
await run(app, "UpdateProfile", { input: profile });
await run(app, "Me");
const home = (await run(app, "ConnectCalendar", { input: { provider: "LOCAL", name: "Home" } }))
  ?.connectCalendar;
await run(app, "Calendars");
const goal = (await run(app, "CreateGoal", { input: { title: "Marathon", priority: "P1" } }))
  ?.createGoal;
await run(app, "Goals", { status: "ACTIVE", first: 10 });
const habit = (
  await run(app, "CreateHabit", {
    input: {
      name: "Run",
      goalId: goal?.id,
      frequency: { times: 3, per: "WEEK" },
      durationMinutes: 45,
      preferredWindows: [{ weekdays: [1, 3, 5], start: "07:00", end: "08:00" }],
    },
  })
)?.createHabit;
await run(app, "CheckInHabit", { habitId: habit?.id, date: day(-1), status: "DONE", value: 10 });
await run(app, "Habits", { active: true });
await run(app, "GoalDetail", { id: goal?.id, from: day(-7), to: day(-1) });
await run(app, "UpdateGoal", { id: goal?.id, input: { title: "Spring marathon" } });
await run(app, "UpdateHabit", { id: habit?.id, input: { durationMinutes: 50 } });
await run(app, "LogGoalProgress", { goalId: goal?.id, value: 12, note: "long run" });
const event = (title, days) => ({
  calendarId: home?.id,
  title,
  start: at(days, 12),
  end: at(days, 13),
});
await run(app, "CreateEvent", { input: event("Dentist", 0) });
await run(app, "BatchCreateEvents", { inputs: [1, 2, 3].map((d) => event(`Lecture ${d}`, d)) });
await run(app, "Events", { range: week, first: 50 });
await run(app, "Dashboard", { range: { start: at(0, 0), end: at(1, 0) } });
const picks =
  (await run(app, "Recommendations", { habitId: habit?.id, range: week, limit: 3 }))
    ?.recommendations ?? [];
await run(app, "RecommendationFeedback", {
  habitId: habit?.id,
  start: picks[1]?.start,
  accepted: false,
});
await run(app, "ScheduleHabit", {
  habitId: habit?.id,
  start: picks[0]?.start,
  calendarId: home?.id,
});
const task = (
  await run(app, "CreateTask", {
    input: { title: "Race plan", priority: "P1", durationMinutes: 120, goalId: goal?.id },
  })
)?.createTask;
await run(app, "UpdateTask", { id: task?.id, input: { durationMinutes: 90 } });
await run(app, "Tasks", { status: "OPEN" });
await run(app, "Schedule", { range: week });
// Each change of the task re-plans and tells PlanUpdates' subscribers.
await firstEvent(app, "PlanUpdates", documents.PlanUpdates, async (attempt) => {
  const input = { title: `Race plan ${attempt}` };
  await app.apollo.mutate({ mutation: documents.UpdateTask, variables: { id: task?.id, input } });
});
await run(app, "CompleteTask", { id: task?.id });
await run(app, "DeleteTask", { id: task?.id });
let feed = null;
await firstEvent(app, "SyncStatus", documents.SyncStatus, async (attempt) => {
  const input = { provider: "ICS", name: `Feed ${attempt}`, url: "http://127.0.0.1:9/feed.ics" };
  feed = (await app.apollo.mutate({ mutation: documents.ConnectCalendar, variables: { input } }))
    .data.connectCalendar;
});
await run(app, "SyncCalendar", { calendarId: feed?.id });
await run(app, "DeleteHabit", { id: habit?.id });
await run(app, "DeleteGoal", { id: goal?.id });
app.close();
const appWire = wire.splice(0);
const appMismatches = mismatches.splice(0);

// Operations that are not in the manifest, from an app that hashes at run time (APQ).
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const other = client(generatePersistedQueryIdsAtRuntime({ sha256 }));
await run(other, "Me (hashed at run time)", {}, documents.Me);
await run(other, "Unlisted", {}, gql("query Unlisted { me { id email } }"));
await firstEvent(
  other,
  "UnlistedSubscription",
  gql("subscription UnlistedSubscription { syncStatus { status } }"),
  async () => {},
);
other.close();

console.log(
  JSON.stringify({
    ran,
    app: { wire: appWire, mismatches: appMismatches },
    other: { wire, mismatches },
    manifestIds: Object.fromEntries(manifest.operations.map((o) => [o.name, o.id])),
  }),
);
