// CFITSIO. Its long names (fits_open_file, …) are macros Swift cannot import;
// Swift calls the short names (ffinit, ffgpv, …) and these inline wrappers.
#include <fitsio.h>

static inline int tweedie_fits_open_file(fitsfile **fptr, const char *filename, int mode, int *status) {
    return fits_open_file(fptr, filename, mode, status);
}
static inline int tweedie_fits_open_diskfile(fitsfile **fptr, const char *filename, int mode, int *status) {
    return fits_open_diskfile(fptr, filename, mode, status);
}
static inline int tweedie_fits_create_diskfile(fitsfile **fptr, const char *filename, int *status) {
    return fits_create_diskfile(fptr, filename, status);
}
