// Drives the TTX web UI in Debian's Chromium against a real `ttx serve` on a free port.
//
//   node tests/browser/ui.mjs            (TTX_BIN: the ttx binary, default target/debug/ttx;
//                                         SCREENSHOTS: where page screenshots go, default target/ui-screenshots;
//                                         CHROMIUM: the browser, default /usr/bin/chromium)
//
// An administrator registers a university and an enterprise and a user in each; each user logs in and sees only their
// own menu; a wrong password and an invalid credit code show errors next to the fields; English works; the pages fit a
// phone-sized screen. Every page visited is saved as a screenshot. Exits non-zero on the first failed check.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const ttx = process.env.TTX_BIN ?? join(root, "target/debug/ttx");
const shots = process.env.SCREENSHOTS ?? join(root, "target/ui-screenshots");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

const ADMIN_PASSWORD = "the admin's long password";
const USER_PASSWORD = "a user's long password";
const UNI = "12100000400000624D";
const FIRM = "91350100M000100Y43";

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function createAdmin(dataDir) {
  const out = spawnSync(
    ttx,
    ["admin", "create-user", "--user", "root", "--name", "管理员", "--org", "91310000MA1FL4KX3N",
     "--org-name", "浦江技术交易所", "--org-kind", "service_institution", "--role", "admin", "--data-dir", dataDir],
    { input: `${ADMIN_PASSWORD}\n`, encoding: "utf8", env: { ...process.env, RUST_LOG: "warn" } },
  );
  check(out.status === 0, `ttx admin create-user failed: ${out.stdout}${out.stderr}`);
}

function startServer(dataDir) {
  const child = spawn(ttx, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (line) => {
      const m = line.match(/^ttx listening on (http:\/\/\S+)$/);
      if (m) resolveUrl({ child, url: m[1] });
      else reject(new Error(`unexpected first line: ${line}`));
    });
    child.once("exit", (code) => reject(new Error(`ttx serve exited with ${code}`)));
  });
}

async function menu(page) {
  return page.locator("nav a").allTextContents();
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function login(page, base, user, password) {
  await page.goto(`${base}/login`);
  await page.fill("#user_id", user);
  await page.fill("#password", password);
  await Promise.all([page.waitForLoadState("load"), page.click("form.card button[type=submit]")]);
}

async function logout(page) {
  await Promise.all([page.waitForURL(/\/login$/), page.click("header form.logout button")]);
}

const dataDir = mkdtempSync(join(tmpdir(), "ttx-ui-"));
let server;
let browser;
try {
  createAdmin(dataDir);
  server = await startServer(dataDir);
  const base = server.url;
  browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();

  // The login page, in Chinese by default.
  await page.goto(`${base}/`);
  check(page.url().endsWith("/login"), "an anonymous visitor is sent to the login page");
  check((await page.getAttribute("html", "lang")) === "zh-CN", "Chinese is the default");
  check((await page.textContent("label[for=user_id]")) === "登录名", "the login field is labelled");
  await shot(page, "01-login");

  // A wrong password: an error next to the fields, and no session.
  await login(page, base, "root", "not the password");
  check(page.url().endsWith("/login"), "a wrong password stays on the login page");
  check((await page.textContent("#login-error"))?.includes("登录名或密码错误"), "the error is shown");
  check((await page.getAttribute("#password", "aria-invalid")) === "true", "the field is marked invalid");
  check((await page.getAttribute("#password", "aria-describedby")) === "login-error", "the field points at its error");
  await shot(page, "02-login-wrong-password");

  // The administrator.
  await login(page, base, "root", ADMIN_PASSWORD);
  check(new URL(page.url()).pathname === "/", "a login lands on the home page");
  check(JSON.stringify(await menu(page)) === JSON.stringify(["首页", "我的组织", "组织管理", "用户管理"]), `admin menu: ${await menu(page)}`);
  await shot(page, "03-admin-home");

  await page.goto(`${base}/admin/organisations`);
  for (const [kind, name, code] of [["university", "华东理工示范大学", UNI], ["enterprise", "闽江新能源科技有限公司", FIRM]]) {
    await page.selectOption("#kind", kind);
    await page.fill("#name", name);
    await page.fill("#credit_code", code);
    await page.fill("#region", "上海市");
    await Promise.all([page.waitForLoadState("load"), page.click("form.card button[type=submit]")]);
    check((await page.textContent("p.notice[role=status]"))?.includes("组织已登记"), `registered ${name}`);
  }
  check((await page.locator("table tbody tr").count()) === 3, "three organisations are listed");
  await shot(page, "04-admin-organisations");

  // An invalid credit code: the error sits next to that field, the other values are kept.
  await page.selectOption("#kind", "enterprise");
  await page.fill("#name", "错误代码公司");
  await page.fill("#credit_code", "91350100M000100Y44");
  await page.fill("#region", "福建省");
  await Promise.all([page.waitForLoadState("load"), page.click("form.card button[type=submit]")]);
  check((await page.textContent("#credit_code-error"))?.includes("校验位"), "the credit code error is next to it, in Chinese");
  check((await page.getAttribute("#credit_code", "aria-invalid")) === "true", "the credit code is marked invalid");
  check((await page.inputValue("#name")) === "错误代码公司", "the other values are kept");
  check((await page.locator("table tbody tr").count()) === 3, "nothing was registered");
  await shot(page, "05-admin-organisation-error");

  await page.goto(`${base}/admin/users`);
  for (const [user, name, org, role] of [["lilei", "李雷", UNI, "tech_manager"], ["zhaomin", "赵敏", FIRM, "enterprise_member"]]) {
    await page.fill("#user_id", user);
    await page.fill("#display_name", name);
    await page.selectOption("#org_id", org.toLowerCase());
    await page.check(`input[name=roles][value=${role}]`);
    await page.fill("#password", USER_PASSWORD);
    await Promise.all([page.waitForLoadState("load"), page.click("form.card button[type=submit]")]);
    check((await page.textContent("p.notice[role=status]"))?.includes("用户已创建"), `created ${user}: ${await page.textContent("main")}`);
  }
  await shot(page, "06-admin-users");
  await logout(page);

  // The technology manager sees their own menu, organisation and registration, and no administration.
  await login(page, base, "lilei", USER_PASSWORD);
  check(JSON.stringify(await menu(page)) === JSON.stringify(["首页", "我的组织", "我的登记"]), `manager menu: ${await menu(page)}`);
  await shot(page, "07-manager-home");
  await page.goto(`${base}/org`);
  check((await page.textContent("dl.facts"))?.includes("华东理工示范大学"), "the manager's organisation is shown");
  await shot(page, "08-manager-organisation");
  const denied = await page.goto(`${base}/admin/users`);
  check(denied.status() === 403, `a manager may not open user administration (${denied.status()})`);
  await shot(page, "09-manager-forbidden");
  await logout(page);

  // The enterprise member.
  await login(page, base, "zhaomin", USER_PASSWORD);
  check(JSON.stringify(await menu(page)) === JSON.stringify(["首页", "我的组织"]), `member menu: ${await menu(page)}`);
  await shot(page, "10-member-home");

  // English, switched from the header, and kept.
  await Promise.all([page.waitForLoadState("load"), page.click("header a.lang")]);
  check((await page.getAttribute("html", "lang")) === "en", "the page is in English");
  check(JSON.stringify(await menu(page)) === JSON.stringify(["Home", "My organisation"]), `English menu: ${await menu(page)}`);
  await shot(page, "11-member-home-english");

  // A phone-sized screen: nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${base}/org`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 375, `the page fits a phone screen (${width}px wide)`);
  await shot(page, "12-member-organisation-phone");

  console.log(`ui: all checks passed; screenshots in ${shots}`);
} catch (e) {
  console.error(`ui: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  server?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
