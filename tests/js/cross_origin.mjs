// A web frontend on its own origin, in headless Chromium: a tiny static server
// (this script) serves a page and Apollo Client's ES modules from node_modules on
// two ports, two origins; the page calls the API, which allows only the first.
// Usage: node cross_origin.mjs <graphql url> <allowed port> <other port> <tokens json>
//   tokens: {"allowed": {user, writer, limited}, "other": {user, writer, limited}}
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [api, allowedPort, otherPort, tokensJson] = process.argv.slice(2);
const tokens = JSON.parse(tokensJson);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const MODULES = join(ROOT, "node_modules");

// ---- the import map: every bare specifier Apollo Client's ES modules import, resolved
// as a bundler would (package.json `module` first), so the browser loads them as they are.
// (The clause between `import` and `from` holds names, braces, commas and `*` only, so
// neither code nor a comment's example is taken for an import.)
const IMPORT = /^(?:import|export)\s[\w$\s{},*]*?from\s*["']([^"']+)["']|^import\s*["']([^"']+)["']/gm;

function packageDir(name, from) {
  for (let dir = dirname(from); dir.startsWith(ROOT); dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
  }
  throw new Error(`cannot find ${name} from ${from}`);
}

function entryOf(path) {
  if (!existsSync(path) || !statSync(path).isDirectory()) return path;
  const manifest = join(path, "package.json");
  const pkg = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")) : {};
  return join(path, pkg.module ?? "index.js");
}

function resolveBare(specifier, from) {
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const subpath = specifier.slice(name.length + 1);
  return entryOf(join(packageDir(name, from), subpath));
}

function importMap(entry) {
  const imports = {};
  const seen = new Set();
  const queue = [entryOf(entry)];
  while (queue.length) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2];
      const target = specifier.startsWith(".")
        ? entryOf(resolve(dirname(file), specifier))
        : resolveBare(specifier, file);
      if (!specifier.startsWith(".")) {
        const url = "/" + relative(ROOT, target).split(sep).join("/");
        if (imports[specifier] && imports[specifier] !== url) {
          throw new Error(`two versions of ${specifier}: ${imports[specifier]} and ${url}`);
        }
        imports[specifier] = url;
      }
      queue.push(target);
    }
  }
  return imports;
}

const apollo = join(MODULES, "@apollo", "client", "core");
const imports = {
  "@apollo/client/core": "/" + relative(ROOT, entryOf(apollo)).split(sep).join("/"),
  ...importMap(apollo),
};
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Another origin</title>
<script type="importmap">${JSON.stringify({ imports })}</script>
<script type="module" src="/page.mjs"></script>
</head><body>a frontend on its own origin</body></html>`;

// ---- the static server: the page, its module, and node_modules (nothing else).
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json" };

function serve(request, response) {
  const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
  if (path === "/") {
    response.writeHead(200, { "Content-Type": "text/html" }).end(PAGE);
    return;
  }
  const file = path === "/page.mjs" ? join(HERE, "cross_origin_page.mjs") : join(ROOT, path);
  const inside = file.startsWith(MODULES + sep) || file === join(HERE, "cross_origin_page.mjs");
  if (!inside || !existsSync(file) || !statSync(file).isFile()) {
    response.writeHead(404).end();
    return;
  }
  const type = TYPES[extname(file)] ?? "application/octet-stream";
  response.writeHead(200, { "Content-Type": type });
  createReadStream(file).pipe(response);
}

const servers = [];
for (const port of [allowedPort, otherPort]) {
  const server = createServer(serve);
  await new Promise((done) => server.listen(Number(port), "127.0.0.1", done));
  servers.push(server);
}

// ---- Chromium: the same page from each origin.
const apiOrigin = new URL(api).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const report = {};
try {
  for (const [label, port] of [
    ["allowed", allowedPort],
    ["other", otherPort],
  ]) {
    const origin = `http://127.0.0.1:${port}`;
    const page = await browser.newPage();
    const offsite = [];
    const consoleErrors = [];
    // No CDN: anything but this page's origin and the API is refused, and reported.
    await page.route("**/*", (route) => {
      const target = route.request().url();
      if (target.startsWith(origin) || target.startsWith(apiOrigin)) return route.continue();
      offsite.push(target);
      return route.abort();
    });
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 20000 });
    const seen = await page.evaluate(([url, t]) => window.scenarios(url, t), [
      `${apiOrigin}${new URL(api).pathname}`,
      tokens[label],
    ]);
    report[label] = { origin, ...seen, offsite, consoleErrors };
    await page.close();
  }
} finally {
  await browser.close();
  for (const server of servers) server.close();
}
console.log(JSON.stringify(report));
