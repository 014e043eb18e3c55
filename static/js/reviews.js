// Ratings and reviews: stars, one review with its reply, a store's reviews page by page.
import { api, showProblem, when } from "./api.js";
import { busy, h, toast } from "./ui.js";

/** Five stars, `rating` of them filled, read out as "4 out of 5 stars". */
export function stars(rating) {
  return h("span", { class: "stars", role: "img", "aria-label": `${rating} out of 5 stars` },
    "★".repeat(rating), h("span", { class: "off", "aria-hidden": "true" }, "★".repeat(5 - rating)));
}

/** The store's rating as the server gives it: "★ 4.3 · 12 reviews", or "New" below 3 reviews. */
export function ratingLine(store) {
  const count = store.review_count || 0;
  const reviews = `${count} review${count === 1 ? "" : "s"}`;
  return h("span", { class: "rating-line", dataset: { rating: store.rating ?? "", reviewCount: count } },
    store.rating != null
      ? [h("strong", {}, `★ ${store.rating.toFixed(1)}`), ` · ${reviews}`]
      : count ? `${reviews} · rated from 3` : "No reviews yet");
}

/** A reply box under a review (the owner's), answering with the review as it now is. */
function replyForm(review, onReplied) {
  const errors = h("div", { class: "problem", role: "alert", hidden: true });
  const text = h("textarea", { name: "text", rows: 2, maxlength: 1000, required: true, "aria-label": `Reply to ${review.customer_name}` });
  const form = h("form", { class: "reply-form", novalidate: true },
    text, errors, h("button", { type: "submit", class: "primary" }, "Reply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("button"), async () => {
      try {
        const updated = await api("POST", `/api/reviews/${review.id}/reply`, { body: { text: text.value } });
        toast("Reply posted");
        onReplied(updated);
      } catch (error) {
        showProblem(errors, error);
      }
    });
  });
  return form;
}

/** One review: stars, who and when, the text, and the store's reply (or, for its owner, a box). */
export function reviewItem(review, { canReply = false } = {}) {
  const item = h("article", { class: "review", dataset: { reviewId: review.id, orderId: review.order_id } });
  const fill = (r) => item.replaceChildren(...[
    h("div", { class: "spread" },
      h("span", {}, stars(r.rating), " ", h("strong", { class: "reviewer" }, r.customer_name)),
      h("time", { class: "muted", datetime: r.created_at }, when(r.created_at))),
    r.text ? h("p", { class: "review-text" }, r.text) : null,
    r.reply
      ? h("div", { class: "reply" }, h("strong", {}, "The store replied: "), h("span", { class: "reply-text" }, r.reply.text),
          h("time", { class: "muted", datetime: r.reply.created_at }, ` · ${when(r.reply.created_at)}`))
      : canReply ? replyForm(r, fill) : null,
  ].filter(Boolean));
  fill(review);
  return item;
}

/** A store's reviews, newest first, `limit` at a time, with a "More reviews" button. */
export function reviewList(container, storeId, { limit = 5, canReply = false } = {}) {
  const list = h("div", { class: "review-list" });
  const problem = h("div", { class: "problem", role: "alert", hidden: true });
  const more = h("button", { type: "button", class: "more-reviews", hidden: true }, "More reviews");
  let next = null;

  async function page(before) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before != null) query.set("before_id", String(before));
    try {
      const found = await api("GET", `/api/stores/${storeId}/reviews?${query}`);
      if (before == null && !found.reviews.length) list.replaceChildren(h("p", { class: "empty" }, "No reviews yet."));
      list.append(...found.reviews.map((review) => reviewItem(review, { canReply })));
      next = found.next_before_id;
      more.hidden = next == null;
      showProblem(problem, null);
    } catch (error) {
      showProblem(problem, error);
    }
  }

  more.addEventListener("click", () => busy(more, () => page(next)));
  container.replaceChildren(list, problem, more);
  return {
    /** Start again from the newest. */
    reload: () => { list.replaceChildren(); return page(null); },
  };
}
