// cairo (Debian libcairo2-dev): image surfaces, vector drawing, the toy text API
// (cairo_select_font_face / cairo_show_text, fonts found through fontconfig) and PNG output.
#include <cairo/cairo.h>
