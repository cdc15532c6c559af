// cwtrace's flame graph: hover shows a frame, its sockets and share; click zooms into a frame;
// Search highlights frames matching a regular expression (name or file) and totals the sockets
// under them. The URL fragment can ask for both: file.svg#search=fetch_page&zoom=f12.
// Written for cwtrace; embedded into every SVG, so it must not contain the CDATA terminator.
(function () {
    "use strict";
    var svg = document.documentElement;
    window.addEventListener("error", function (e) {
        svg.setAttribute("data-js-error", String(e.message));
    });

    var total = Number(svg.getAttribute("data-total"));
    var left = Number(svg.getAttribute("data-graph-left"));
    var width = Number(svg.getAttribute("data-graph-width"));
    var charWidth = Number(svg.getAttribute("data-char-width"));
    var highlight = "rgb(230,0,230)";
    var details = document.getElementById("details");
    var matched = document.getElementById("matched");
    var unzoomButton = document.getElementById("unzoom");
    var searchButton = document.getElementById("search");
    var hint = details.textContent;

    var frames = Array.prototype.map.call(document.querySelectorAll("#frames > g"), function (g) {
        var rect = g.querySelector("rect");
        return {
            g: g,
            x: Number(g.getAttribute("data-x")),
            w: Number(g.getAttribute("data-w")),
            d: Number(g.getAttribute("data-d")),
            name: g.getAttribute("data-n"),
            file: g.getAttribute("data-m") || "",
            rect: rect,
            text: g.querySelector("text"),
            fill: rect.getAttribute("fill"),
            tip: g.querySelector("title").textContent
        };
    });
    var byId = {};
    frames.forEach(function (f) { byId[f.g.id] = f; });

    // The name cut to what fits in px pixels, ".." marking a cut; nothing under 3 characters.
    function label(name, px) {
        var fits = Math.floor((px - 6) / charWidth);
        if (fits < 3) return "";
        return name.length <= fits ? name : name.slice(0, fits - 2) + "..";
    }

    function place(f, x, w) {
        f.rect.setAttribute("x", (left + x).toFixed(2));
        f.rect.setAttribute("width", w.toFixed(2));
        f.text.setAttribute("x", (left + x + 3).toFixed(2));
        f.text.textContent = label(f.name, w);
    }

    // Lays the graph out with `focus` (a frame, or null for everything) as the full width: its
    // ancestors span the width, dimmed; frames outside it are hidden.
    function zoom(focus) {
        var x0 = focus ? focus.x : 0, w0 = focus ? focus.w : total, d0 = focus ? focus.d : 0;
        var scale = width / w0, shown = 0;
        frames.forEach(function (f) {
            var inside = f.d >= d0 && f.x >= x0 && f.x + f.w <= x0 + w0;
            var ancestor = f.d < d0 && f.x <= x0 && f.x + f.w >= x0 + w0;
            if (!inside && !ancestor) {
                f.g.setAttribute("display", "none");
                return;
            }
            f.g.removeAttribute("display");
            f.g.classList.toggle("parent", ancestor);
            if (ancestor) place(f, 0, width);
            else place(f, (f.x - x0) * scale, f.w * scale);
            shown += 1;
        });
        unzoomButton.classList.toggle("hide", !focus);
        svg.setAttribute("data-shown", String(shown));
        svg.setAttribute("data-zoom", focus ? focus.g.id : "");
    }

    function share(n) {
        return n + (n === 1 ? " socket" : " sockets") + ", " +
            (total ? (100 * n / total).toFixed(2) : "0.00") + "%";
    }

    // Sockets under the matching frames, a frame under another counted once.
    function coveredSockets(hits) {
        var spans = hits.map(function (f) { return [f.x, f.x + f.w]; });
        spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
        var sum = 0, end = -1;
        spans.forEach(function (s) {
            if (s[0] >= end) {
                sum += s[1] - s[0];
                end = s[1];
            } else if (s[1] > end) {
                sum += s[1] - end;
                end = s[1];
            }
        });
        return sum;
    }

    function search(pattern) {
        var re;
        try {
            re = new RegExp(pattern);
        } catch (e) {
            matched.textContent = "Invalid regular expression: " + pattern;
            svg.setAttribute("data-matched", "invalid");
            return;
        }
        var hits = frames.filter(function (f) { return re.test(f.name) || re.test(f.file); });
        frames.forEach(function (f) { f.rect.setAttribute("fill", f.fill); });
        hits.forEach(function (f) { f.rect.setAttribute("fill", highlight); });
        var n = coveredSockets(hits);
        matched.textContent = "Matched /" + pattern + "/: " + share(n);
        searchButton.textContent = "Reset search";
        svg.setAttribute("data-matched", String(n));
    }

    function resetSearch() {
        frames.forEach(function (f) { f.rect.setAttribute("fill", f.fill); });
        matched.textContent = "";
        searchButton.textContent = "Search";
        svg.removeAttribute("data-matched");
    }

    function askSearch() {
        var pattern = window.prompt("Highlight frames matching (regular expression):", "");
        if (pattern) search(pattern);
    }

    function frameOf(target) {
        var g = target && target.closest ? target.closest("#frames > g") : null;
        return g ? byId[g.id] : null;
    }

    var graph = document.getElementById("frames");
    graph.addEventListener("mouseover", function (e) {
        var f = frameOf(e.target);
        if (f) details.textContent = f.tip;
    });
    graph.addEventListener("mouseout", function () { details.textContent = hint; });
    graph.addEventListener("click", function (e) {
        var f = frameOf(e.target);
        if (f) zoom(f.d === 0 ? null : f);
    });
    unzoomButton.addEventListener("click", function () { zoom(null); });
    searchButton.addEventListener("click", function () {
        if (svg.hasAttribute("data-matched")) resetSearch();
        else askSearch();
    });
    window.addEventListener("keydown", function (e) {
        if ((e.ctrlKey || e.metaKey) && e.key === "f") {
            e.preventDefault();
            askSearch();
        } else if (e.key === "Escape") {
            zoom(null);
            resetSearch();
        }
    });

    zoom(null);
    var wanted = new URLSearchParams(window.location.hash.slice(1));
    if (wanted.get("zoom") && byId[wanted.get("zoom")]) zoom(byId[wanted.get("zoom")]);
    if (wanted.get("search")) search(wanted.get("search"));
    svg.setAttribute("data-frames", String(frames.length));
})();
