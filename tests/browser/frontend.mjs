// The frontend app of tests/frontend in headless Chromium: loads it from its own origin (the
// Vite dev server) and prints the lines it logs, so the test can follow it; every request that
// is neither to the app nor to the API is refused (nothing comes from the internet).
// node frontend.mjs <app URL> <API URL> <username> <password>
import { createRequire } from "node:module";

const require = createRequire(new URL("../../config/graphiql/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [app, api, user, password] = process.argv.slice(2);
const allowed = [new URL(app).origin, new URL(api).origin, new URL(api).origin.replace(/^http/, "ws")];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (allowed.some((origin) => url.startsWith(origin))) return route.continue();
    console.log(`BLOCKED ${url}`);
    return route.abort();
  });
  // The app's own lines (not the dev server client's chatter).
  const steps = /^(SIGNED IN|FEED|UPLOADED|SUBSCRIBED|NOTIFIED|ERROR) /;
  page.on("console", (message) => {
    const text = message.text();
    if (steps.test(`${text} `)) console.log(text);
  });
  page.on("pageerror", (error) => console.log(`ERROR page: ${error.message}`));
  const query = new URLSearchParams({ api, user, password });
  await page.goto(`${app}/?${query}`);
  // Stay until the test is done with us (it closes our stdin).
  await new Promise((resolve) => process.stdin.on("end", resolve).resume());
} finally {
  await browser.close();
}
