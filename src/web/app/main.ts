// The page's entry: picks the jobs list or a job page from the path; a 401/403 anywhere asks for a token.
import { setAuthHandler } from "./api.ts";
import { askForToken } from "./auth.ts";
import { jobPage } from "./job-page.ts";
import { jobsPage } from "./jobs-page.ts";

setAuthHandler(askForToken);
const root = document.getElementById("app")!;
const m = /^\/jobs\/([^/]+)\/?$/.exec(location.pathname);
if (m) jobPage(root, decodeURIComponent(m[1]!));
else jobsPage(root);
