// The store's settlement card: delivered orders, refunds, commission and payout per day.
import { api, showProblem, won } from "./api.js";
import { busy, h } from "./ui.js";

const COLUMNS = ["orders", "gross", "refunds", "commission", "payout"];

function cells(entry) {
  return COLUMNS.map((key) => h("td", { class: "num" }, key === "orders" ? String(entry[key]) : won(entry[key])));
}

/** Wire the settlement card (`section`) of `storeId`: the range form, the summary and the day table. */
export function settlementCard(section, storeId) {
  const form = section.querySelector("form");
  const errors = section.querySelector(".problem");
  const summary = section.querySelector(".settlement-summary");
  const rows = section.querySelector("tbody");
  const total = section.querySelector("tfoot");

  function render(report) {
    form.elements.from.value = report.first_day;
    form.elements.to.value = report.last_day;
    summary.textContent = `${report.first_day} to ${report.last_day} (${report.timezone} days), `
      + `commission ${report.commission_percent}%: payout ${won(report.payout)} for ${report.orders} delivered `
      + `${report.orders === 1 ? "order" : "orders"}.`;
    rows.replaceChildren(...(report.days.length
      ? report.days.map((day) => h("tr", { dataset: { date: day.date } }, h("th", { scope: "row" }, day.date), ...cells(day)))
      : [h("tr", {}, h("td", { colspan: COLUMNS.length + 1, class: "empty" }, "No delivered orders in these days."))]));
    total.replaceChildren(h("tr", {}, h("th", { scope: "row" }, "Total"), ...cells(report)));
  }

  async function show(params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value));
    const text = query.toString();
    render(await api("GET", `/api/stores/${storeId}/settlement${text ? `?${text}` : ""}`));
    showProblem(errors, null);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(form.querySelector("button[type=submit]"), () => show({ from: form.elements.from.value, to: form.elements.to.value }));
    } catch (error) {
      showProblem(errors, error);
    }
  });

  return {
    /** Show this month up to today (the server's defaults). */
    async load() {
      try {
        await show({});
      } catch (error) {
        showProblem(errors, error);
      }
    },
  };
}
