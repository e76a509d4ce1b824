// GraphiQL in headless Chromium, offline: the page renders from this server's
// own assets, a query typed into the editor returns data, and a screenshot is
// kept. Usage: node graphiql.mjs <graphql url> <screenshot path>
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const origin = new URL(url).origin;
const offsite = [];

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
try {
  const page = await browser.newPage();
  // No CDN: anything not from this server is refused, and reported.
  await page.route("**/*", (route) => {
    const target = route.request().url();
    if (target.startsWith(origin) || target.startsWith("data:")) return route.continue();
    offsite.push(target);
    return route.abort();
  });
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));

  await page.goto(url, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-container", { timeout: 20000 });

  // The header editor holds the development token.
  await page.getByRole("button", { name: /headers/i }).first().click();
  const headers = await page.locator(".graphiql-editor-tool .CodeMirror").last().innerText();

  // Type a query into the editor and run it.
  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("{ me { email timezone } }");
  await page.keyboard.press("Control+Enter");
  await page.waitForFunction(
    () => document.querySelector(".result-window")?.innerText.includes("dev@example.com"),
    null,
    { timeout: 20000 },
  );
  const result = await page.locator(".result-window").innerText();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ headers, result, offsite, consoleErrors }));
} finally {
  await browser.close();
}
