/* svg.h: small line and scatter plots as standalone SVG files (no plotting
 * dependency): title, axes with "nice" ticks and grid lines, axis labels and
 * a legend. Enough for ROC curves, score scatters and recall@k curves. */
#ifndef SS_SVG_H
#define SS_SVG_H

#include <stddef.h>

typedef struct ss__plot ss__plot;

enum {
    SS__PLOT_LINE = 1,    /* connect the points */
    SS__PLOT_POINTS = 2,  /* draw a dot at each point */
    SS__PLOT_DASHED = 4,  /* dashed line */
    SS__PLOT_GRAY = 8     /* gray instead of the next palette color (reference lines) */
};

enum { SS__LEGEND_LOWER_RIGHT = 0, SS__LEGEND_UPPER_LEFT, SS__LEGEND_UPPER_RIGHT, SS__LEGEND_LOWER_LEFT };

int ss__plot_new(const char *title, const char *xlabel, const char *ylabel, ss__plot **out);
void ss__plot_free(ss__plot *p);
/* Fixed axis ranges (default: the data's range widened to round ticks). */
void ss__plot_xrange(ss__plot *p, double lo, double hi);
void ss__plot_yrange(ss__plot *p, double lo, double hi);
void ss__plot_legend(ss__plot *p, int where);
/* x ticks at multiples of step instead of automatic ones (0: automatic). */
void ss__plot_xstep(ss__plot *p, double step);
/* Adds a series (the data is copied); style is SS__PLOT_* flags. Non-finite
 * points are an error. */
int ss__plot_add(ss__plot *p, const char *label, const double *x, const double *y, size_t n,
                 int style);
/* The SVG document (NUL-terminated, released with ss_free). */
int ss__plot_svg(const ss__plot *p, char **svg, size_t *len);
/* Writes the SVG to path atomically. */
int ss__plot_write(const ss__plot *p, const char *path);

/* Round tick positions covering [lo, hi] with about `target` intervals:
 * steps of 1, 2 or 5 times a power of ten. *first is the first tick >= lo. */
void ss__nice_ticks(double lo, double hi, int target, double *first, double *step, int *count);

#endif
