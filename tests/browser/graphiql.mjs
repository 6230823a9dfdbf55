// GraphiQL in headless Chromium, with every request outside the server refused: run a query
// and read its result, then run a subscription with a token in the headers pane.
// node graphiql.mjs <server URL> <access token>; prints BLOCKED/QUERY/SUBSCRIBED/EVENT lines.
import { createRequire } from "node:module";

// playwright-core is installed beside GraphiQL's packages (config/graphiql, `make install`).
const require = createRequire(new URL("../../config/graphiql/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [base, token] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
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
  const blocked = new Set();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
    blocked.add(url);
    return route.abort();
  });
  await page.goto(`${base}/graphql`, { waitUntil: "networkidle" });
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor({ timeout: 20000 });

  async function run(query) {
    await page.locator(".graphiql-query-editor .CodeMirror").click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Backspace");
    await page.keyboard.insertText(query);
    await page.waitForTimeout(700); // GraphiQL parses the editor's text a moment after a change
    await page.locator(".graphiql-execute-button").click();
  }
  async function response(text) {
    const pane = page.locator(".graphiql-response");
    try {
      await pane.getByText(text).first().waitFor({ timeout: 20000 });
    } catch (error) {
      const shown = (await pane.innerText()).replace(/\s+/g, " ");
      await page.screenshot({ path: process.env.SCREENSHOT || "/tmp/graphiql.png" });
      throw new Error(`no ${text} in the response pane, which shows: ${shown}`);
    }
    return (await pane.innerText()).replace(/\s+/g, " ");
  }

  await run('{ user(username: "graphiql_ana") { username } }');
  console.log(`QUERY ${await response('"graphiql_ana"')}`);

  await page.getByText("Headers", { exact: true }).click();
  await page.locator(".graphiql-editor-tool .CodeMirror").last().click();
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
  await run("subscription { notificationReceived { kind } }");
  await page.waitForTimeout(1500); // the socket is open and subscribed
  console.log("SUBSCRIBED");
  console.log(`EVENT ${await response('"FOLLOW"')}`);
  console.log(`BLOCKED ${[...blocked].join(" ") || "none"}`);
} finally {
  await browser.close();
}
