// wcslib (Debian wcslib-dev, headers in /usr/include/wcslib): the FITS WCS
// library that ds9 and astropy use. Swift calls wcspih / wcsset / wcsp2s /
// wcss2p / wcssub / wcsfree directly; these inline helpers read the wcsprm
// fields that import as fixed-size C arrays (awkward from Swift).
#include <wcslib/wcslib.h>
#include <wcslib/wcshdr.h>
#include <wcslib/wcsfix.h>
#include <stdlib.h>

/// A zeroed wcsprm ready for wcssub (flag = -1: nothing to free yet).
static inline struct wcsprm *tweedie_wcs_alloc(void) {
    struct wcsprm *w = (struct wcsprm *)calloc(1, sizeof(struct wcsprm));
    if (w) w->flag = -1;
    return w;
}
/// Frees what wcssub allocated and the struct itself.
static inline void tweedie_wcs_release(struct wcsprm *w) {
    if (w) { wcsfree(w); free(w); }
}
/// The i-th element of the wcsprm at index i of an array from wcspih.
static inline struct wcsprm *tweedie_wcs_at(struct wcsprm *array, int i) { return array + i; }
/// CTYPEi (0-based axis), NUL-terminated.
static inline const char *tweedie_wcs_ctype(const struct wcsprm *w, int i) { return w->ctype[i]; }
/// CUNITi (0-based axis), NUL-terminated.
static inline const char *tweedie_wcs_cunit(const struct wcsprm *w, int i) { return w->cunit[i]; }
/// RADESYS as wcsset resolved it (ICRS / FK5 / FK4 / …; blank for a non-celestial WCS).
static inline const char *tweedie_wcs_radesys(const struct wcsprm *w) { return w->radesys; }
/// Element (i, j) of the pixel → intermediate-world matrix PCi_j·CDELTi, valid after wcsset (which
/// turns CDi_j into PC with unit CDELT and CROTAi into PC); lin.piximg is not allocated for a unit PC.
static inline double tweedie_wcs_piximg(const struct wcsprm *w, int i, int j) { return w->pc[i * w->naxis + j] * w->cdelt[i]; }
/// wcslib's message for a wcsset / wcsp2s / wcss2p status code.
static inline const char *tweedie_wcs_errmsg(int status) {
    return (status >= 0 && status <= WCSERR_BAD_WORLD_COORD) ? wcs_errmsg[status] : "unknown wcslib error";
}
#include <string.h>
/// wcslib's datfix on a date alone: `dateobs_in` (DATE-OBS in any form wcslib knows, including
/// the old DD/MM/YY) to ISO 8601 in `dateobs_out` (72 bytes) and MJD-OBS in `mjdobs`
/// (UNDEFINED when it cannot). Returns datfix's status: -1 nothing changed, 0 fixed, > 0 error.
static inline int tweedie_datfix(const char *dateobs_in, char *dateobs_out, double *mjdobs) {
    struct wcsprm w;
    memset(&w, 0, sizeof w);
    w.flag = -1;
    if (wcsini(1, 1, &w)) return 1;
    strncpy(w.dateobs, dateobs_in, 71);
    w.dateobs[71] = '\0';
    int status = datfix(&w);
    strncpy(dateobs_out, w.dateobs, 71);
    dateobs_out[71] = '\0';
    *mjdobs = w.mjdobs;
    wcsfree(&w);
    return status;
}
