// Points (accrued, usable, convert) and coupons (mine; claim from live campaigns).
import { api, showProblem, when, won } from "../api.js";
import { updateCartLink } from "../cart.js";
import { busy, h, startPage, toast, markReady } from "../ui.js";

const number = new Intl.NumberFormat("ko-KR");
const claimed = new Set();

function showPoints(points) {
  document.getElementById("accrued").textContent = number.format(points.accrued);
  document.getElementById("usable").textContent = number.format(points.usable);
}

async function loadPoints() {
  try {
    showPoints(await api("GET", "/api/me/points"));
  } catch (error) {
    showProblem(document.getElementById("points-problem"), error);
  }
}

async function loadMine() {
  try {
    const { coupons } = await api("GET", "/api/me/coupons");
    claimed.clear();
    for (const c of coupons) claimed.add(c.campaign_id);
    document.getElementById("my-coupons").replaceChildren(...(coupons.length
      ? coupons.map((c) => h("li", {}, `${c.name}: −${won(c.discount)} on orders from ${won(c.min_order)} `, h("span", { class: "badge" }, c.status), c.expires_at ? h("span", { class: "muted" }, ` until ${when(c.expires_at)}`) : null))
      : [h("li", { class: "empty" }, "No coupons yet.")]));
  } catch (error) {
    showProblem(document.getElementById("mine-problem"), error);
  }
}

async function loadCampaigns() {
  const box = document.getElementById("campaigns");
  try {
    const { campaigns } = await api("GET", "/api/coupon-campaigns");
    const now = Date.now();
    const live = campaigns.filter((c) => Date.parse(c.starts_at) <= now && Date.parse(c.ends_at) > now);
    box.replaceChildren(...(live.length
      ? live.map((c) => h("tr", { dataset: { campaignId: c.id } },
          h("td", {}, c.name), h("td", {}, won(c.discount)), h("td", {}, won(c.min_order)),
          h("td", {}, `${number.format(c.remaining)} of ${number.format(c.quantity)}`), h("td", {}, when(c.ends_at)),
          h("td", {}, claimed.has(c.id) ? h("span", { class: "badge ok" }, "Claimed")
            : h("button", { type: "button", class: "primary", disabled: c.remaining <= 0, "aria-label": `Claim ${c.name}`, onclick: (e) => claim(e.currentTarget, c) }, c.remaining > 0 ? "Claim" : "Sold out"))))
      : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No campaigns running right now."))]));
  } catch (error) {
    showProblem(document.getElementById("camp-problem"), error);
  }
}

async function claim(button, campaign) {
  await busy(button, async () => {
    try {
      await api("POST", `/api/coupon-campaigns/${campaign.id}/claim`);
      toast(`Coupon “${campaign.name}” is yours.`);
      showProblem(document.getElementById("camp-problem"), null);
    } catch (error) {
      showProblem(document.getElementById("camp-problem"), error);
    }
  });
  await loadMine();
  await loadCampaigns();
}

document.getElementById("convert-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const amount = Number(document.getElementById("convert-amount").value);
  const problem = document.getElementById("points-problem");
  try {
    showPoints(await api("POST", "/api/me/points/convert", { body: { amount } }));
    showProblem(problem, null);
    toast("Points converted.");
  } catch (error) {
    showProblem(problem, error);
  }
});

await startPage();
updateCartLink();
await Promise.all([loadPoints(), loadMine()]);
await loadCampaigns();
markReady();
