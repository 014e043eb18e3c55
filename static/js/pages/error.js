// An error page: the signed-in frame (who, sign-out) when someone is signed in.
import { markReady, startPage } from "../ui.js";

if (document.body.dataset.role) await startPage();
markReady();
