/* svg.c: plots written as SVG text. Coordinates are printed with 2
 * decimals; the plot area is clipped so that a series outside a fixed
 * range cannot draw over the axes or the legend. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "eval/svg.h"
#include "base/textio.h"

typedef struct {
    char *label;
    double *x, *y;
    size_t n;
    int style;
    const char *color;
} series;

struct ss__plot {
    char *title, *xlabel, *ylabel;
    int fixed_x, fixed_y, legend;
    double x0, x1, y0, y1;
    double xstep; /* > 0: x ticks at multiples of it */
    series *s;
    size_t ns;
};

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
#define GRAY "#7f7f7f"

/* geometry of the picture, in pixels */
enum { W = 640, H = 480, ML = 72, MR = 24, MT = 44, MB = 58 };

int ss__plot_new(const char *title, const char *xlabel, const char *ylabel, ss__plot **out)
{
    *out = NULL;
    ss__plot *p = ss__calloc(1, sizeof *p);
    if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
    p->title = ss__strdup(title ? title : "");
    p->xlabel = ss__strdup(xlabel ? xlabel : "");
    p->ylabel = ss__strdup(ylabel ? ylabel : "");
    if (!p->title || !p->xlabel || !p->ylabel) {
        ss__plot_free(p);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    *out = p;
    return SS_OK;
}

void ss__plot_free(ss__plot *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->ns; i++) {
        ss_free(p->s[i].label);
        ss_free(p->s[i].x);
        ss_free(p->s[i].y);
    }
    ss_free(p->s);
    ss_free(p->title);
    ss_free(p->xlabel);
    ss_free(p->ylabel);
    ss_free(p);
}

void ss__plot_xrange(ss__plot *p, double lo, double hi)
{
    p->fixed_x = 1;
    p->x0 = lo;
    p->x1 = hi;
}

void ss__plot_yrange(ss__plot *p, double lo, double hi)
{
    p->fixed_y = 1;
    p->y0 = lo;
    p->y1 = hi;
}

void ss__plot_legend(ss__plot *p, int where) { p->legend = where; }

void ss__plot_xstep(ss__plot *p, double step) { p->xstep = step > 0 ? step : 0; }

int ss__plot_add(ss__plot *p, const char *label, const double *x, const double *y, size_t n, int style)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return ss__fail(SS_ERR_NUMERIC, "plot '%s': point %zu is not finite", label ? label : "", i);
    series *ns = ss__realloc(p->s, (p->ns + 1) * sizeof *ns);
    if (!ns) return ss__fail(SS_ERR_NOMEM, "out of memory");
    p->s = ns;
    series *s = &p->s[p->ns];
    memset(s, 0, sizeof *s);
    s->label = ss__strdup(label ? label : "");
    s->x = ss__malloc((n ? n : 1) * sizeof *s->x);
    s->y = ss__malloc((n ? n : 1) * sizeof *s->y);
    if (!s->label || !s->x || !s->y) {
        ss_free(s->label);
        ss_free(s->x);
        ss_free(s->y);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (n) {
        memcpy(s->x, x, n * sizeof *x);
        memcpy(s->y, y, n * sizeof *y);
    }
    s->n = n;
    s->style = style ? style : SS__PLOT_LINE;
    if (style & SS__PLOT_GRAY) s->color = GRAY;
    else {
        size_t used = 0;
        for (size_t i = 0; i < p->ns; i++) used += !(p->s[i].style & SS__PLOT_GRAY);
        s->color = palette[used % (sizeof palette / sizeof *palette)];
    }
    p->ns++;
    return SS_OK;
}

void ss__nice_ticks(double lo, double hi, int target, double *first, double *step, int *count)
{
    if (!(hi > lo)) hi = lo + 1;
    if (target < 1) target = 1;
    double raw = (hi - lo) / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    double st = nice * mag;
    double t0 = ceil(lo / st - 1e-9) * st;
    int c = 0;
    while (t0 + c * st <= hi + st * 1e-9) c++;
    *first = t0;
    *step = st;
    *count = c;
}

/* The data range of a coordinate widened to round ticks. */
static void auto_range(const ss__plot *p, int yaxis, double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < p->ns; i++)
        for (size_t j = 0; j < p->s[i].n; j++) {
            double v = yaxis ? p->s[i].y[j] : p->s[i].x[j];
            a = v < a ? v : a;
            b = v > b ? v : b;
        }
    if (!(a <= b)) a = 0, b = 1;
    if (a == b) a -= 0.5, b += 0.5;
    double t0, st;
    int c;
    ss__nice_ticks(a, b, 5, &t0, &st, &c);
    *lo = floor(a / st + 1e-9) * st;
    *hi = ceil(b / st - 1e-9) * st;
}

/* ------------------------------------------------------------ text output */

typedef struct {
    char *b;
    size_t n, cap;
    int err;
} sbuf;

static void put(sbuf *s, const char *fmt, ...) SS_PRINTF(2, 3);
static void put(sbuf *s, const char *fmt, ...)
{
    if (s->err) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->b ? s->b + s->n : NULL, s->b ? s->cap - s->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
        s->err = SS_ERR;
        return;
    }
    if (!s->b || s->n + (size_t)k + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 8192;
        while (nc < s->n + (size_t)k + 1) nc *= 2;
        char *q = ss__realloc(s->b, nc);
        if (!q) {
            s->err = SS_ERR_NOMEM;
            return;
        }
        s->b = q;
        s->cap = nc;
        va_start(ap, fmt);
        vsnprintf(s->b + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
    }
    s->n += (size_t)k;
}

/* Text content with &, <, >, " escaped. */
static void put_text(sbuf *s, const char *t)
{
    for (; *t; t++) {
        switch (*t) {
        case '&': put(s, "&amp;"); break;
        case '<': put(s, "&lt;"); break;
        case '>': put(s, "&gt;"); break;
        case '"': put(s, "&quot;"); break;
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*t < 0x20) put(s, " ");
            else put(s, "%c", *t);
        }
    }
}

static size_t utf8_chars(const char *t)
{
    size_t n = 0;
    for (; *t; t++) n += ((unsigned char)*t & 0xC0) != 0x80;
    return n;
}

/* Tick label: as many decimals as the step needs. */
static void tick_label(char *buf, size_t cap, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 10) dec = 10;
    if (fabs(v) < step * 1e-9) v = 0; /* no "-0.0" */
    snprintf(buf, cap, "%.*f", dec, v);
}

int ss__plot_svg(const ss__plot *p, char **svg, size_t *len)
{
    *svg = NULL;
    double x0 = p->x0, x1 = p->x1, y0 = p->y0, y1 = p->y1;
    if (!p->fixed_x) auto_range(p, 0, &x0, &x1);
    if (!p->fixed_y) auto_range(p, 1, &y0, &y1);
    if (!(x1 > x0) || !(y1 > y0)) return ss__fail(SS_ERR_RANGE, "plot: empty axis range");
    const double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v) - y0) / (y1 - y0) * ph)
    sbuf s = {0};
    char lab[64];
    put(&s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
        W, H, W, H);
    put(&s, "<title>");
    put_text(&s, p->title);
    put(&s, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    put(&s, "<defs><clipPath id=\"area\"><rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\"/></clipPath></defs>\n",
        ML, MT, pw, ph);

    /* grid and ticks */
    double t0, st;
    int c;
    ss__nice_ticks(x0, x1, 5, &t0, &st, &c);
    if (p->xstep > 0 && (x1 - x0) / p->xstep <= 50) {
        st = p->xstep;
        t0 = ceil(x0 / st - 1e-9) * st;
        c = (int)floor((x1 - t0) / st + 1e-9) + 1;
    }
    put(&s, "<g font-size=\"12\" fill=\"#333\" text-anchor=\"middle\">\n");
    for (int i = 0; i < c; i++) {
        double v = t0 + i * st, x = PX(v);
        tick_label(lab, sizeof lab, v, st);
        put(&s, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>", x, MT, x, MT + ph);
        put(&s, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#333\"/>", x, MT + ph, x, MT + ph + 5);
        put(&s, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", x, MT + ph + 19, lab);
    }
    put(&s, "</g>\n<g font-size=\"12\" fill=\"#333\" text-anchor=\"end\">\n");
    ss__nice_ticks(y0, y1, 5, &t0, &st, &c);
    for (int i = 0; i < c; i++) {
        double v = t0 + i * st, y = PY(v);
        tick_label(lab, sizeof lab, v, st);
        put(&s, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>", ML, y, ML + pw, y);
        put(&s, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#333\"/>", ML - 5, y, ML, y);
        put(&s, "<text x=\"%d\" y=\"%.2f\">%s</text>\n", ML - 8, y + 4, lab);
    }
    put(&s, "</g>\n");

    /* series, clipped to the plot area */
    put(&s, "<g clip-path=\"url(#area)\" fill=\"none\">\n");
    for (size_t i = 0; i < p->ns; i++) {
        const series *e = &p->s[i];
        if ((e->style & SS__PLOT_LINE) && e->n > 0) {
            put(&s, "<polyline stroke=\"%s\" stroke-width=\"2\"%s stroke-linejoin=\"round\" points=\"",
                e->color, e->style & SS__PLOT_DASHED ? " stroke-dasharray=\"6,4\"" : "");
            for (size_t j = 0; j < e->n; j++)
                put(&s, "%s%.2f,%.2f", j ? " " : "", PX(e->x[j]), PY(e->y[j]));
            put(&s, "\"/>\n");
        }
        if (e->style & SS__PLOT_POINTS) {
            int scatter = !(e->style & SS__PLOT_LINE);
            put(&s, "<g fill=\"%s\"%s>", e->color, scatter ? " fill-opacity=\"0.45\"" : "");
            for (size_t j = 0; j < e->n; j++)
                put(&s, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%s\"/>", PX(e->x[j]), PY(e->y[j]),
                    scatter ? "2.2" : "3.5");
            put(&s, "</g>\n");
        }
    }
    put(&s, "</g>\n");

    /* frame, title, axis labels */
    put(&s, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n", ML, MT, pw, ph);
    put(&s, "<text x=\"%.1f\" y=\"26\" font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\">", ML + pw / 2);
    put_text(&s, p->title);
    put(&s, "</text>\n<text x=\"%.1f\" y=\"%d\" font-size=\"14\" text-anchor=\"middle\">", ML + pw / 2, H - 14);
    put_text(&s, p->xlabel);
    put(&s, "</text>\n<text transform=\"translate(20,%.1f) rotate(-90)\" font-size=\"14\" text-anchor=\"middle\">",
        MT + ph / 2);
    put_text(&s, p->ylabel);
    put(&s, "</text>\n");

    /* legend */
    size_t nl = 0, maxc = 0;
    for (size_t i = 0; i < p->ns; i++)
        if (p->s[i].label[0]) nl++, maxc = SS_MAX(maxc, utf8_chars(p->s[i].label));
    if (nl) {
        double lw = 44 + 7.0 * (double)maxc, lh = 10 + 20.0 * (double)nl;
        int right = p->legend == SS__LEGEND_LOWER_RIGHT || p->legend == SS__LEGEND_UPPER_RIGHT;
        int lower = p->legend == SS__LEGEND_LOWER_RIGHT || p->legend == SS__LEGEND_LOWER_LEFT;
        double lx = right ? ML + pw - lw - 10 : ML + 10, ly = lower ? MT + ph - lh - 10 : MT + 10;
        put(&s, "<g font-size=\"12\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"white\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n", lx, ly, lw, lh);
        size_t k = 0;
        for (size_t i = 0; i < p->ns; i++) {
            const series *e = &p->s[i];
            if (!e->label[0]) continue;
            double yy = ly + 15 + 20.0 * (double)k++;
            if (e->style & SS__PLOT_LINE)
                put(&s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>",
                    lx + 8, yy, lx + 32, yy, e->color,
                    e->style & SS__PLOT_DASHED ? " stroke-dasharray=\"6,4\"" : "");
            if (e->style & SS__PLOT_POINTS)
                put(&s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>", lx + 20, yy, e->color);
            put(&s, "<text x=\"%.1f\" y=\"%.1f\">", lx + 38, yy + 4);
            put_text(&s, e->label);
            put(&s, "</text>\n");
        }
        put(&s, "</g>\n");
    }
    put(&s, "</svg>\n");
#undef PX
#undef PY
    if (s.err) {
        ss_free(s.b);
        return ss__fail(s.err == SS_ERR_NOMEM ? SS_ERR_NOMEM : SS_ERR, "plot: cannot format the SVG");
    }
    *svg = s.b;
    if (len) *len = s.n;
    return SS_OK;
}

int ss__plot_write(const ss__plot *p, const char *path)
{
    char *svg;
    size_t n;
    int rc = ss__plot_svg(p, &svg, &n);
    if (rc) return rc;
    rc = ss__write_file_atomic(path, svg, n);
    ss_free(svg);
    return rc;
}
