/* Search snippets from the page's own words (website/conf.py loads this on every page; it acts
 * on the search page only).
 *
 * Sphinx's searchtools.js builds a result's snippet from the textContent of the page's
 * [role="main"] element. In sphinx-book-theme that element also holds the article's buttons
 * ("Settings Light Dark ...") and the secondary sidebar ("Contents"), and on notebook pages the
 * cells' outputs (Keras model summaries drawn with box characters, epoch logs). Here the
 * snippet comes from the article alone, without outputs, with whitespace collapsed.
 * Example: a search for "dropout" shows "... layers.Dropout(0.25) ..." from notebook 05's
 * text and code, not "...tings Light Dark 05 · Overfitting and dropout Contents...".
 */
(() => {
  // (the page title too: the result's link shows it already)
  const NOISE = [".headerlink", "script", "style", "h1", ".cell_output", ".bd-header-article",
                 ".bd-sidebar-secondary", ".toggle-details__summary"];

  function articleText(htmlString, anchor) {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    const article = doc.querySelector("article.bd-article") || doc.querySelector('[role="main"]');
    if (!article) return "";
    article.querySelectorAll(NOISE.join(", ")).forEach((el) => el.remove());
    let part = null;
    if (anchor) {
      try { part = article.querySelector(anchor); } catch (e) { part = null; }  // odd ids
    }
    return ((part || article).textContent || "").replace(/\s+/g, " ").trim();
  }

  function install() {
    // searchtools.js declares `Search` with const: a global binding, not a window property.
    if (typeof Search !== "undefined") Search.htmlToText = articleText;
  }

  // searchtools.js loads after this file and searches on DOMContentLoaded: install first.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", install);
  } else {
    install();
  }
})();
